"""
Stability diagnostics on the pain meta-analysis: Jackknife vs. ResampledStability
=================================================================================

A meta-analysis found clusters; how much should we trust them? NiMARE ships two post-hoc
diagnostics that answer from different angles, and this example runs them side by side on
the same result, with this package's :class:`~nimare_stability.ResampledStability` in the
place of NiMARE's own.

- :class:`nimare.diagnostics.Jackknife` asks *which analyses drive each cluster?* It
  refits the meta-analysis without each analysis in turn and reports how much of the
  cluster's statistic that analysis contributed.
- :class:`~nimare_stability.ResampledStability` asks *how often does each voxel stay
  significant when the set of analyses changes?* Each replicate is refitted **and
  re-corrected as the baseline was** (the same Monte Carlo FWE correction, with a null
  drawn from the replicate's own analyses), and its significant voxels are those with
  p < 0.05 in the replicate's own corrected map. The stability map is the fraction of
  replicates in which each voxel is significant: 0 = never, 1 = always.

The data are NiMARE's bundled pain studyset: 21 analyses, one per study, 267 foci.

.. note::

    Every example of this gallery reads its Monte Carlo iterations from the environment
    variable ``NIMARE_STABILITY_DOCS_ITERS`` (default 1000; the documentation build sets
    100 to run quickly). Use 5000 or more iterations, and 100 or more random replicates,
    for a paper.
"""

import os

import matplotlib.pyplot as plt
import pandas as pd
from nimare.correct import FWECorrector
from nimare.diagnostics import Jackknife
from nimare.meta.cbma import ALE

from nimare_stability import ResampledStability, RobustnessVerdict, plotting, robustness_table
from nimare_stability.datasets import load_pain

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))
# Random replicates per policy: fewer in the quick documentation build.
N_RESAMPLES = 100 if N_ITERS >= 1000 else 30
TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)
pd.set_option("display.max_colwidth", 60)

# %%
# Fit and correct the meta-analysis
# ---------------------------------
# ALE, then cluster-level Monte Carlo FWE correction (cluster-forming threshold
# p < .001). The target of every diagnostic below is the cluster-size corrected z map.
pain = load_pain()
result = ALE(random_state=0).fit(pain)
result = FWECorrector(method="montecarlo", n_iters=N_ITERS).transform(result)
print(f"{len(pain.ids)} analyses; target: {TARGET}")

# %%
# Jackknife: which analyses drive each cluster?
# ---------------------------------------------
# NiMARE's Jackknife needs a threshold on the target: 1.65 on a one-tailed corrected z
# map is p < .05, the same support our diagnostics read from the map's own p values, so
# both find the same clusters (and NiMARE's workflows pass exactly this threshold).
# Jackknife writes its cluster label map and its per-analysis contribution table into
# the result it is given.
result = Jackknife(target_image=TARGET, target_threshold=1.65).transform(result)
result.tables[f"{TARGET}_diag-Jackknife_tab-counts_tail-positive"].head()

# %%
# ResampledStability: leave one analysis out
# -------------------------------------------
# 21 replicates, each leaving one analysis out. Our diagnostics return a new result and
# never modify the one they are given; it already holds Jackknife's outputs, so
# ``loo`` holds both.
loo = ResampledStability(target_image=TARGET, random_state=0, progress=False).transform(result)
stem = f"{TARGET}_diag-ResampledStability"
loo.tables[f"{stem}_tab-clusters"]

# %%
# One row per baseline cluster: ``cluster_id`` is the value of the cluster in the label
# map (the same id as Jackknife's ``PositiveTail <id>`` columns), ``mean`` the mean voxel
# stability, ``detection_rate`` the share of replicates in which any voxel of the
# cluster stays significant. A cluster whose detection rate is below 1 vanishes without
# some analysis.
#
# The overview: the baseline map, its cluster labels and the stability map, on the same
# slices.
plotting.plot_overview(loo)

# %%
# The stability map alone, as an axial mosaic and as a glass brain.
plotting.plot_stability(loo, kind="mosaic", title="Leave-one-out stability")

# %%
plotting.plot_stability(loo, kind="glass", title="Leave-one-out stability (glass brain)")

# %%
# Stability per cluster
# ---------------------
# Each cluster's mean voxel stability (point) and its range over the cluster's voxels
# (line); dashed lines mark 0.5 and 0.8.
plotting.plot_cluster_stability(loo)

# %%
# Which analyses does each cluster need?
# --------------------------------------
# Left: ours, the share of the replicates without an analysis in which the cluster
# vanished (with leave-one-out: 1 = the cluster vanishes without that analysis).
# Right: Jackknife's contribution of each analysis to each cluster's statistic. The two
# agree on which analyses matter; only ours says whether the cluster survives without
# them.
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6), layout="constrained")
plotting.plot_influence(loo, axes=left)
plotting.plot_influence(loo, diagnostic="Jackknife", axes=right)
right.tick_params(labelleft=False)

# %%
# Other resampling policies
# -------------------------
# Leaving one analysis out is a mild perturbation. Leaving two out, or keeping a random
# 75% of the analyses, asks more of each cluster; random policies draw distinct subsets
# from ``random_state``.
runs = {
    "leave one out": loo,
    "leave two out": ResampledStability(
        target_image=TARGET,
        resampling_policy="leave_k_out",
        k=2,
        n_resamples=N_RESAMPLES,
        random_state=0,
        progress=False,
    ).transform(result),
    "subsample 75%": ResampledStability(
        target_image=TARGET,
        resampling_policy="subsample",
        target_n=0.75,
        n_resamples=N_RESAMPLES,
        random_state=0,
        progress=False,
    ).transform(result),
}
plotting.plot_stability_histogram(runs)

# %%
# The numbers behind the histogram: voxels significant in any replicate, in at least
# half and in at least 80% of them.
plotting.policy_table(runs)

# %%
# A verdict per cluster
# ---------------------
# :func:`~nimare_stability.robustness_table` joins the evidence present in the result
# (here stability, which single removals sink a cluster, and Jackknife's largest
# contribution) into a verdict with its reason. A cluster that vanishes without one
# analysis is ``fragile``; one that survives every single removal is still only
# ``undetermined``: leave-one-out cannot show that no two or three analyses sink it, and
# the reason says what to add. :ref:`sphx_glr_auto_examples_plot_robustness_profile.py`
# adds fragility and the fail-safe N, and with them the ``robust`` verdict.
table = robustness_table(loo, TARGET)
for row in table.itertuples():
    print(f"cluster {row.cluster_id}: {row.verdict}: {row.reason}")

# %%
# :class:`~nimare_stability.RobustnessVerdict` writes the same table into a new result
# (``<target>_tab-robustness``, the workflow step ``"robustness"``); with it there, the
# per-cluster plot colours each cluster by its verdict.
judged = RobustnessVerdict(target_image=TARGET).transform(loo)
plotting.plot_cluster_stability(judged)

# %%
# Jackknife and ResampledStability at a glance
# --------------------------------------------
#
# .. list-table::
#    :header-rows: 1
#    :widths: 24 38 38
#
#    * -
#      - NiMARE's Jackknife
#      - ResampledStability (this package)
#    * - Question
#      - Which analyses drive each cluster?
#      - How often is each voxel significant under resampling?
#    * - Output
#      - analysis × cluster contribution to the statistic
#      - voxelwise stability map, sampling error, cluster, replicate and influence tables
#    * - Replicates
#      - leave one analysis out (statistic only, no correction)
#      - any policy: leave one or k out, subsample, by study or lab, scikit-learn
#        splitters; each replicate refitted and corrected as the baseline
#    * - Says whether a cluster survives without an analysis
#      - no
#      - yes (``detection_rate``, influence table)
#
# Run both: Jackknife says who drives a cluster, stability says whether it holds.
