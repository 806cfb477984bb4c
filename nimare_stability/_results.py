"""New MetaResults built from a caller's, which is never modified."""

import copy


def derived_result(result, diagnostic, maps=None, tables=None, description=None):
    """Return a new result with ``result``'s outputs plus ``maps`` and ``tables``.

    The estimator, corrector and masker are shared (nothing here modifies them); the maps,
    tables, diagnostics and metadata containers are new.
    """
    new = copy.copy(result)
    new.maps = {**result.maps, **(maps or {})}
    new.tables = {**result.tables, **(tables or {})}
    new.diagnostics = [*result.diagnostics, diagnostic]
    new.metadata = dict(getattr(result, "metadata", {}))
    if description:
        new.description_ = f"{result.description_} {description}"
    return new
