"""
As many replicates as needed, on a cluster, without starting over
==================================================================

How many subsamples does a stability map need? JALE's probabilistic ALE defaults to 2500;
a grouped subsampling run on a few hundred analyses is hours of CPU. Three parameters
make such runs practical, and none changes the answer:

- ``n_resamples="auto"`` with ``tol=`` draws replicates in batches of 50 until an upper
  bound on the standard error of every cluster's mean stability and detection rate stays
  below ``tol`` for two batches, after at least 200 (up to ``max_resamples``). The result equals a run asking for that many replicates: random
  policies draw in order, so a shorter schedule is the start of a longer one.
- ``checkpoint_dir=`` keeps each finished replicate and each block of null iterations.
  A run killed midway resumes where it stopped, with identical output; the directory is
  refused for other data or parameters.
- joblib's ``parallel_config(backend="dask")`` sends the replicates and null blocks to a
  Dask cluster; the large read-only inputs are scattered once. Maps and tables are
  bit-identical on every backend and core count.
"""

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster
from joblib import parallel_config
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE

from nimare_stability import ResampledStability, plotting
from nimare_stability.datasets import load_pain

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))
TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
STEM = f"{TARGET}_diag-ResampledStability"

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

# %%
# Stop when the clusters are precise enough
# -----------------------------------------
# ALE on NiMARE's pain studyset (21 analyses), cluster-size FWE. Each replicate keeps 75%
# of the analyses; replicates are drawn 50 at a time until the largest standard error is
# below 0.05 (a standard error of 0.02, the tightest a paper usually needs, takes about
# 650 replicates here).
result = FWECorrector(method="montecarlo", n_iters=N_ITERS).transform(
    ALE(random_state=0).fit(load_pain())
)
auto = ResampledStability(
    resampling_policy="subsample",
    target_n=0.75,
    n_resamples="auto",
    tol=0.05,
    random_state=0,
    progress=False,
)
stability = auto.transform(result)
summary = stability.tables[f"{STEM}_tab-summary"]
print(summary[["resampling_policy", "target_n", "n_resamples", "tol", "precision", "max_voxel_se"]])

# %%
# The precision is the largest standard error over clusters, of their mean stability and
# of their detection rate, with two pseudo-replicates at 0 and two at 1 so that replicates
# that all agree do not claim perfect precision, raised to an upper 95% bound. The least
# stable cluster sets it: a detection rate near 0.5 has the largest variance. The rule does
# not control each voxel's error; ``max_voxel_se`` reports the largest.
clusters = stability.tables[f"{STEM}_tab-clusters"]
print(clusters[["cluster_id", "n_voxels", "mean", "detection_rate"]])
display = plotting.plot_stability(stability, TARGET)
plt.show()

# %%
# Runs that resume
# ----------------
# With ``checkpoint_dir``, every finished replicate and null block is written (compressed,
# atomically). Running the same diagnostic again reads them back instead of computing
# them; a run killed by the scheduler resumes the same way. Another target, other
# parameters or other data are refused, naming what differs.
checkpoint = tempfile.mkdtemp(prefix="stability-checkpoint-")
resumable = ResampledStability(
    resampling_policy="subsample",
    target_n=0.75,
    n_resamples=100,
    random_state=0,
    progress=False,
    checkpoint_dir=checkpoint,
)
seconds = []
for _ in range(2):
    start = time.perf_counter()
    outputs = resumable.transform(result)
    seconds.append(time.perf_counter() - start)
print(f"first run {seconds[0]:.1f} s, second run (read back) {seconds[1]:.1f} s")
print(sorted(os.listdir(checkpoint))[:4], "...")
try:
    ResampledStability(
        resampling_policy="subsample",
        target_n=0.75,
        n_resamples=100,
        alpha=0.04,
        random_state=0,
        progress=False,
        checkpoint_dir=checkpoint,
    ).transform(result)
except ValueError as error:
    print(error)

# %%
# On a Dask cluster
# -----------------
# On an HPC system, start a scheduler and workers (``dask scheduler``, ``dask worker
# tcp://scheduler:8786``, or dask-jobqueue) and connect a client to its address; here a
# local cluster of two workers (threads of this process, so that the example runs as a
# plain script too) stands in for it. Everything joblib runs inside
# ``parallel_config(backend="dask")`` goes to the workers: the replicates' thresholds and
# null blocks of the fast engine, whole replicates of the refit engine.
#
# .. code-block:: python
#
#     with Client("tcp://scheduler:8786"), parallel_config(backend="dask"):
#         stability = ResampledStability(..., checkpoint_dir="/scratch/run").transform(result)
#
# The command line does the same with ``--dask-scheduler tcp://scheduler:8786``.
with LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
) as cluster, Client(cluster), parallel_config(backend="dask"):
    on_dask = resumable.set_params(checkpoint_dir=None).transform(result)
same = np.array_equal(on_dask.maps[STEM], outputs.maps[STEM]) and on_dask.tables[
    f"{STEM}_tab-clusters"
].equals(outputs.tables[f"{STEM}_tab-clusters"])
print(f"Dask run identical to the local run: {same}")
