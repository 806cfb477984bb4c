"""
How stable are the pain ALE clusters?
=====================================

NiMARE's bundled pain studyset holds 21 analyses. An ALE meta-analysis corrected by
cluster-level Monte Carlo FWE finds a handful of clusters. Would they survive had one
study never been published? :class:`~nimare_stability.ResampledStability` refits and
re-corrects the meta-analysis without each analysis in turn and maps how often each voxel
stays significant.
"""
import os

import matplotlib.pyplot as plt
from nilearn.plotting import plot_stat_map
from nimare.correct import FWECorrector
from nimare.diagnostics import Jackknife
from nimare.meta.cbma import ALE
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

from nimare_stability import ResampledStability, robustness_table

###############################################################################
# Fit and correct the meta-analysis
# ---------------------------------
pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
result = ALE(random_state=0).fit(pain)
result = FWECorrector(method="montecarlo", n_iters=500).transform(result)
target = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"

###############################################################################
# Leave one analysis out, 21 times
# --------------------------------
# Each replicate is corrected as the baseline was, with its own Monte Carlo null.
result = ResampledStability(target_image=target, random_state=0).transform(result)
stem = f"{target}_diag-ResampledStability"
print(result.tables[f"{stem}_tab-clusters"])

###############################################################################
# The stability map: 1 = significant in every replicate
display = plot_stat_map(
    result.get_map(stem), vmax=1, cmap="viridis", cut_coords=(0, -20, 10),
    title="Leave-one-out stability", figure=plt.figure(figsize=(9, 3)),
)

###############################################################################
# A verdict per cluster
# ---------------------
# Jackknife says how much each analysis contributes to each cluster; joined with the
# stability and with which single removals sink it, each cluster gets a verdict and the
# reason for it (see plot_robustness_profile.py for fragility and fail-safe N).
result = Jackknife(target_image=target, target_threshold=1.65).transform(result)
table = robustness_table(result, target)
for _, row in table.iterrows():
    print(f"cluster {row['cluster_id']}: {row['verdict']}: {row['reason']}")
