"""
Which clusters can a paper trust? A robustness profile per cluster
==================================================================

A significant cluster is not yet a finding. It may rest on two or three analyses that
happen to report the same spot, or it may vanish as soon as a few unpublished null
studies are imagined. This example builds a per-cluster robustness profile:

- **stability** (:class:`~nimare_stability.ResampledStability`, leave one analysis out):
  how often each voxel stays significant;
- **fragility** (:class:`~nimare_stability.Fragility`): the fewest analyses whose removal
  makes the cluster vanish;
- **fail-safe N** (:class:`~nimare_stability.FailSafeN`, Acar et al., 2018): how many null
  analyses it withstands;
- the **largest contribution** of one analysis (:class:`~nimare_stability.Jackknife`);
- a **verdict and its reason** (:func:`~nimare_stability.robustness_table`): ``robust``
  only when all four were measured and passed.

First on simulated data whose truth we know, then on NiMARE's pain studyset.

.. note::

    The Monte Carlo iterations come from ``NIMARE_STABILITY_DOCS_ITERS`` (default 1000;
    use 5000 or more in a paper). Below 1000, as in the quick documentation build, the
    fail-safe N searches fewer drawers (2 instead of 10) up to 5 instead of 10 times as
    many null analyses as real ones.
"""

import os

import numpy as np
import pandas as pd
from nimare.correct import FWECorrector
from nimare.generate import create_coordinate_studyset
from nimare.meta.cbma import ALE

from nimare_stability import (
    FailSafeN,
    Fragility,
    Jackknife,
    ResampledStability,
    RobustnessVerdict,
    plotting,
    robustness_table,
)
from nimare_stability.datasets import load_pain

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)
pd.set_option("display.max_colwidth", 40)
N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))
# The fail-safe N's search: cheaper in the quick documentation build.
FAILSAFE = {"n_drawers": 10, "max_multiple": 10}
if N_ITERS < 1000:
    FAILSAFE = {"n_drawers": 2, "max_multiple": 5}
TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def profile(result):
    """Run the four diagnostics on ``result`` and return it with the verdict table."""
    common = {"target_image": TARGET, "random_state": 0, "progress": False}
    result = Jackknife(target_image=TARGET, progress=False).transform(result)
    result = ResampledStability(**common).transform(result)
    result = Fragility(**common).transform(result)
    result = FailSafeN(**FAILSAFE, **common).transform(result)
    return result, robustness_table(result, TARGET)


###############################################################################
# A simulated meta-analysis with a planted truth
# ----------------------------------------------
# Thirty analyses; two true regions, each reported by 60% of them. Then three
# analyses (and nobody else) report the same tight patch of foci at (30, 10, 10):
# a region that rests on exactly three analyses.
true_regions = [(40, -20, 50), (-44, -60, 20)]
_, simulated = create_coordinate_studyset(
    foci=true_regions,
    foci_percentage="60%",
    fwhm=10,
    sample_size=30,
    n_studies=30,
    n_noise_foci=3,
    seed=1,
)
rng = np.random.default_rng(0)
patch = np.array([30, 10, 10]) + rng.normal(0, 1.5, size=(12, 3))
few = [3, 11, 17]
simulated = simulated.with_points(np.repeat(few, 12), np.tile(patch, (3, 1)), space="MNI")
print("the patch's analyses:", ", ".join(str(simulated.ids[i]) for i in few))

result = FWECorrector(method="montecarlo", n_iters=N_ITERS).transform(ALE().fit(simulated))
result, table = profile(result)
print(table.drop(columns="reason"))

###############################################################################
# Read the verdicts with their reasons. The true regions are ``robust``; the patch is
# significant, yet ``fragile``: it vanishes without one of its three analyses (in
# leave-one-out its mean stability is still about 27/30 = 0.9, which is why stability
# alone cannot flag it), and it withstands far fewer null analyses.
for _, row in table.iterrows():
    print(f"cluster {row['cluster_id']}: {row['verdict']}: {row['reason']}")

###############################################################################
# :class:`~nimare_stability.RobustnessVerdict` (the workflow step ``"robustness"``)
# writes the same table into the result; the per-cluster stability plot then colours
# each cluster by its verdict. The patch's stability is as high as the true regions':
# only the verdict tells them apart.
plotting.plot_cluster_stability(RobustnessVerdict(target_image=TARGET).transform(result))

###############################################################################
# What the columns mean
# ---------------------
# - ``mean_stability``, ``detection_rate``: mean voxel stability in the cluster, and the
#   share of replicates in which any of its voxels is significant;
# - ``vanishes_without``: the analyses whose single removal sinks the cluster;
# - ``n_contributing``: analyses with modeled activation inside the cluster;
# - ``fragility``: the fewest analyses whose removal sinks it (searched exhaustively up to
#   two, greedily by contribution beyond; ``"> 10"`` when ten are not enough), and
#   ``fragility_removed``: which ones;
# - ``fsn_mean``, ``fsn_min``, ``fsn_per_analysis``: the fail-safe N over the drawers of
#   null analyses (``n_drawers``, 10 by default; per analysis: relative to the number of
#   real ones), ``fsn_censored``: it survived the maximum (``max_multiple`` times as many
#   null analyses as real ones, 10 by default) in a drawer.
#
# The thresholds of the verdict are parameters of ``robustness_table``; their defaults
# and the reasons for them are in its documentation.

###############################################################################
# The pain meta-analysis
# ----------------------
# 21 analyses, one per study: just above the 17-20 experiments Eickhoff et al. (2016)
# recommend at the least, so expect some fragile clusters.
pain = load_pain()
result = FWECorrector(method="montecarlo", n_iters=N_ITERS).transform(ALE(random_state=0).fit(pain))
result, table = profile(result)
print(table.drop(columns="reason"))
for _, row in table.iterrows():
    print(f"cluster {row['cluster_id']}: {row['verdict']}: {row['reason']}")

###############################################################################
# How to report it
# ----------------
# Each diagnostic appends a sentence to the result's boilerplate, with references in
# ``result.bibtex_``; ``result.save_tables(...)`` writes every table as TSV. A paper can
# report, per cluster, its fragility, its fail-safe N (mean and range over drawers) and
# the verdict with its reason, next to the peak table.
print(result.description_)
print(result.bibtex_)
