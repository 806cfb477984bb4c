"""
Choosing a resampling policy
============================

A stability map answers "would this cluster still be significant had the literature been
a little different?". The *resampling policy* says what "a little different" means: which
analyses each replicate keeps. This example runs the built-in policies on one simulated
meta-analysis and says when to use each.

- **Leave one out** (``"leave_1_out"``, the default): n replicates, each without one
  analysis. Exhaustive, so no sampling error. Asks: does a cluster rest on one analysis?
  The first check for small meta-analyses (up to a few dozen analyses).
- **Leave k out** (``"leave_k_out"``, ``k=2``): does a cluster rest on a pair of
  analyses? All C(n, k) subsets when there are at most 1000, otherwise ``n_resamples``
  random distinct ones.
- **Subsample** (``"subsample"``, ``target_n=0.75``): what if only 75% of the literature
  existed? A stronger perturbation that lowers every cluster's stability; compare
  clusters with each other, report the sampling error, and use it for large
  meta-analyses where leaving one out barely moves anything.
- **Grouped** (``"leave_group_out"``, ``"subsample_groups"`` with ``groups="study"``):
  when a paper reports several analyses (contrasts of the same participants, or one lab's
  series), the analyses are not independent, and the unit to leave out is the paper. The
  same policies exist with ``groups=`` a metadata column (say, a lab) or a mapping from
  analysis id to label.

Stratified subsampling (``"stratified_subsample"`` with ``strata=``) keeps the share of
each stratum (a task, a population) in every replicate; any scikit-learn splitter is
accepted too.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from nimare.correct import FWECorrector
from nimare.generate import create_coordinate_studyset
from nimare.meta.cbma import ALE
from nimare.nimads import Studyset

from nimare_stability import ResampledStability, plotting

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))
# Random replicates per random policy: fewer in the quick documentation build.
N_RESAMPLES = 100 if N_ITERS >= 1000 else 40
TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)

# %%
# A meta-analysis whose papers report several analyses
# ----------------------------------------------------
# 24 simulated analyses with two true regions, each reported by 60% of them. We deal
# them to 14 papers: two papers report three analyses, six report two, six report one.
# The three analyses of ``paper-01`` (three contrasts of the same participants) also
# all report the same extra spot at (30, 10, 10), and no other paper does: a cluster
# that rests on one paper.
_, simulated = create_coordinate_studyset(
    foci=[(40, -20, 50), (-44, -60, 20)],
    foci_percentage="60%",
    fwhm=10,
    sample_size=30,
    n_studies=24,
    n_noise_foci=3,
    seed=1,
)
analyses = [a for study in simulated.to_dict()["studies"] for a in study["analyses"]]
rng = np.random.default_rng(0)
papers, start = [], 0
for number, size in enumerate([3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1], start=1):
    contrasts = []
    for j, analysis in enumerate(analyses[start : start + size], start=1):
        analysis = {**analysis, "id": f"contrast-{j}", "name": f"contrast-{j}"}
        if number == 1:
            spot = np.array([30.0, 10.0, 10.0]) + rng.normal(0, 1.5, size=(10, 3))
            extra = [{"coordinates": xyz.tolist(), "space": "MNI"} for xyz in spot]
            analysis["points"] = analysis["points"] + extra
        contrasts.append(analysis)
    papers.append(
        {"id": f"paper-{number:02d}", "name": f"paper-{number:02d}", "analyses": contrasts}
    )
    start += size
studyset = Studyset({"id": "simulated", "name": "Simulated papers", "studies": papers})
print(f"{len(studyset.ids)} analyses in {len(set(studyset.study_ids))} papers")
print(", ".join(str(id_) for id_ in studyset.ids[:4]), "...")

result = ALE(random_state=0).fit(studyset)
result = FWECorrector(method="montecarlo", n_iters=N_ITERS).transform(result)

# %%
# Five policies on the same result
# --------------------------------
# ``groups="study"`` reads each analysis's paper from the Studyset. Every run has the same
# ``random_state``; the replicates' seeds are recorded in their ``_tab-replicates``.
policies = {
    "leave one out": {"resampling_policy": "leave_1_out"},
    "leave two out": {"resampling_policy": "leave_k_out", "k": 2, "n_resamples": N_RESAMPLES},
    "subsample 75%": {
        "resampling_policy": "subsample",
        "target_n": 0.75,
        "n_resamples": N_RESAMPLES,
    },
    "leave one paper out": {"resampling_policy": "leave_group_out", "groups": "study"},
    "subsample 75% of papers": {
        "resampling_policy": "subsample_groups",
        "groups": "study",
        "target_n": 0.75,
        "n_resamples": N_RESAMPLES,
    },
}
runs = {
    label: ResampledStability(
        target_image=TARGET, random_state=0, progress=False, **options
    ).transform(result)
    for label, options in policies.items()
}
plotting.policy_table(runs)

# %%
# The subsampling policies lower the stability of every voxel: fewer analyses, less
# power. Leave-one-out keeps most voxels near 1.
plotting.plot_stability_histogram(runs)

# %%
# The cluster that rests on one paper
# -----------------------------------
# Per cluster, the share of replicates in which it is detected at all. Leaving out any
# one *analysis* never sinks the spot at (30, 10, 10): two contrasts of ``paper-01``
# remain. Leaving out the *paper* does. Leaving two out and subsampling sink it too,
# whenever a replicate happens to drop two of its three contrasts, but only the grouped
# policies say that the cluster rests on one paper.
stem = f"{TARGET}_diag-ResampledStability"
clusters = runs["leave one out"].tables[f"{stem}_tab-clusters"]  # the same in every run
detection = pd.DataFrame(
    {
        label: run.tables[f"{stem}_tab-clusters"]["detection_rate"].to_numpy()
        for label, run in runs.items()
    },
    index=[f"({c.peak_x:.0f}, {c.peak_y:.0f}, {c.peak_z:.0f})" for c in clusters.itertuples()],
)
detection.round(2)

# %%
# With a leave-one-group-out policy, the influence table has one row per paper: 1 where
# the cluster vanished without that paper.
plotting.plot_influence(runs["leave one paper out"])

# %%
# The stability maps of leave one analysis out and leave one paper out barely differ:
# a cluster that vanishes without one of 14 papers still has a mean stability of about
# 13/14. Stability alone cannot flag it; the detection rate and the influence table can
# (and :func:`~nimare_stability.robustness_table` turns them into a verdict).
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5))
for axes, label in ((top, "leave one out"), (bottom, "leave one paper out")):
    plotting.plot_stability(runs[label], axes=axes, title=label, cut_coords=[10, 50])

# %%
# Sampling error
# --------------
# Exhaustive schedules (leave one out, leave one paper out) have no sampling error.
# Random schedules do: each result holds a ``_stat-se`` map, the standard error of each
# voxel's stability (with a finite-population correction). With ``n_resamples`` random
# subsets it is at most ``0.5 / sqrt(n_resamples)``.
for label, run in runs.items():
    se = np.asarray(run.maps[f"{stem}_stat-se"])
    print(f"{label:>24}: largest standard error {se.max():.3f}")

# %%
# In short
# --------
# - Start with **leave one out**; if papers report several analyses, **leave one paper
#   out** instead (``groups="study"``), or both.
# - Add **leave k out** or **subsampling** to see which clusters hold under stronger
#   perturbation, with at least 100 random replicates for a paper, and report the
#   policy, ``target_n``/``k``, the number of replicates and ``random_state``
#   (all in ``_tab-summary``).
