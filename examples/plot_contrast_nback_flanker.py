"""
A contrast at scale: which n-back > flanker differences hold?
=============================================================

NiMARE ships a studyset made for a contrast: NeuroStore analyses of n-back (working
memory) and flanker (conflict) tasks, several analyses per study.
:func:`nimare_stability.datasets.load_nback_flanker` returns either task ready for ALE
(494 n-back and 404 flanker analyses report a sample size).

An ALE subtraction asks where one task's analyses converge more than the other's. Its p
values come from permutations: the analyses of both tasks are pooled and reassigned at
random, thousands of times. NiMARE's :class:`~nimare.meta.cbma.ALESubtraction` recomputes
both groups' ALE maps for each permutation (about a third of a second each on this set);
:class:`nimare_stability.ALESubtraction` is the same estimator, the same maps and nulls for
the same ``random_state``, with its permutations run by a compiled loop over the MA maps
pooled once. Then the question of this package: how much should we trust each difference?

- which analyses carry each difference (:class:`~nimare_stability.Jackknife`: each
  analysis's statistic left out, from the pooled MA maps, no refit);
- does each difference survive losing a fifth of the studies of both tasks
  (:class:`~nimare_stability.ResampledStability` with ``subsample_groups`` by study; every
  replicate's maps equal those of NiMARE's refit of it, permutations included).

Every title below reads "n-back > flanker": positive clusters are stronger in n-back,
negative ones in flanker.
"""

import os

import pandas as pd
from nilearn import plotting as nilearn_plotting

from nimare_stability import ALESubtraction, Jackknife, ResampledStability, plotting
from nimare_stability.datasets import load_nback_flanker

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 5000))
# Random replicates: fewer in the quick documentation build.
N_RESAMPLES = 100 if N_ITERS >= 1000 else 6
TARGET = "z_desc-group1MinusGroup2"
CONTRAST = "n-back > flanker"

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

# %%
# The subtraction
# ---------------
# The target is the subtraction's two-tailed permutation z map, read as p < .05 in each
# tail, in clusters of at least 50 voxels.
nback, flanker = load_nback_flanker("nback"), load_nback_flanker("flanker")
print(f"group 1, n-back: {len(nback.ids)} analyses; group 2, flanker: {len(flanker.ids)}")
result = ALESubtraction(n_iters=N_ITERS, random_state=0).fit(nback, flanker)
nilearn_plotting.plot_stat_map(
    result.get_map(TARGET),
    threshold=1.96,
    display_mode="z",
    cut_coords=[-10, 10, 30, 50],
    title=f"{CONTRAST}: z, |z| > 1.96",
)

# %%
# Who carries each difference
# ---------------------------
# NiMARE's Jackknife refits the subtraction without each analysis, permutations included;
# ours reads each left-out statistic from the pooled MA maps. Positive clusters (n-back >
# flanker) are jackknifed over the n-back analyses, negative ones over the flanker
# analyses.
jackknife = Jackknife(
    target_image=TARGET,
    target_threshold=1.96,
    cluster_threshold=50,
    display_second_group=True,
    progress=False,
).transform(result)
for tail, task in (("positive", "n-back"), ("negative", "flanker")):
    counts = jackknife.tables[f"{TARGET}_diag-Jackknife_tab-counts_tail-{tail}"]
    shares = counts.set_index("id").astype(float)
    print(f"{CONTRAST}, {tail} clusters: largest share of one {task} analysis")
    print(shares.max().sort_values(ascending=False).round(3).head(5).to_string())

# %%
# Stability over studies
# ----------------------
# Each replicate keeps 80% of the studies (all their analyses), drawn within each task.
# The ``"pairwise"`` engine sums each replicate's observed difference from the pooled MA
# maps and runs its own permutations on the compiled loop.
stability = ResampledStability(
    target_image=TARGET,
    resampling_policy="subsample_groups",
    groups="study",
    target_n=0.8,
    n_resamples=N_RESAMPLES,
    cluster_threshold=50,
    random_state=0,
    progress=False,
).transform(jackknife)
summary = stability.tables[f"{TARGET}_diag-ResampledStability_tab-summary"]
print(summary[["engine", "n_resamples", "n_iters", "n_voxels_ge80"]].to_string(index=False))

# %%
# The differences that hold in at least 80% of the replicates, drawn with their sign
# (magnitude: the share of replicates in that tail).
# sphinx_gallery_thumbnail_number = 2
plotting.plot_stability(
    stability, kind="glass", threshold=0.8, title=f"{CONTRAST}: stability >= 0.8"
)

# %%
# Per cluster: ``+`` clusters are n-back > flanker, ``-`` flanker > n-back.
clusters = stability.tables[f"{TARGET}_diag-ResampledStability_tab-clusters"]
columns = ["cluster_id", "tail", "peak_x", "peak_y", "peak_z", "n_voxels", "mean"]
clusters.sort_values("mean", ascending=False)[columns].head(10)
