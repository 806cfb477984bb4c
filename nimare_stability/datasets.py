"""Studysets that ship with NiMARE, ready for ALE.

- :func:`load_pain`: 21 pain analyses, one per study, with sample sizes.
- :func:`load_nback_flanker`: the n-back or the flanker analyses of NiMARE's
  ``nback_vs_flanker_studyset_2026-07`` (NeuroStore, July 2026), with per-analysis sample
  sizes read from its demographics annotations. Several analyses come from one study:
  the real case for grouped policies (``groups="study"``).
"""

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from nimare_stability.core.validation import check_choice

LGR = logging.getLogger(__name__)

NBACK_FLANKER = "nback_vs_flanker_studyset_2026-07"
#: Task of :func:`load_nback_flanker` -> its regex's key in ``selection_summary.json``.
TASKS = {"nback": "nback_regex", "flanker": "flanker_regex"}
SAMPLE_SIZES = ("first", "total")
MISSING = ("drop", "raise")
_COUNT_COLUMN = re.compile(r"ParticipantDemographicsExtractor\.groups\[(\d+)\]\.count")


def _resource(name):
    from nimare.utils import get_resource_path

    return Path(get_resource_path()) / name


def load_pain():
    """Load NiMARE's bundled pain studyset (``nidm_pain_studyset.json``).

    Returns
    -------
    :class:`nimare.nimads.Studyset`
        21 analyses from 21 studies, 267 foci, each analysis with its sample size.
    """
    from nimare.nimads import Studyset

    return Studyset(str(_resource("nidm_pain_studyset.json")))


def load_nback_flanker(task="nback", sample_size="first", missing="drop"):
    """Load the n-back or flanker analyses of NiMARE's bundled NeuroStore studyset.

    An analysis belongs to a task when one of its annotation columns ending in
    ``TaskName`` matches that task's regex in the set's ``selection_summary.json``
    (case-insensitive; no analysis matches both): 500 n-back analyses from 205 studies,
    406 flanker analyses from 115.

    Parameters
    ----------
    task : {"nback", "flanker"}, default="nback"
    sample_size : {"first", "total"}, default="first"
        The ``sample_size`` metadata ALE's kernel reads, from the annotations
        ``ParticipantDemographicsExtractor.groups[i].count``: ``"first"`` takes the first
        participant group's count (``groups[0]``), ``"total"`` sums every group's count.
        The two analyses whose metadata already hold ``sample_sizes`` keep them (NiMARE's
        kernel reads those first).
    missing : {"drop", "raise"}, default="drop"
        What to do with analyses that have no positive count there: leave them out (the
        number left out is logged; 6 of 500 n-back analyses) or raise a ValueError. A
        constant sample size is never substituted.

    Returns
    -------
    :class:`nimare.nimads.Studyset`
        The task's analyses with a ``sample_size`` per analysis.

    Raises
    ------
    ImportError
        When pyarrow (the ``parquet`` extra) is not installed.
    """
    check_choice("task", task, tuple(TASKS))
    check_choice("sample_size", sample_size, SAMPLE_SIZES)
    check_choice("missing", missing, MISSING)
    studyset = _read_parquet(_resource(NBACK_FLANKER))
    annotations = studyset.annotations_df.set_index("id").loc[list(studyset.ids)]
    sizes = _sample_sizes(annotations, sample_size)
    on_task = _task_mask(annotations, task)
    absent = on_task & np.isnan(sizes)
    if absent.any():
        message = (
            f"{int(absent.sum())} of {int(on_task.sum())} {task} analyses report no participant "
            f"count ({', '.join(annotations.index[absent][:5])}, ...)"
        )
        if missing == "raise":
            raise ValueError(f"{message}; pass missing='drop' to leave them out.")
        LGR.warning(f"{message}: left out.")
    keep = on_task & ~absent
    # with_metadata takes one value per analysis of the whole set, in ids order.
    values = [float(size) if ok else None for size, ok in zip(sizes, keep)]
    return studyset.with_metadata("sample_size", values).slice(list(annotations.index[keep]))


def _read_parquet(path):
    try:
        import pyarrow  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"Reading {path.name} needs pyarrow; install the parquet extra: "
            "pip install 'nimare-stability[parquet]'."
        ) from error
    from nimare.nimads import Studyset

    return Studyset(path)


def _sample_sizes(annotations, how):
    """Per-analysis participant count (NaN where none is reported)."""
    columns = sorted(
        (int(match[1]), column)
        for column in annotations.columns
        if (match := _COUNT_COLUMN.fullmatch(column))
    )
    counts = annotations[[column for _, column in columns]].apply(pd.to_numeric, errors="coerce")
    counts = counts.where(counts > 0).to_numpy(dtype=float)
    if how == "first":
        return counts[:, 0]
    total = np.nansum(counts, axis=1)
    return np.where(np.isnan(counts).all(axis=1), np.nan, total)


def _task_mask(annotations, task):
    """Mark the analyses whose task names match ``task``'s regex."""
    with open(_resource(NBACK_FLANKER) / "selection_summary.json") as handle:
        regex = json.load(handle)["matching"][TASKS[task]]
    names = annotations[[c for c in annotations.columns if c.endswith("TaskName")]]
    text = names.apply(lambda row: " | ".join(v for v in row if isinstance(v, str)), axis=1)
    return text.str.contains(regex, flags=re.IGNORECASE, regex=True).to_numpy()
