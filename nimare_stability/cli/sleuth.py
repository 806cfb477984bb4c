"""Sleuth text files read line by line: every experiment kept, every fault named by line.

NiMARE's reader (:func:`nimare.io.convert_sleuth_to_dict`) folds experiments with the same
study and experiment names into one, across files and within a file, and fails deep inside
on an empty file, ``// Subjects=0`` or a byte-order mark. This one reads the same format --
a ``// Reference=`` line (MNI, TAL or Talairach), then experiments: ``//`` header lines, the
last ``// Subjects=N``, and one ``x y z`` focus per line -- saved as UTF-8 (with or without
a byte-order mark) or UTF-16, with any line endings, and names each experiment as NiMARE
does (study and experiment split at the first ``:`` or ``;`` after a year).

Every experiment needs ``// Subjects=N`` (a whole number > 0), whatever the estimator: the
format requires it, and NiMARE's reader refuses a file without it too.

Where the same analysis id (``<study>-<experiment>``) occurs more than once, each occurrence's
experiment name gets a suffix: ``@<file stem>`` when they come from different files,
``@L<line>`` (its first header line) when one file repeats them, both where both apply
(``Exp0@a:L12``). The study name stays: a study named alike in two files stays one study,
as NiMARE keeps it.
"""

import codecs
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

SPACES = ("MNI", "TAL", "Talairach")
_REFERENCE = re.compile(r"//\s*Reference\s*=\s*(.*)")
_SUBJECTS = re.compile(r"//\s*Subjects\s*=\s*(.*)")
_YEAR = re.compile(r"(19|20)\d{2}")


@dataclass(frozen=True)
class Experiment:
    """One experiment of a Sleuth file: its names, sample size and foci (n, 3), in mm."""

    file: Path
    line: int
    space: str
    study: str
    name: str
    sample_size: int
    foci: np.ndarray

    @property
    def id(self):
        """The analysis id NiMARE gives it: ``<study>-<experiment>``."""
        return f"{self.study}-{self.name}"


def read_files(paths):
    """Read Sleuth files; return every experiment, names made unique, and the renames.

    The renames are ``(old id, new id)`` pairs (see :func:`unique_names`).

    Raises
    ------
    ValueError
        A file given twice (same path or same content), or a fault of one file (named with
        its line).
    """
    seen = {}
    for path in paths:
        for key in (("path", path.resolve()), ("content", _digest(path))):
            if key in seen:
                raise ValueError(
                    f"Sleuth file {str(path)!r} is the same file as {str(seen[key])!r} "
                    f"(same {key[0]}); give each file once."
                )
            seen[key] = path
    experiments = [experiment for path in paths for experiment in read(path)]
    return unique_names(experiments, _labels(paths))


def read(path):
    """Read one Sleuth file into its :class:`Experiment` list, in file order."""
    lines = _lines(path)
    if not lines:
        raise ValueError(
            f"Sleuth file {str(path)!r} is empty; accepted: a '// Reference=MNI' (or TAL, "
            "Talairach) line, then experiments."
        )
    number, text = lines[0]
    match = _REFERENCE.fullmatch(text)
    space = match.group(1).replace(" ", "") if match else None
    if space not in SPACES:
        raise ValueError(
            f"Sleuth file {str(path)!r}, line {number}: {text!r} is not accepted; accepted: "
            f"a first line '// Reference=SPACE', SPACE one of {', '.join(SPACES)}."
        )
    if len(lines) == 1:
        raise ValueError(f"Sleuth file {str(path)!r} has no experiment after line {number}.")
    return [_experiment(path, space, block) for block in _blocks(path, lines[1:])]


def unique_names(experiments, labels):
    """Suffix the names shared by several experiments (see the module's docstring).

    ``labels`` maps each file to the label its suffixes use. Returns the experiments and
    the ``(old id, new id)`` pairs of those renamed.
    """
    per_file = Counter((e.id, e.file) for e in experiments)
    files = {}
    for e in experiments:
        files.setdefault(e.id, set()).add(e.file)
    renamed = []
    for e in experiments:
        parts = [labels[e.file]] if len(files[e.id]) > 1 else []
        parts += [f"L{e.line}"] if per_file[e.id, e.file] > 1 else []
        renamed.append(replace(e, name=f"{e.name}@{':'.join(parts)}") if parts else e)
    clash = [i for i, n in Counter(e.id for e in renamed).items() if n > 1]
    if clash:
        raise ValueError(f"Sleuth analysis id {clash[0]!r} is still shared; rename the files.")
    pairs = [(e.id, r.id) for e, r in zip(experiments, renamed) if r is not e]
    return renamed, pairs


def to_nimare_dict(experiments):
    """Return what :func:`nimare.io.convert_sleuth_to_dict` returns for these experiments."""
    studies = {}
    for e in experiments:
        x, y, z = (list(column) for column in e.foci.T)
        studies.setdefault(e.study, {"contrasts": {}})["contrasts"][e.name] = {
            "coords": {"space": e.space, "x": x, "y": y, "z": z},
            "metadata": {"sample_sizes": [e.sample_size]},
        }
    return studies


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _labels(paths):
    """Each file's stem; stems shared by several files get ``~<position>`` (from 1)."""
    stems = Counter(path.stem for path in paths)
    return {
        path: path.stem if stems[path.stem] == 1 else f"{path.stem}~{i}"
        for i, path in enumerate(paths, 1)
    }


def _lines(path):
    """Return the file's non-blank lines, stripped, with their numbers (from 1)."""
    raw = path.read_bytes()
    encoding = "utf-16" if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None
    try:
        text = raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(
            f"Sleuth file {str(path)!r}, line {line}: byte {raw[error.start]:#04x} is not "
            "accepted; accepted: UTF-8 or UTF-16 text."
        ) from None
    numbered = enumerate(re.split(r"\r\n|\r|\n", text), 1)
    return [(number, line.strip()) for number, line in numbered if line.strip()]


def _blocks(path, lines):
    """Split numbered lines into experiments: (header lines, focus lines).

    An experiment's header ends at its first focus or at its ``// Subjects=`` line.
    """
    blocks = []
    for number, text in lines:
        if text.startswith("//"):
            if not blocks or blocks[-1][1] or _SUBJECTS.fullmatch(blocks[-1][0][-1][1]):
                blocks.append(([], []))
            blocks[-1][0].append((number, text))
        elif not blocks:
            raise ValueError(
                f"Sleuth file {str(path)!r}, line {number}: focus {text!r} comes before any "
                "experiment; accepted: '//' header lines ending with '// Subjects=N' first."
            )
        else:
            blocks[-1][1].append((number, text))
    return blocks


def _experiment(path, space, block):
    header, foci = block
    where = f"Sleuth file {str(path)!r}, line {header[0][0]}"
    number, last = header[-1]
    match = _SUBJECTS.fullmatch(last)
    # As NiMARE: every "//" removed, the lines before Subjects joined.
    info = " ".join(text.replace("//", "").strip() for _, text in header[: -1 if match else None])
    if match is None:
        raise ValueError(
            f"{where}: experiment {info!r} has no sample size; accepted: a last header line "
            "'// Subjects=N' (a whole number > 0)."
        )
    sample_size = _sample_size(match.group(1))
    if sample_size is None:
        raise ValueError(
            f"Sleuth file {str(path)!r}, line {number}: Subjects={match.group(1)!r} is not "
            "accepted; accepted: a whole number > 0."
        )
    if not foci:
        raise ValueError(
            f"{where}: experiment {info!r} has no foci; accepted: one 'x y z' line per focus."
        )
    study, name = _split_info(info)
    xyz = np.array([_focus(path, number, text) for number, text in foci])
    return Experiment(path, header[0][0], space, study, name, sample_size, xyz)


def _sample_size(text):
    try:
        value = int(text.replace(" ", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _focus(path, number, text):
    try:
        xyz = [float(value) for value in text.split()]
    except ValueError:
        xyz = []
    if len(xyz) != 3 or not all(math.isfinite(value) for value in xyz):
        raise ValueError(
            f"Sleuth file {str(path)!r}, line {number}: focus {text!r} is not accepted; "
            "accepted: three finite numbers x y z."
        )
    return xyz


def _split_info(info):
    """Study and experiment names from the header text, as NiMARE splits them."""
    info = info.strip()
    if not info:
        return "", "analysis_1"
    year = _YEAR.search(info)
    if year is not None:
        after = [i for i in (info.find(sep, year.end()) for sep in ";:") if i != -1]
        if after:
            left, right = info[: min(after)].strip(), info[min(after) + 1 :].strip()
            return left or info, right or "analysis_1"
    for sep in ";:":
        if sep in info:
            left, _, right = info.partition(sep)
            return left.strip() or info, right.strip() or "analysis_1"
    return info, "analysis_1"
