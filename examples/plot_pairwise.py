"""
Stability of a pairwise meta-analysis (ALE subtraction)
=======================================================

A subtraction analysis compares two sets of analyses: where does one group report
activation more consistently than the other? Its differences rest on two samples of
studies, so they can be fragile twice over. :class:`~nimare_stability.ResampledStability`
resamples pairwise estimators (:class:`~nimare.meta.cbma.ALESubtraction`,
:class:`~nimare.meta.cbma.MKDAChi2`) with ``resample_group``:

- ``"both"`` (default): the policy runs on the pooled analyses and keeps each analysis
  in its group; subsample sizes apply within each group, leave-one-out gives
  n1 + n2 replicates;
- ``"group1"`` or ``"group2"``: only that group is resampled, the other kept whole.

The data are the two small Sleuth files NiMARE ships: semantic knowledge (21 analyses)
against semantic relatedness (16 analyses) tasks in children.

Pairwise z maps are **two-tailed**: positive where group 1 (knowledge) exceeds group 2,
negative where group 2 exceeds group 1. Each voxel's support is read from the map's own
two-tailed p values, each tail separately, and the stability map carries the sign: its
magnitude is the share of replicates in which the voxel is significant in that tail.

.. note::

    An ALE subtraction draws ``n_iters`` label permutations at every fit, and every
    replicate is a fit: the cost grows with iterations times replicates. This example fits
    :class:`nimare_stability.ALESubtraction`, NiMARE's subtraction with its permutations
    run by a compiled engine (the same maps and nulls as NiMARE's for the same
    ``random_state``, in a fraction of the time); each replicate refits a copy of it. The
    quick documentation build uses 100 permutations and few replicates; with 100
    permutations, p values move in steps of 0.01.
"""

import os

import matplotlib.pyplot as plt
import pandas as pd
from nimare.io import convert_sleuth_to_studyset
from nimare.utils import get_resource_path

from nimare_stability import ALESubtraction, ResampledStability, plotting

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))
# Random replicates: fewer in the quick documentation build.
N_RESAMPLES = 50 if N_ITERS >= 1000 else 8
TARGET = "z_desc-group1MinusGroup2"

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

# %%
# Fit the subtraction
# -------------------
# The target is the subtraction's (uncorrected, permutation-based) z map: with these
# small groups no difference survives Monte Carlo FWE correction, which also costs a
# full set of permutations per iteration. We keep clusters of at least 100 voxels.
knowledge = convert_sleuth_to_studyset(
    os.path.join(get_resource_path(), "semantic_knowledge_children.txt")
)
relatedness = convert_sleuth_to_studyset(
    os.path.join(get_resource_path(), "semantic_relatedness_children.txt")
)
print(f"group 1 (knowledge): {len(knowledge.ids)} analyses")
print(f"group 2 (relatedness): {len(relatedness.ids)} analyses")
result = ALESubtraction(n_iters=N_ITERS, random_state=0).fit(knowledge, relatedness)

# %%
# Subsample both groups
# ---------------------
# Each replicate keeps 80% of each group, drawn at random; every replicate refits the
# subtraction, with its own permutations.
subsampled = ResampledStability(
    target_image=TARGET,
    resampling_policy="subsample",
    target_n=0.8,
    n_resamples=N_RESAMPLES,
    cluster_threshold=100,
    random_state=0,
    progress=False,
).transform(result)
plotting.plot_overview(subsampled, cut_coords=[-40, -20, 0, 20, 40])

# %%
# Outside the baseline clusters, many voxels reach p < .05 in a few replicates: the
# false positives of an uncorrected map come and go. The glass brain shows the voxels
# significant in at least half of the replicates (drawn as the magnitude: each voxel's
# stability in its own tail); keyword arguments go to nilearn.
# sphinx_gallery_thumbnail_number = 2
plotting.plot_stability(
    subsampled, kind="glass", threshold=0.5, title="Subsampling 80% of each group (>= 0.5)"
)

# %%
# Per cluster: ``+`` clusters are knowledge > relatedness, ``-`` the reverse.
plotting.plot_cluster_stability(subsampled)

# %%
# The clusters whose mean stability reaches 0.8:
clusters = subsampled.tables[f"{TARGET}_diag-ResampledStability_tab-clusters"]
clusters.loc[
    clusters["mean"] >= 0.8,
    ["cluster_id", "tail", "peak_x", "peak_y", "peak_z", "n_voxels", "mean"],
]

# %%
# Leave one analysis of one group out
# -----------------------------------
# ``resample_group="group2"`` leaves each relatedness analysis out in turn (16
# replicates) and keeps the knowledge group whole: which group-2 analyses does each
# cluster need?
group2 = ResampledStability(
    target_image=TARGET,
    resample_group="group2",
    cluster_threshold=100,
    random_state=0,
    progress=False,
).transform(result)
fig, axes = plt.subplots(figsize=(12, 5), layout="constrained")
plotting.plot_influence(group2, axes=axes)

# %%
# Side by side: subsampling both groups and leaving out one group-2 analysis.
plotting.plot_stability_histogram(
    {"subsample 80% of each group": subsampled, "leave one group-2 analysis out": group2}
)
