"""
Many analyses per study: leave studies out, not analyses
========================================================

A real meta-analysis often counts several analyses (contrasts) per paper. They share
participants, scanner and authors: removing one of them is not removing a study. NiMARE
ships such a set, 906 NeuroStore analyses of n-back and flanker tasks from 320 studies;
:func:`nimare_stability.datasets.load_nback_flanker` returns either task ready for ALE,
with each analysis's sample size read from the demographics annotations.

Here, the flanker analyses: a fast Jackknife that leaves out one analysis, then one study
at a time, and a stability map over random sets of 75% of the studies, each replicate with
its own exact Monte Carlo null.
"""

import os

import pandas as pd
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE

import nimare_stability.plotting
from nimare_stability import Jackknife, ResampledStability
from nimare_stability.datasets import load_nback_flanker

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))
TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"

pd.set_option("display.width", 120)

# %%
# The flanker analyses
# --------------------
# Two analyses report no participant count: they are left out (and logged), never given a
# made-up sample size.
flanker = load_nback_flanker("flanker")
per_study = flanker.metadata["study_id"].value_counts()
print(f"{len(flanker.ids)} analyses from {per_study.size} studies")
print(per_study.value_counts().sort_index().rename("studies with this many analyses"))

# %%
# ALE, corrected by Monte Carlo FWE at the cluster level.
result = FWECorrector(method="montecarlo", n_iters=N_ITERS).transform(
    ALE(random_state=0).fit(flanker)
)

# %%
# Who carries each cluster: one analysis or one study at a time
# -------------------------------------------------------------
# :class:`~nimare_stability.Jackknife` gives NiMARE's Jackknife tables from MA maps cached
# once (no refit per analysis). With ``groups="study"`` each row is a study: its share of
# a cluster adds up the contributions of all its analyses.
by_analysis = Jackknife(target_image=TARGET, progress=False).transform(result)
by_study = Jackknife(target_image=TARGET, groups="study", progress=False).transform(result)
counts = f"{TARGET}_diag-Jackknife_tab-counts_tail-positive"
for name, diagnosed in (("analysis", by_analysis), ("study", by_study)):
    table = diagnosed.tables[counts].set_index("id").astype(float)
    top = table.max().sort_values(ascending=False).head(3)
    print(f"largest single {name} share per cluster:", top.round(3).to_dict())

# %%
# Stability over random sets of studies
# -------------------------------------
# ``subsample_groups`` keeps all analyses of 75% of the studies per replicate. Each
# replicate is corrected as the baseline was, with its own Monte Carlo null drawn from the
# same random foci as the others (the compiled engine only visits, per replicate, the
# voxels that can pass its threshold).
stability = ResampledStability(
    target_image=TARGET,
    resampling_policy="subsample_groups",
    groups="study",
    target_n=0.75,
    n_resamples=20,
    random_state=0,
    progress=False,
).transform(by_study)
stability.tables[f"{TARGET}_diag-ResampledStability_tab-clusters"].head()

# %%
# Each cluster's stability, coloured by verdict when a verdict was computed.
nimare_stability.plotting.plot_cluster_stability(stability, TARGET)
