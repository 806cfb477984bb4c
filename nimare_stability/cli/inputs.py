"""The command line's inputs: a studyset read from files, and what was read.

:func:`load` reads a NiMARE JSON studyset, a NiMARE parquet studyset directory or Sleuth
text files (see :mod:`~nimare_stability.cli.sleuth`) and returns, beside the studyset, an
:class:`InputSummary`: files, analyses, foci, participants, space, the foci left out and
why, and one row per analysis with the file it came from. Nothing is dropped silently:
foci without finite coordinates are left out and counted; foci outside the brain mask and
foci repeated within an analysis are kept and counted; a file none of whose foci lies
inside the brain mask is refused.
"""

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nimare_stability.cli import sleuth
from nimare_stability.core._nimare_private import mask_to_bool

#: The per-analysis table :func:`write_table` writes to the output folder.
TABLE_NAME = "analyses.tsv"
COLUMNS = ("id", "study_id", "source_file", "foci", "sample_size", "outside_mask", "repeated")
#: How many renamed analyses a note lists before "... (n in all)".
SHOWN = 3


@dataclass(frozen=True)
class InputSummary:
    """What a loader read.

    Attributes
    ----------
    files : :obj:`tuple` of :obj:`str`
    analyses, foci : :obj:`int`
        Analyses and foci kept.
    participants : :obj:`int`
        Sum of the sample sizes of the analyses that have one (``known``); analyses of one
        study may share participants.
    known : :obj:`int`
        Analyses with a sample size.
    space : :obj:`str`
        The studyset's template space.
    dropped : :obj:`tuple` of (:obj:`int`, :obj:`str`)
        Foci left out: how many, and why.
    notes : :obj:`tuple` of :obj:`str`
        Renamed analyses, foci outside the brain mask, repeated foci.
    table : :class:`pandas.DataFrame`
        One row per analysis, columns :data:`COLUMNS`.
    """

    files: tuple
    analyses: int
    foci: int
    participants: int
    known: int
    space: str
    dropped: tuple
    notes: tuple
    table: pd.DataFrame

    def describe(self):
        """One line: what was read."""
        dropped = ", ".join(f"{_foci(n)} ({why})" for n, why in self.dropped) or "none"
        return (
            f"Read {', '.join(self.files)}: {self.analyses} analyses, {_foci(self.foci)}, "
            f"{self.participants} participants (sum of {self.known} sample sizes), "
            f"space {self.space}; dropped: {dropped}."
        )

    def per_file(self):
        """One line per file: its analyses and foci."""
        counts = self.table.groupby("source_file", sort=False)["foci"].agg(["size", "sum"])
        return [f"{file}: {n} analyses, {_foci(foci)}." for file, (n, foci) in counts.iterrows()]


def _foci(n):
    return f"{n} focus" if n == 1 else f"{n} foci"


def load(paths):
    """Read ``paths``; return the studyset and its :class:`InputSummary`.

    Several paths must all be Sleuth text files (``.txt``); their experiments are all kept.

    Raises
    ------
    ValueError
        A path that does not exist, cannot be read, holds no foci, or whose foci all lie
        outside the brain mask; one line naming the file.
    """
    paths = [Path(path) for path in paths]
    for path in paths:
        if not path.exists():
            raise ValueError(f"STUDYSET={str(path)!r} does not exist.")
    if all(path.is_file() and path.suffix.lower() == ".txt" for path in paths):
        studyset, sources, notes = _read_sleuth(paths)
        listed = None
    elif len(paths) == 1 and (paths[0].is_dir() or paths[0].suffix.lower() == ".json"):
        studyset, listed = _read_nimads(paths[0])
        sources, notes = dict.fromkeys(studyset.ids, str(paths[0])), []
    else:
        raise ValueError(
            f"STUDYSET={' '.join(map(str, paths))!r} is not accepted; accepted: one NiMARE JSON "
            "studyset (.json), one NiMARE parquet studyset directory, or Sleuth text files (.txt)."
        )
    studyset, dropped = _drop_unusable(studyset, listed)
    if studyset.coordinates.empty:
        raise ValueError(
            f"STUDYSET={' '.join(map(str, paths))!r} has no foci; accepted: a coordinate-based "
            "studyset."
        )
    table = _table(studyset, sources)
    _check_mask(table, studyset.space)
    notes += _foci_notes(table, studyset.space)
    known = table["sample_size"].notna()
    summary = InputSummary(
        files=tuple(map(str, paths)),
        analyses=len(table),
        foci=int(table["foci"].sum()),
        participants=int(table.loc[known, "sample_size"].sum()),
        known=int(known.sum()),
        space=str(studyset.space),
        dropped=tuple(dropped),
        notes=tuple(notes),
        table=table,
    )
    return studyset, summary


def combine(first, second, groups):
    """Join the :class:`InputSummary` of a contrast's two groups.

    The table gains a ``group`` column (``groups``: the two groups' names).

    Raises
    ------
    ValueError
        When the groups are in different template spaces.
    """
    if first.space != second.space:
        raise ValueError(
            f"--group2 is in space {second.space!r}, --group1 in {first.space!r}; accepted: "
            "two groups in one template space."
        )
    tables = [summary.table.assign(group=name) for summary, name in zip((first, second), groups)]
    return InputSummary(
        files=first.files + second.files,
        analyses=first.analyses + second.analyses,
        foci=first.foci + second.foci,
        participants=first.participants + second.participants,
        known=first.known + second.known,
        space=first.space,
        dropped=first.dropped + second.dropped,
        notes=first.notes + second.notes,
        table=pd.concat(tables, ignore_index=True),
    )


def write_table(summary, output_dir):
    """Write ``summary.table`` as :data:`TABLE_NAME` in ``output_dir``; return its path."""
    path = Path(output_dir) / TABLE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    summary.table.to_csv(path, sep="\t", index=False)
    return path


def _read_sleuth(paths):
    from nimare.dataset import Dataset
    from nimare.nimads import Studyset

    experiments, renamed = sleuth.read_files(paths)
    # As nimare.io.convert_sleuth_to_studyset: a Dataset on the ALE template (Talairach
    # foci moved to MNI), then a Studyset; the Dataset is only a step, its notice is not.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*nimare.dataset.Dataset is deprecated")
        dataset = Dataset(sleuth.to_nimare_dict(experiments), target="ale_2mm")
        studyset = Studyset.from_dataset(dataset)
    sources = {e.id: str(e.file) for e in experiments}
    notes = []
    if renamed:
        shown = ", ".join(f"{old} -> {new}" for old, new in renamed[:SHOWN])
        more = f", ... ({len(renamed)} in all)" if len(renamed) > SHOWN else ""
        notes.append(
            f"{len(renamed)} analyses share their study and experiment names with another: "
            f"renamed after their file (and line where a file repeats them), study ids kept "
            f"({shown}{more})."
        )
    return studyset, sources, notes


def _read_nimads(path):
    """Read a NiMARE studyset; return it and, for JSON, how many foci the file lists."""
    from nimare.nimads import Studyset

    kind = "parquet studyset directory" if path.is_dir() else "JSON studyset"
    try:
        if path.is_dir():
            return Studyset(str(path)), None
        document = json.loads(path.read_text(encoding="utf-8-sig"))
        studyset = Studyset(document)
        listed = sum(
            len(analysis.get("points") or [])
            for study in document["studies"]
            for analysis in study.get("analyses") or []
        )
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as error:
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"STUDYSET={str(path)!r} is not a NiMARE {kind}: {problem}") from None
    return studyset, listed


def _drop_unusable(studyset, listed):
    """Leave out foci without finite coordinates; count those NiMARE's reader left out."""
    dropped = []
    if listed is not None and listed > len(studyset.coordinates):
        dropped.append((listed - len(studyset.coordinates), "not read by NiMARE's reader"))
    finite = np.isfinite(studyset.coordinates[["x", "y", "z"]].to_numpy(float)).all(axis=1)
    if not finite.all():
        dropped.append((int((~finite).sum()), "no finite x, y, z"))
        studyset = studyset.select_points(finite).materialize_points()
    return studyset, dropped


def _table(studyset, sources):
    """One row per analysis: ids, source file, foci, sample size, foci outside the mask."""
    from nimare.utils import get_masker_mask_image, mm2vox

    _, mask_img = get_masker_mask_image(None, dataset=studyset)
    mask = mask_to_bool(mask_img)
    coordinates = studyset.coordinates
    ijk = mm2vox(coordinates[["x", "y", "z"]].to_numpy(float), mask_img.affine)
    on_grid = ((ijk >= 0) & (ijk < mask.shape)).all(axis=1)
    inside = np.zeros(len(ijk), dtype=bool)
    inside[on_grid] = mask[tuple(ijk[on_grid].T)]
    foci = coordinates.assign(
        outside_mask=~inside, repeated=coordinates.duplicated(["id", "x", "y", "z"]).to_numpy()
    ).groupby("id")
    ids = pd.Index(studyset.ids, name="id")
    study_ids = studyset.metadata.set_index("id")["study_id"]
    return pd.DataFrame(
        {
            "id": ids,
            "study_id": study_ids.reindex(ids).to_numpy(),
            "source_file": [sources[i] for i in ids],
            "foci": foci.size().reindex(ids, fill_value=0).to_numpy(),
            "sample_size": _sample_sizes(studyset),
            "outside_mask": foci["outside_mask"].sum().reindex(ids, fill_value=0).to_numpy(),
            "repeated": foci["repeated"].sum().reindex(ids, fill_value=0).to_numpy(),
        },
        columns=list(COLUMNS),
    )


def _sample_sizes(studyset):
    """Each analysis's sample size as NiMARE's estimators use it (the mean of its list)."""
    sizes = pd.array(np.asarray(studyset.sample_sizes(), dtype=float), dtype="Float64")
    whole = (sizes.fillna(0) % 1 == 0).all()
    return sizes.astype("Int64") if whole else sizes


def _check_mask(table, space):
    """Refuse a file none of whose foci lies inside the brain mask."""
    per_file = table.groupby("source_file", sort=False)[["foci", "outside_mask"]].sum()
    for file, (foci, outside) in per_file.iterrows():
        if outside == foci:
            raise ValueError(
                f"STUDYSET={file!r}: {foci} foci, none inside the brain mask ({space}); "
                "accepted: foci in millimetres, inside the brain."
            )


def _foci_notes(table, space):
    notes = []
    outside, repeated, total = (int(table[c].sum()) for c in ("outside_mask", "repeated", "foci"))
    if outside:
        notes.append(
            f"Foci outside the brain mask ({space}): {outside} of {total}, kept; only their "
            "kernels' part inside the mask counts (see analyses.tsv)."
        )
    if repeated:
        notes.append(
            f"Foci repeating another of the same analysis: {repeated}, kept; the ALE and MKDA "
            "kernels keep each voxel's largest value, so a repeat leaves their MA maps as "
            "they are; the KDA kernel counts it again (see analyses.tsv)."
        )
    return notes
