"""The command line's inputs: every experiment and focus kept or counted, faults in one line."""

import json
import logging
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from nimare.io import convert_sleuth_to_studyset
from nimare.meta.cbma import ALE
from nimare.meta.kernel import ALEKernel, KDAKernel, MKDAKernel
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

from nimare_stability import cli
from nimare_stability.cli import inputs, runner

PAIN = os.path.join(get_resource_path(), "nidm_pain_studyset.json")
KNOWLEDGE = os.path.join(get_resource_path(), "semantic_knowledge_children.txt")
#: Five foci inside the ALE template's brain mask.
INSIDE = ((0, -52, 26), (40, -20, 50), (-40, -20, 50), (0, 20, 40), (-30, -80, 10))
#: Outside it: above the brain, and off the grid.
OUTSIDE = ((0, 0, 100), (95, 0, 0))


def _sleuth(experiments, reference="MNI"):
    """Sleuth text of (header, subjects, foci) experiments."""
    lines = [f"// Reference={reference}"]
    for header, subjects, foci in experiments:
        lines += [f"// {header}", f"// Subjects={subjects}"]
        lines += [f"{x}\t{y}\t{z}" for x, y, z in foci] + [""]
    return "\n".join(lines)


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _refused(argv, capsys):
    """The one line ``main(argv)`` prints before exiting with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def _run(paths, tmp_path):
    return ["run", *map(str, paths), "--output-dir", str(tmp_path / "out"), "--no-progress"]


def _twelve(path, first_subjects):
    experiments = [(f"Study{i}: Exp0", first_subjects + i, INSIDE) for i in range(12)]
    return _write(path, _sleuth(experiments))


def test_two_sleuth_files_with_the_same_experiment_names_keep_every_focus(tmp_path):
    a, b = _twelve(tmp_path / "a.txt", 10), _twelve(tmp_path / "b.txt", 20)
    studyset, read = inputs.load([a, b])
    assert (len(studyset.ids), len(studyset.coordinates)) == (24, 120)
    table = read.table.set_index("id")
    assert table.loc["Study3-Exp0@a"].tolist() == ["Study3", str(a), 5, 13, 0, 0]
    assert table.loc["Study3-Exp0@b"].tolist() == ["Study3", str(b), 5, 23, 0, 0]
    assert (read.analyses, read.foci, read.participants, read.known) == (24, 120, 492, 24)
    assert read.notes == (
        "24 analyses share their study and experiment names with another: renamed after "
        "their file (and line where a file repeats them), study ids kept (Study0-Exp0 -> "
        "Study0-Exp0@a, Study1-Exp0 -> Study1-Exp0@a, Study2-Exp0 -> Study2-Exp0@a, ... "
        "(24 in all)).",
    )
    assert read.per_file() == [f"{a}: 12 analyses, 60 foci.", f"{b}: 12 analyses, 60 foci."]
    used = ALE().fit(studyset).estimator.inputs_["coordinates"]
    assert len(used) == 120
    assert used.groupby("id")["sample_size"].first()["Study3-Exp0@b"] == 23


def test_an_experiment_repeated_in_one_file_and_across_files_is_kept_by_line(tmp_path):
    twice = _sleuth([("Smith 2010: Exp0", 10, INSIDE), ("Smith 2010: Exp0", 12, INSIDE[:2])])
    a = _write(tmp_path / "a.txt", twice)
    b = _write(tmp_path / "b.txt", _sleuth([("Smith 2010: Exp0", 14, INSIDE[:3])]))
    _, read = inputs.load([a, b])
    assert read.table[["id", "foci", "sample_size"]].values.tolist() == [
        ["Smith 2010-Exp0@a:L10", 2, 12],
        ["Smith 2010-Exp0@a:L2", 5, 10],
        ["Smith 2010-Exp0@b", 3, 14],
    ]
    assert set(read.table["study_id"]) == {"Smith 2010"}


@pytest.mark.parametrize("same", ["path", "content"])
def test_the_same_sleuth_file_given_twice_is_refused_in_one_line(same, tmp_path, capsys):
    a = _twelve(tmp_path / "a.txt", 10)
    again = a if same == "path" else shutil.copy(a, tmp_path / "copy.txt")
    assert _refused(_run([a, again], tmp_path), capsys) == (
        f"nimare-stability run: error: Sleuth file {str(again)!r} is the same file as "
        f"{str(a)!r} (same {same}); give each file once.\n"
    )


def test_an_empty_sleuth_file_is_refused_in_one_line(tmp_path, capsys):
    empty = _write(tmp_path / "empty.txt", "")
    assert _refused(_run([empty], tmp_path), capsys) == (
        f"nimare-stability run: error: Sleuth file {str(empty)!r} is empty; accepted: a "
        "'// Reference=MNI' (or TAL, Talairach) line, then experiments.\n"
    )


def test_zero_subjects_is_refused_with_its_line(tmp_path, capsys):
    zero = _write(tmp_path / "zero.txt", "// Reference=MNI\n// S: E\n// Subjects = 0\n0 -52 26\n")
    assert _refused(_run([zero], tmp_path), capsys) == (
        f"nimare-stability run: error: Sleuth file {str(zero)!r}, line 3: Subjects='0' is not "
        "accepted; accepted: a whole number > 0.\n"
    )


HEAD = "// Reference=MNI\n// Smith 2010: E\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("\n  \n", " is empty; accepted: a '// Reference=MNI' (or TAL, Talairach) line, then "
         "experiments."),
        (HEAD + "// Subjects=ten\n0 -52 26\n", ", line 3: Subjects='ten' is not accepted; "
         "accepted: a whole number > 0."),
        (HEAD + "0 -52 26\n", ", line 2: experiment 'Smith 2010: E' has no sample size; "
         "accepted: a last header line '// Subjects=N' (a whole number > 0)."),
        (HEAD + "// Subjects=10\n0 -52\n", ", line 4: focus '0 -52' is not accepted; "
         "accepted: three finite numbers x y z."),
        (HEAD + "// Subjects=10\n0 nan 26\n", ", line 4: focus '0 nan 26' is not accepted; "
         "accepted: three finite numbers x y z."),
        (HEAD + "// Subjects=10\n// T: F\n// Subjects=9\n0 -52 26\n", ", line 2: experiment "
         "'Smith 2010: E' has no foci; accepted: one 'x y z' line per focus."),
        ("// Smith 2010: E\n// Subjects=10\n0 -52 26\n", ", line 1: '// Smith 2010: E' is not "
         "accepted; accepted: a first line '// Reference=SPACE', SPACE one of MNI, TAL, "
         "Talairach."),
        ("// Reference=MNI\n\n", " has no experiment after line 1."),
        ("// Reference=MNI\n0 -52 26\n", ", line 2: focus '0 -52 26' comes before any "
         "experiment; accepted: '//' header lines ending with '// Subjects=N' first."),
    ],
)  # fmt: skip
def test_a_malformed_sleuth_file_is_refused_with_the_file_and_line(text, message, tmp_path):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(ValueError) as error:
        inputs.load([path])
    assert str(error.value) == f"Sleuth file {str(path)!r}{message}"


def test_a_sleuth_file_in_latin_1_is_refused_with_the_line_of_the_first_bad_byte(tmp_path):
    path = _write(tmp_path / "latin.txt", _sleuth([("Müller 2010: E", 10, INSIDE)]), "latin-1")
    with pytest.raises(ValueError) as error:
        inputs.load([path])
    assert str(error.value) == (
        f"Sleuth file {str(path)!r}, line 2: byte 0xfc is not accepted; accepted: UTF-8 or "
        "UTF-16 text."
    )


@pytest.mark.parametrize(
    "newline, encoding",
    [
        ("\r\n", "utf-8"),
        ("\r", "utf-8"),
        ("\n", "utf-8-sig"),
        ("\r\n", "utf-8-sig"),
        ("\n", "utf-16"),
    ],
)
def test_a_byte_order_mark_or_windows_line_endings_read_as_the_clean_file(
    newline, encoding, tmp_path
):
    text = _sleuth([("Smith 2010: E", 10, INSIDE), ("Jones 2012; F", 12, INSIDE[1:])])
    clean = _write(tmp_path / "clean.txt", text)
    saved = _write(tmp_path / "saved.txt", text.replace("\n", newline), encoding)
    assert saved.read_bytes() != clean.read_bytes()
    nimare = convert_sleuth_to_studyset(str(clean))
    for path in (clean, saved):
        studyset, _ = inputs.load([path])
        assert list(studyset.ids) == list(nimare.ids) == ["Jones 2012-F", "Smith 2010-E"]
        pd.testing.assert_frame_equal(studyset.coordinates, nimare.coordinates)
        assert list(studyset.sample_sizes()) == list(nimare.sample_sizes()) == [12, 10]


def test_a_sleuth_file_with_every_focus_outside_the_brain_is_refused_before_the_fit(
    tmp_path, capsys
):
    good = _twelve(tmp_path / "good.txt", 10)
    far = _write(tmp_path / "far.txt", _sleuth([("Far 2010: E", 10, OUTSIDE)]))
    assert _refused(_run([good, far], tmp_path), capsys) == (
        f"nimare-stability run: error: STUDYSET={str(far)!r}: 2 foci, none inside the brain "
        "mask (ale_2mm); accepted: foci in millimetres, inside the brain.\n"
    )
    assert not (tmp_path / "out").exists()


def test_foci_partly_outside_the_brain_and_repeated_foci_are_counted_and_kept(tmp_path):
    experiments = [("A 2010: E", 10, INSIDE + OUTSIDE), ("B 2011: E", 12, INSIDE + INSIDE[:2])]
    studyset, read = inputs.load([_write(tmp_path / "a.txt", _sleuth(experiments))])
    assert len(studyset.coordinates) == read.foci == 14
    assert read.table[["foci", "outside_mask", "repeated"]].values.tolist() == [
        [7, 2, 0],
        [7, 0, 2],
    ]
    assert read.notes == (
        "Foci outside the brain mask (ale_2mm): 2 of 14, kept; only their kernels' part "
        "inside the mask counts (see analyses.tsv).",
        "Foci repeating another of the same analysis: 2, kept; the ALE and MKDA kernels keep "
        "each voxel's largest value, so a repeat leaves their MA maps as they are; the KDA "
        "kernel counts it again (see analyses.tsv).",
    )


def test_a_repeated_focus_leaves_ale_and_mkda_ma_maps_as_they_are_and_kda_counts_it(tmp_path):
    once = _write(tmp_path / "once.txt", _sleuth([("A 2010: E", 10, INSIDE[:2])]))
    twice = _write(tmp_path / "twice.txt", _sleuth([("A 2010: E", 10, INSIDE[:2] * 2)]))
    studysets = [inputs.load([path])[0] for path in (once, twice)]
    for kernel, equal in ((ALEKernel(), True), (MKDAKernel(r=10), True), (KDAKernel(r=10), False)):
        maps = [kernel.transform(studyset, return_type="array") for studyset in studysets]
        assert np.array_equal(*maps) is equal, type(kernel).__name__


@pytest.fixture(scope="module")
def pain_parquet(tmp_path_factory):
    """NiMARE's pain studyset saved as a parquet studyset directory."""
    path = tmp_path_factory.mktemp("parquet") / "pain"
    Studyset(PAIN).to_parquet(str(path))
    return path


@pytest.mark.parametrize(
    "source, expected",
    [
        ("json", "21 analyses, 267 foci, 334 participants (sum of 21 sample sizes), space "
         "mni152_2mm; dropped: none."),
        ("parquet", "21 analyses, 267 foci, 334 participants (sum of 21 sample sizes), space "
         "mni152_2mm; dropped: none."),
        ("sleuth", "21 analyses, 262 foci, 456 participants (sum of 21 sample sizes), space "
         "ale_2mm; dropped: none."),
    ],
)  # fmt: skip
def test_every_loader_reports_what_it_read(source, expected, pain_parquet):
    path = {"json": PAIN, "parquet": str(pain_parquet), "sleuth": KNOWLEDGE}[source]
    studyset, read = inputs.load([path])
    assert read.describe() == f"Read {path}: {expected}"
    assert (read.analyses, read.foci) == (len(studyset.ids), len(studyset.coordinates))
    assert read.files == (path,) and set(read.table["source_file"]) == {path}


def test_foci_without_finite_coordinates_are_dropped_and_counted(tmp_path):
    points = [{"space": "MNI", "coordinates": xyz} for xyz in (INSIDE[0], [None, 2, 3], INSIDE[1])]
    analysis = {"id": "1", "name": "1", "points": points, "metadata": {}}
    study = {"id": "a", "name": "a", "analyses": [analysis]}
    document = {"id": "s", "name": "", "studies": [study]}
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(document))
    studyset, read = inputs.load([path])
    assert len(studyset.coordinates) == read.foci == 2
    assert read.dropped == ((1, "no finite x, y, z"),)
    assert read.describe() == (
        f"Read {path}: 1 analyses, 2 foci, 0 participants (sum of 0 sample sizes), space "
        "mni152_2mm; dropped: 1 focus (no finite x, y, z)."
    )


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("empty.json", "", "is not a NiMARE JSON studyset: Expecting value: line 1 column 1 "
         "(char 0)"),
        ("cut.json", '{"studies": [', "is not a NiMARE JSON studyset: Expecting value: line 1 "
         "column 14 (char 13)"),
        ("list.json", "[]", "is not a NiMARE JSON studyset: NIMADS source must be a dict or a "
         "path, not <class 'list'>"),
        ("none.json", "{}", "is not a NiMARE JSON studyset: A NIMADS studyset must have a "
         "'studies' key. An empty studyset is 'studies': [], which is different from the key "
         "being absent."),
        ("empty_dir", None, "is not a NiMARE parquet studyset directory: {path} is not a "
         "studyset parquet release"),
    ],
)  # fmt: skip
def test_a_broken_json_or_parquet_studyset_is_refused_in_one_line(
    name, content, problem, tmp_path, capsys
):
    path = tmp_path / name
    path.mkdir() if content is None else path.write_text(content)
    problem = problem.format(path=path)
    assert _refused(_run([path], tmp_path), capsys) == (
        f"nimare-stability run: error: STUDYSET={str(path)!r} {problem}\n"
    )


def test_a_parquet_studyset_with_a_broken_or_missing_table_is_refused(pain_parquet, tmp_path):
    broken = shutil.copytree(pain_parquet, tmp_path / "broken")
    (broken / "coordinates.parquet").write_text("garbage")
    with pytest.raises(ValueError) as error:
        inputs.load([broken])
    assert str(error.value) == (
        f"STUDYSET={str(broken)!r} is not a NiMARE parquet studyset directory: Could not open "
        f"Parquet input source '{broken}/coordinates.parquet': Parquet file size is 7 bytes, "
        "smaller than the minimum file footer (8 bytes)"
    )
    (broken / "coordinates.parquet").unlink()
    with pytest.raises(ValueError) as error:
        inputs.load([broken])
    assert str(error.value) == (
        f"STUDYSET={str(broken)!r} has no foci; accepted: a coordinate-based studyset."
    )


def test_the_run_logs_what_it_read_and_writes_each_analysis_with_its_file(tmp_path, caplog):
    a, b = _twelve(tmp_path / "a.txt", 10), _twelve(tmp_path / "b.txt", 20)
    _, read = inputs.load([a, b])
    with caplog.at_level(logging.INFO, logger=runner.__name__):
        runner._report_inputs(read)
    assert [(r.levelname, r.message) for r in caplog.records] == [
        ("INFO", read.describe()),
        ("INFO", f"{a}: 12 analyses, 60 foci."),
        ("INFO", f"{b}: 12 analyses, 60 foci."),
        ("WARNING", read.notes[0]),
    ]
    table = inputs.write_table(read, tmp_path / "out")
    assert table == tmp_path / "out" / "analyses.tsv"
    written = pd.read_csv(table, sep="\t")
    assert list(written.columns) == list(inputs.COLUMNS)
    assert written.values.tolist() == read.table.values.tolist()
