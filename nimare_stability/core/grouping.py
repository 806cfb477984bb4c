"""Resolve ``groups`` and ``strata`` to one label per analysis.

A spec is ``"study"`` (the Studyset study of each analysis), a metadata or annotation column
name, or a mapping from analysis id to label.
"""

from collections.abc import Mapping

import numpy as np


def analysis_labels(spec, parameter, analyses):
    """Return one label per id in ``ids``, or None when ``spec`` is None.

    Parameters
    ----------
    spec : None, str or mapping
    parameter : str
        ``"groups"`` or ``"strata"``, for error messages.
    analyses : :class:`~nimare_stability.core.analyses.AnalysisSet`

    Returns
    -------
    ndarray of object or None
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        lookup = dict(spec)
    elif isinstance(spec, str):
        lookup = _column_lookup(spec, parameter, analyses)
    else:
        raise TypeError(
            f"{parameter}={spec!r} is not accepted; accepted: None, 'study', a metadata or "
            "annotation column name, or a mapping from analysis id to label."
        )
    ids = analyses.ids
    missing = [id_ for id_ in ids if _is_missing(lookup.get(id_))]
    if missing:
        raise ValueError(
            f"{parameter}={describe(spec)} gives no label for {len(missing)} analyses "
            f"(e.g. {', '.join(map(str, missing[:5]))}); every analysis needs one."
        )
    labels = np.empty(len(ids), dtype=object)  # filled one by one: tuples stay labels
    for position, id_ in enumerate(ids):
        labels[position] = lookup[id_]
    return labels


def _column_lookup(column, parameter, analyses):
    if column == "study":
        return analyses.study_of()
    frames = analyses.frames()
    for frame in frames:
        if column in frame.columns and column != "id":
            return _hashable(dict(zip(frame["id"], frame[column])))
    available = sorted({c for frame in frames for c in frame.columns} - {"id"})
    raise ValueError(
        f"{parameter}={column!r} is neither 'study' nor a metadata or annotation column; "
        f"available columns: {', '.join(available)}."
    )


def _hashable(lookup):
    """Turn lists (e.g. ``sample_sizes``) into tuples, so they can label a group."""
    return {k: tuple(v) if isinstance(v, (list, np.ndarray)) else v for k, v in lookup.items()}


def _is_missing(label):
    return label is None or (isinstance(label, float) and np.isnan(label))


def describe(spec):
    """Return a short ``repr`` of a groups or strata spec, for messages."""
    return repr(spec) if isinstance(spec, str) else f"<mapping of {len(spec)} ids>"
