"""``checkpoint_dir``: a killed run resumes; a checkpoint of another run is refused."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.calls import count_calls
from helpers.checkpointed_run import N_ITERS, TARGET, corrected, diagnostic
from helpers.stability_outputs import assert_same_outputs, stability_outputs

from nimare_stability import ResampledStability
from nimare_stability.engines import fast, montecarlo, refit
from nimare_stability.engines.checkpoint import MANIFEST

FDR = "z_corr-FDR_method-indep"
N_BLOCKS = N_ITERS // montecarlo.BLOCK_SIZE


def _blocks(directory):
    return sorted(Path(directory).glob("*null-block-*.npz"))


@pytest.fixture(scope="module")
def uninterrupted():
    result = corrected()
    return result, stability_outputs(diagnostic(None).transform(result), TARGET)


def test_a_run_killed_midway_resumes_to_identical_outputs(tmp_path, monkeypatch, uninterrupted):
    result, expected = uninterrupted
    directory = tmp_path / "checkpoint"
    script = Path(__file__).parent / "helpers" / "checkpointed_run.py"
    process = subprocess.Popen(
        [sys.executable, str(script), str(directory)],
        env={**os.environ, "MPLBACKEND": "Agg"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while len(_blocks(directory)) < 2 and process.poll() is None:
        assert time.monotonic() < deadline, "the checkpointed run wrote no null block"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"

    written = _blocks(directory)
    assert 2 <= len(written) < N_BLOCKS
    assert not list(directory.glob("replicate-*.npz"))  # supports come after the null
    for path in written:  # whole files only: written, then renamed
        with np.load(path) as arrays:
            assert arrays["max_stat"].shape == (8, montecarlo.BLOCK_SIZE)

    drawn = count_calls(monkeypatch, montecarlo, "_null_block")
    resumed = stability_outputs(diagnostic(directory).transform(result), TARGET)
    assert len(drawn) == N_BLOCKS - len(written)
    assert_same_outputs(resumed, expected)
    assert len(list(directory.glob("replicate-*.npz"))) == 8


def test_a_resumed_run_judges_only_the_missing_replicates_and_blocks(
    tmp_path, monkeypatch, uninterrupted
):
    result, expected = uninterrupted
    directory = tmp_path / "checkpoint"
    resumed = diagnostic(directory).transform(result)
    assert_same_outputs(stability_outputs(resumed, TARGET), expected)
    for name in ("replicate-2.npz", "replicate-5.npz"):
        (directory / name).unlink()
    _blocks(directory)[3].unlink()
    drawn = count_calls(monkeypatch, montecarlo, "_null_block")
    judged = count_calls(monkeypatch, fast.FastEngine, "_maps")
    resumed = diagnostic(directory).transform(result)
    assert_same_outputs(stability_outputs(resumed, TARGET), expected)
    assert len(drawn) == 1
    assert sorted(args[1] for args in judged) == [2, 5]  # (self, index, ...)


def test_the_refit_engine_resumes_from_its_finished_replicates(tmp_path, monkeypatch, pain_fdr):
    def run(checkpoint_dir):
        diagnostic = ResampledStability(
            target_image=FDR,
            resampling_policy="subsample",
            target_n=0.75,
            n_resamples=3,
            engine="refit",
            random_state=1,
            progress=False,
            checkpoint_dir=checkpoint_dir,
        )
        return stability_outputs(diagnostic.transform(pain_fdr), FDR)

    expected = run(tmp_path)
    (tmp_path / "replicate-1.npz").unlink()
    fitted = count_calls(monkeypatch, refit, "judge_replicate")
    assert_same_outputs(run(tmp_path), expected)
    assert [args[1] for args in fitted] == [1]


def test_auto_runs_resume_to_the_same_number_of_replicates(tmp_path, pain_ale):
    def run():
        diagnostic = ResampledStability(
            target_image="z",
            resampling_policy="subsample",
            target_n=0.75,
            n_resamples="auto",
            tol=0.05,
            random_state=2,
            progress=False,
            checkpoint_dir=tmp_path,
        )
        return stability_outputs(diagnostic.transform(pain_ale), "z")

    expected = run()
    n = expected[1]["z_diag-ResampledStability_tab-summary"].loc[0, "n_resamples"]
    assert len(list(tmp_path.glob("replicate-*.npz"))) == n
    (tmp_path / f"replicate-{n - 1}.npz").unlink()
    assert_same_outputs(run(), expected)


def test_a_checkpoint_of_other_parameters_or_data_is_refused(tmp_path, uninterrupted):
    result, _ = uninterrupted
    directory = tmp_path / "checkpoint"
    diagnostic(directory, n_resamples=2, n_iters=100).transform(result)
    with pytest.raises(ValueError, match=r"checkpoint_dir=.*parameter alpha: '0.05' there"):
        diagnostic(directory, n_resamples=2, n_iters=100, alpha=0.04).transform(result)
    with pytest.raises(ValueError, match="parameter n_resamples"):
        diagnostic(directory, n_resamples=3, n_iters=100).transform(result)
    other = diagnostic(None, n_resamples=2, n_iters=100).transform(result)  # more maps, same data
    diagnostic(directory, n_resamples=2, n_iters=100, n_cores=2).transform(other)
    changed = result.copy()
    changed.maps[TARGET] = np.where(changed.maps[TARGET] > 0, changed.maps[TARGET] + 0.5, 0)
    with pytest.raises(ValueError, match="differs in target"):
        diagnostic(directory, n_resamples=2, n_iters=100).transform(changed)


def test_a_checkpoint_of_other_data_is_refused(tmp_path, pain, pain_ale):
    from nimare.meta.cbma import ALE

    def run(result):
        return ResampledStability(
            target_image="z", random_state=0, progress=False, checkpoint_dir=tmp_path
        ).transform(result)

    run(pain_ale)
    with pytest.raises(ValueError, match="differs in data: .*; target"):
        run(ALE(random_state=7).fit(pain.slice(pain.ids[:15])))
    assert (tmp_path / MANIFEST).exists()


def test_a_checkpoint_records_the_engine_auto_resolved_to(tmp_path, pain_ale):
    run = ResampledStability(
        target_image="z", random_state=0, progress=False, checkpoint_dir=tmp_path
    )
    run.transform(pain_ale)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["engine"] == "fast" and manifest["parameter engine"] == "'auto'"
    # Were "auto" to resolve to another engine, the same call would be refused.
    manifest["engine"] = "refit"
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="differs in engine: 'refit' there, 'fast' now"):
        run.transform(pain_ale)
