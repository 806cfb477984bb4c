"""The same ``random_state`` gives the same maps and tables on every backend and core count.

Both engines run under joblib's loky, threading and Dask backends (a ``distributed``
``LocalCluster`` of two worker processes), with one and two cores; the run without any
backend configured is the reference.
"""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from distributed import Client
from helpers.dask_cluster import local_client
from helpers.stability_outputs import assert_same_outputs, stability_outputs
from joblib import parallel_config

from nimare_stability import ResampledStability, cli
from nimare_stability.engines import EngineInputs, layout
from nimare_stability.engines.checkpoint import MANIFEST
from nimare_stability.engines.kernels import KernelReplicates

MC = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
FDR = "z_corr-FDR_method-indep"
BACKENDS = [("loky", 1), ("loky", 2), ("threading", 2), ("dask", 1), ("dask", 2)]


@pytest.fixture(scope="module")
def dask_client():
    with local_client() as client:
        yield client


def _run(result, target, backend, n_cores, **params):
    diagnostic = ResampledStability(
        target_image=target,
        resampling_policy="subsample",
        target_n=0.75,
        random_state=4,
        progress=False,
        n_cores=n_cores,
        **params,
    )
    if backend is None:
        return stability_outputs(diagnostic.transform(result), target)
    with parallel_config(backend=backend):
        return stability_outputs(diagnostic.transform(result), target)


def test_fast_engine_gives_identical_outputs_on_every_backend(pain_montecarlo, dask_client):
    # 300 iterations: three null blocks, each its own task
    params = dict(engine="fast", n_resamples=6, n_iters=300)
    reference = _run(pain_montecarlo, MC, None, 1, **params)
    for backend, n_cores in BACKENDS:
        assert_same_outputs(_run(pain_montecarlo, MC, backend, n_cores, **params), reference)


def test_refit_engine_gives_identical_outputs_on_every_backend(pain_fdr, dask_client):
    params = dict(engine="refit", n_resamples=3)
    reference = _run(pain_fdr, FDR, None, 1, **params)
    for backend, n_cores in BACKENDS:
        assert_same_outputs(_run(pain_fdr, FDR, backend, n_cores, **params), reference)


def test_dask_receives_the_large_inputs_once_per_run(pain_montecarlo, pain_fdr, dask_client):
    scattered = []
    scatter = Client.scatter

    def spy(self, data, *args, **kwargs):
        scattered.append(type(data))
        return scatter(self, data, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "scatter", spy)
        _run(pain_montecarlo, MC, "dask", 2, engine="fast", n_resamples=6, n_iters=300)
        _run(pain_fdr, FDR, "dask", 2, engine="refit", n_resamples=3)
    # one layout for the null blocks and one set of inputs for the refit replicates:
    # scattered once each, not pickled into every task; the thresholds are folded in this
    # process's threads, so the MA cache is never sent
    assert scattered.count(layout.FociLayout) == 1
    assert scattered.count(KernelReplicates) == 0
    assert scattered.count(EngineInputs) == 1


def test_command_line_runs_on_a_dask_scheduler_with_a_checkpoint(tmp_path, dask_client):
    target = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
    argv = ["demo", "--n-iters", "100", "--no-progress", "--policy", "subsample"]
    argv += ["--target-n", "0.8", "--n-resamples", "4"]
    argv += ["--diagnostics", "resampledstability", "fragility"]
    outputs = {}
    for name, extra in [
        ("dask", ["--dask-scheduler", dask_client.scheduler.address]),
        ("local", []),
    ]:
        checkpoint = ["--checkpoint-dir", str(tmp_path / f"checkpoint-{name}")]
        assert cli.main([*argv, *extra, *checkpoint, "--output-dir", str(tmp_path / name)]) == 0
        stem = tmp_path / name / f"{target}_diag-ResampledStability"
        outputs[name] = (
            nib.load(f"{stem}.nii.gz").get_fdata(),
            pd.read_csv(f"{stem}_tab-clusters.tsv", sep="\t"),
        )
    assert np.any(outputs["local"][0] != 0), "an all-zero stability map proves nothing"
    np.testing.assert_array_equal(outputs["dask"][0], outputs["local"][0])
    pd.testing.assert_frame_equal(outputs["dask"][1], outputs["local"][1])
    checkpoints = tmp_path / "checkpoint-dask"
    assert sorted(path.name for path in checkpoints.iterdir()) == [
        "fragility",
        "resampledstability",
    ]
    assert len(list((checkpoints / "resampledstability").glob("replicate-*.npz"))) == 4
    assert (checkpoints / "fragility" / MANIFEST).exists()
    assert list((checkpoints / "fragility").glob("*replicate-*.npz"))
