"""``nimare-stability demo`` and ``run`` write every output; bad arguments exit 2 in one line."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import nibabel as nib
import pandas as pd
import pytest
from nimare.correct import FWECorrector
from nimare.utils import get_resource_path

from nimare_stability import ResampledStability, cli
from nimare_stability.cli import estimate, outputs, runner
from nimare_stability.cli.interrupt import Terminated
from nimare_stability.core.clusters import LOCATION

TARGET = runner.DEFAULT_TARGETS["montecarlo"]
PAIN = os.path.join(get_resource_path(), "nidm_pain_studyset.json")
CONTRAST = ["run", "--group1", PAIN, "--group2", PAIN, "--output-dir", "{tmp}"]
SLEUTH = [
    os.path.join(get_resource_path(), f"semantic_{name}_children.txt")
    for name in ("knowledge", "relatedness")
]


def test_demo_runs_the_full_profile_and_writes_everything(tmp_path, capsys, caplog, n_iters):
    argv = ["demo", "--output-dir", str(tmp_path), "--n-iters", str(n_iters), "--no-progress"]
    argv += ["--policy", "subsample", "--target-n", "0.8", "--n-resamples", "2"]
    argv += ["--fsn-max-multiple", "1"]
    (tmp_path / "run.json").write_text("{}")  # an earlier run's, replaced
    with caplog.at_level(logging.INFO, logger=runner.__name__):
        assert cli.main(argv) == 0
    estimate = [r.message for r in caplog.records if r.message.startswith("Estimated time")]
    assert len(estimate) == 1 and all(name in estimate[0] for name in runner.DIAGNOSTICS)
    stem = tmp_path / f"{TARGET}_diag-ResampledStability"
    stability = nib.load(f"{stem}.nii.gz").get_fdata()
    assert stability.shape == (91, 109, 91) and 0 < stability.max() <= 1
    summary = pd.read_csv(f"{stem}_tab-summary.tsv", sep="\t")
    assert (summary.loc[0, "n_resamples"], summary.loc[0, "target_n"]) == (2, 17)
    clusters = pd.read_csv(f"{stem}_tab-clusters.tsv", sep="\t")
    verdicts = pd.read_csv(tmp_path / f"{TARGET}_tab-robustness.tsv", sep="\t")
    assert len(clusters) == len(verdicts) > 0
    assert set(verdicts["evidence"]) == {
        "ResampledStability (subsample), Jackknife, Fragility, FailSafeN"
    }
    # Every clusters table written says where each cluster is.
    tables = [*tmp_path.glob("*_tab-clusters.tsv"), tmp_path / f"{TARGET}_tab-robustness.tsv"]
    assert len(tables) == 4  # ResampledStability, Fragility, FailSafeN, the verdicts
    for path in tables:
        table = pd.read_csv(path, sep="\t")
        assert list(table.columns[2:7]) == list(LOCATION), path.name
        assert table["peak_label"].notna().all() and table["overlap_label"].notna().all()
        assert table[["cluster_id", *LOCATION]].equals(verdicts[["cluster_id", *LOCATION]])
    assert (tmp_path / f"{TARGET}_tab-clust.tsv").exists()
    labels = nib.load(
        tmp_path / "label_desc-size_level-cluster_corr-FWE_method-montecarlo_tail-positive.nii.gz"
    )
    assert set(clusters["cluster_id"]) == set(
        labels.get_fdata()[labels.get_fdata() > 0].astype(int)
    )
    figures = sorted(tmp_path.glob("figure_*.png"))
    assert len(figures) >= 5 and (tmp_path / "figure_clusters.png") in figures
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in figures)
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(figures)
    record = json.loads((tmp_path / "run.json").read_text())
    assert (record["status"], record["command"]) == ("complete", ["nimare-stability", *argv])
    assert record["files"] == sorted(p.name for p in tmp_path.iterdir() if p.name != "run.json")
    assert {"python", "nimare-stability", "nimare"} <= set(record["versions"])
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.partial-*"))
    printed = capsys.readouterr().out
    assert printed.startswith(f"{len(verdicts)} clusters in {TARGET}: ")
    assert "verdict" in printed and "peak_label" in printed and "report.html" in printed


def test_diagnostics_default_to_the_full_profile_and_quick_keeps_two():
    def chosen(*options):
        return cli.parser._job(
            cli.parser._parser().parse_args(["demo", "--output-dir", "x", *options])
        )

    assert chosen().diagnostics == runner.DIAGNOSTICS
    assert set(runner.DIAGNOSTICS) == {"jackknife", "resampledstability", "fragility", "failsafen"}
    assert chosen("--quick").diagnostics == ("jackknife", "resampledstability")
    assert chosen("--diagnostics", "fragility", "fragility").diagnostics == ("fragility",)
    assert runner.Job(studysets=[PAIN], output_dir="x").diagnostics == runner.DIAGNOSTICS


def test_each_diagnostic_keeps_its_checkpoint_in_its_own_subdirectory(tmp_path):
    args = cli.parser._parser().parse_args(
        ["demo", "--output-dir", "x", "--checkpoint-dir", str(tmp_path)]
    )
    job = cli.parser._job(args)
    target = runner.DEFAULT_TARGETS[job.corrector]
    made = {name: runner._diagnostic(name, job, target) for name in runner.DIAGNOSTICS}
    assert not hasattr(made.pop("jackknife"), "checkpoint_dir")
    assert {name: d.checkpoint_dir for name, d in made.items()} == {
        name: str(tmp_path / name) for name in made
    }


def test_time_estimate_pilots_copies_and_scales_every_step(pain_ale):
    corrector = FWECorrector(method="montecarlo", n_iters=1000, n_cores=2)
    before = (dict(corrector.parameters), sorted(pain_ale.maps), sorted(pain_ale.tables))
    assert estimate.correction_seconds(corrector, pain_ale, 1000) > 0
    after = (dict(corrector.parameters), sorted(pain_ale.maps), sorted(pain_ale.tables))
    assert after == before
    line = estimate.describe(60.0, runner.DIAGNOSTICS)
    total = 60.0 * (1 + sum(estimate.RATIOS[name] for name in runner.DIAGNOSTICS))
    assert line.startswith(f"Estimated time: ~{total / 60:.1f} min (correction ~60 s, ")
    assert f"fragility ~{60 * estimate.RATIOS['fragility'] / 60:.1f} min" in line


def test_run_on_merged_sleuth_files_with_fdr_and_mkda(tmp_path):
    argv = ["run", *SLEUTH, "--output-dir", str(tmp_path), "--no-progress"]
    argv += ["--estimator", "MKDADensity", "--kernel-arg", "r=8", "--corrector", "fdr"]
    argv += ["--policy", "subsample", "--target-n", "0.8", "--n-resamples", "3", "--quick"]
    assert cli.main(argv) == 0
    target = runner.DEFAULT_TARGETS["fdr"]
    summary = pd.read_csv(tmp_path / f"{target}_diag-ResampledStability_tab-summary.tsv", sep="\t")
    # 21 + 16 analyses in the two files, 80% kept
    assert summary.loc[0, "target_n"] == round(0.8 * 37)
    assert summary.loc[0, "engine"] == "fast"
    assert (tmp_path / "report.html").exists()
    analyses = pd.read_csv(tmp_path / "analyses.tsv", sep="\t")
    assert analyses.groupby("source_file", sort=False).size().to_dict() == {
        SLEUTH[0]: 21,
        SLEUTH[1]: 16,
    }
    assert analyses["foci"].sum() == 262 + 201


def test_load_studyset_reads_json_and_sleuth():
    assert len(runner.load_studyset([PAIN]).ids) == 21
    assert len(runner.load_studyset(SLEUTH[:1]).ids) == 21
    assert len(runner.load_studyset(SLEUTH).ids) == 37


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run"], "required"),
        (["run", PAIN, "--output-dir", "{tmp}", "--n-iters", "many"], "--n-iters"),
        (["run", PAIN, "--output-dir", "{tmp}", "--policy", "nope"], "resampling_policy='nope'"),
        (["demo", "--output-dir", "{tmp}", "--alpha", "2"], "alpha=2.0"),
        (["run", "missing.json", "--output-dir", "{tmp}"], "does not exist"),
        (["run", PAIN, SLEUTH[0], "--output-dir", "{tmp}"], "accepted: one NiMARE JSON"),
        (["run", PAIN, "--output-dir", "{tmp}", "--kernel-arg", "fwhm"], "KEY=VALUE"),
        (["run", PAIN, "--output-dir", "{tmp}", "--estimator", "SCALE"], "--estimator"),
        (["frobnicate"], "invalid choice"),
        (["demo", "--output-dir", "{tmp}", "--diagnostics", "jackknife"], "at least one of"),
        (["demo", "--output-dir", "{tmp}", "--quick", "--diagnostics", "fragility"], "not allowed"),
        (["run", "--group1", PAIN, "--output-dir", "{tmp}"], "go together"),
        (["run", PAIN, "--group1", PAIN, "--group2", PAIN, "--output-dir", "{tmp}"], "one or"),
        (
            [
                "run",
                "--group1",
                PAIN,
                "--group2",
                PAIN,
                "--estimator",
                "KDA",
                "--output-dir",
                "{tmp}",
            ],
            "--estimator KDA is not accepted with --group1/--group2",
        ),
        (
            [
                "run",
                "--group1",
                PAIN,
                "--group2",
                PAIN,
                "--corrector",
                "fdr",
                "--output-dir",
                "{tmp}",
            ],
            "--corrector fdr is not accepted with --group1/--group2",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, expected, tmp_path, capsys):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1, error
    assert expected in error and "Traceback" not in error


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--help"])
    assert exit_info.value.code == 0
    assert "nimare-stability run my_studyset.json" in capsys.readouterr().out


@pytest.fixture(scope="module")
def fdr_stability(pain_fdr):
    """Two subsample replicates on pain's FDR map: a cheap result to write."""
    target = runner.DEFAULT_TARGETS["fdr"]
    diagnostic = ResampledStability(
        target_image=target,
        resampling_policy="subsample",
        target_n=0.8,
        n_resamples=2,
        progress=False,
    )
    return diagnostic.transform(pain_fdr), target


def _listing(folder):
    return sorted(path.name for path in folder.iterdir())


def test_a_failed_write_adds_no_file_and_leaves_no_hidden_folder(
    fdr_stability, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    staged = []

    def fail(result, target, groups=None):
        staged.append(_listing(next(tmp_path.rglob(".out.partial-*"))))
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs.plotting, "figures", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        outputs.write_outputs(*fdr_stability, out)
    assert _listing(out) == ["mine.txt"] and _listing(tmp_path) == ["out"]
    with pytest.raises(RuntimeError, match="disk full"):
        outputs.write_outputs(*fdr_stability, tmp_path / "new" / "out")
    assert _listing(tmp_path) == ["new", "out"] and _listing(tmp_path / "new") == []
    assert len(staged) == 2
    for listing in staged:  # the maps and tables were written, then removed
        assert any(name.endswith(".nii.gz") for name in listing)
        assert any(name.endswith(".tsv") for name in listing)


@pytest.mark.parametrize(("stop", "status"), [(KeyboardInterrupt, 130), (Terminated, 143)])
def test_an_interrupted_run_says_so_in_one_line(stop, status, tmp_path, monkeypatch, capsys):
    def interrupted(job):
        raise stop

    monkeypatch.setattr(runner, "run", interrupted)
    assert cli.main(["demo", "--output-dir", str(tmp_path / "out")]) == status
    captured = capsys.readouterr()
    assert captured.err == "nimare-stability demo: interrupted; no outputs written\n"
    assert captured.out == "" and _listing(tmp_path) == []


def test_an_unexpected_error_propagates_with_its_traceback(tmp_path, monkeypatch):
    def crash(job):
        raise RuntimeError("bug")

    monkeypatch.setattr(runner, "run", crash)
    with pytest.raises(RuntimeError, match="bug"):
        cli.main(["demo", "--output-dir", str(tmp_path / "out")])


def test_sigterm_while_writing_exits_143_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    argv = ["demo", "--diagnostics", "resampledstability", "--corrector", "fdr"]
    argv += ["--policy", "subsample", "--target-n", "0.8", "--n-resamples", "2", "--no-progress"]
    process = subprocess.Popen(
        [sys.executable, "-m", "nimare_stability.cli", *argv, "--output-dir", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    deadline = time.monotonic() + 120
    try:
        while not list(tmp_path.glob(".out.partial-*")):  # writing has begun
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert err.splitlines()[-1] == "nimare-stability demo: interrupted; no outputs written"
    assert _listing(tmp_path) == []  # no output folder, no hidden folder
