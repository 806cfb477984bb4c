"""``null="shared"``: one null per replicate size from random subsets of that size, checked
against NiMARE's own Monte Carlo nulls of ALE fits on random subsets of that size."""

import numpy as np
import pytest
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE

from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.engines import EngineInputs
from nimare_stability.engines.fast import SHARED_SUBSET_ITERATIONS, FastEngine
from nimare_stability.engines.montecarlo import build_layout

KEYS = (
    "values_level-voxel_corr-fwe_method-montecarlo",
    "values_desc-size_level-cluster_corr-fwe_method-montecarlo",
    "values_desc-mass_level-cluster_corr-fwe_method-montecarlo",
)
SIZE = 14
OUR_ITERATIONS = 40 * SHARED_SUBSET_ITERATIONS


@pytest.fixture(scope="module")
def shared_null(pain):
    """Our shared null for replicates of SIZE analyses: (max stat, size, mass) arrays."""
    estimator = ALE().fit(pain).estimator
    corrector = FWECorrector(method="montecarlo", n_iters=OUR_ITERATIONS)
    inputs = EngineInputs(
        estimator,
        corrector,
        AnalysisSet(estimator),
        None,
        OUR_ITERATIONS,
        "shared",
        null_seed=np.random.SeedSequence(2),
    )
    engine = FastEngine(inputs)
    replicates = [np.arange(SIZE), np.arange(1, SIZE + 1)]
    return engine, engine._shared_nulls(build_layout(estimator), replicates, 1, False)


def test_replicates_of_one_size_share_one_null(shared_null):
    _, nulls = shared_null
    for maxima in nulls:
        assert maxima.shape == (2, OUR_ITERATIONS)
        np.testing.assert_array_equal(maxima[0], maxima[1])


def test_shared_null_matches_nimare_nulls_of_random_subsets(shared_null, pain, n_iters):
    """NiMARE's 95th percentile over fits on random SIZE-subsets sits at ours.

    NiMARE: 2 * n_iters iterations, SHARED_SUBSET_ITERATIONS / 2 per random subset (its own
    fit, histogram and cluster-forming threshold), an independent reference for the shared
    null's definition. The engine's CDF at NiMARE's 95th percentile must be 0.95 within four
    standard errors (binomial error of both samples, inflated by 2 for the subset-to-subset
    clustering of the iterations).
    """
    engine, nulls = shared_null
    ids = engine.inputs.analyses.ids
    rng = np.random.default_rng(11)
    per_subset = SHARED_SUBSET_ITERATIONS // 2
    theirs = {key: [] for key in KEYS}
    for _ in range(2 * n_iters // per_subset):
        subset = list(np.sort(rng.choice(ids, SIZE, replace=False)))
        fit = ALE(random_state=int(rng.integers(2**31))).fit(pain.slice(subset))
        corrected = FWECorrector(method="montecarlo", n_iters=per_subset).transform(fit)
        for key in KEYS:
            theirs[key].append(corrected.estimator.null_distributions_[key])
    n_theirs = per_subset * len(theirs[KEYS[0]])
    se = 2 * np.hypot(np.sqrt(0.95 * 0.05 / n_theirs), np.sqrt(0.95 * 0.05 / OUR_ITERATIONS))
    for key, ours in zip(KEYS, nulls):
        cdf_at_theirs = np.mean(ours[0] <= np.quantile(np.concatenate(theirs[key]), 0.95))
        assert abs(cdf_at_theirs - 0.95) < 4 * se, (key, cdf_at_theirs)
