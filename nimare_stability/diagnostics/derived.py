"""New MetaResults built from a caller's, which is never modified."""

import copy
import logging
import re
from functools import lru_cache
from importlib import resources

#: NiMARE's logger that reports citations missing from NiMARE's own BibTeX file.
_CITATION_LOGGER = "nimare.utils"


def derived_result(result, diagnostic, maps=None, tables=None, description=None):
    """Return a new result with ``result``'s outputs plus ``maps`` and ``tables``.

    The estimator, corrector and masker are shared (nothing here modifies them); the maps,
    tables, diagnostics and metadata containers are new. ``description`` is appended to
    the boilerplate; its citations of this package's references join ``bibtex_`` unless
    NiMARE's own bibliography already holds them.
    """
    new = copy.copy(result)
    new.maps = {**result.maps, **(maps or {})}
    new.tables = {**result.tables, **(tables or {})}
    new.diagnostics = [*result.diagnostics, diagnostic]
    new.metadata = dict(getattr(result, "metadata", {}))
    if description:
        ours = references()
        cited = [key for key in re.findall(r"\\cite\w*\{([^}]+)\}", description) if key in ours]
        quiet = _DropMissing(cited)
        logger = logging.getLogger(_CITATION_LOGGER)
        logger.addFilter(quiet)
        try:
            new.description_ = f"{result.description_} {description}"
        finally:
            logger.removeFilter(quiet)
        missing = [key for key in dict.fromkeys(cited) if f"{{{key}," not in new.bibtex_]
        new.bibtex_ = "\n".join([new.bibtex_, *(ours[key] for key in missing)]).strip()
    return new


@lru_cache(maxsize=1)
def references():
    """Return the BibTeX entries of ``references.bib`` (this package), by citation key."""
    text = (resources.files("nimare_stability") / "references.bib").read_text()
    entries = re.split(r"\n(?=@)", text.strip())
    return {re.match(r"@\w+\{([^,]+),", entry)[1]: entry.strip() for entry in entries}


class _DropMissing(logging.Filter):
    """Drop NiMARE's "Citation <key> not found." for the keys this package cites."""

    def __init__(self, keys):
        super().__init__()
        self.messages = {f"Citation {key} not found." for key in keys}

    def filter(self, record):
        return record.getMessage() not in self.messages
