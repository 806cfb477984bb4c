"""``null="shared"``: one null per replicate size from random subsets of that size, checked
against NiMARE's own Monte Carlo nulls of ALE fits on the same subsets."""

import numpy as np
import pytest
from helpers.null_checks import KEYS, P_MIN, ks_pvalues, shrunk
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE

from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.engines import EngineInputs
from nimare_stability.engines.fast import SHARED_SUBSET_ITERATIONS, FastEngine
from nimare_stability.engines.montecarlo import build_layout, child_sequences, null_maxima

SIZE = 14
#: Random subsets the shared null draws (one per SHARED_SUBSET_ITERATIONS iterations).
N_SUBSETS = 8
OUR_ITERATIONS = N_SUBSETS * SHARED_SUBSET_ITERATIONS
NULL_SEED = 2


@pytest.fixture(scope="module")
def shared_null(pain):
    """Our shared null for replicates of SIZE analyses, and the subsets it drew, in order."""
    estimator = ALE().fit(pain).estimator
    corrector = FWECorrector(method="montecarlo", n_iters=OUR_ITERATIONS)
    inputs = EngineInputs(
        estimator,
        corrector,
        AnalysisSet(estimator),
        None,
        OUR_ITERATIONS,
        "shared",
        null_seed=np.random.SeedSequence(NULL_SEED),
    )
    engine = FastEngine(inputs)
    subsets = []
    thresholds_and_weights = engine.thresholds_and_weights

    def recorded(schedule, n_cores=1):
        subsets.extend(np.asarray(kept) for kept in schedule)
        return thresholds_and_weights(schedule, n_cores)

    engine.thresholds_and_weights = recorded
    replicates = [np.arange(SIZE), np.arange(1, SIZE + 1)]
    nulls = engine._shared_nulls(build_layout(estimator), replicates, 1, False)
    return engine, nulls, subsets


@pytest.fixture(scope="module")
def nimare_null(shared_null, pain, n_iters):
    """NiMARE's nulls, ``2 * n_iters`` iterations in equal parts over the same subsets.

    Each subset gets its own ALE fit and Monte Carlo FWE correction (its own histogram and
    cluster-forming threshold), an independent reference for the shared null's definition.
    """
    engine, _, subsets = shared_null
    ids = engine.inputs.analyses.ids
    theirs = {key: [] for key in KEYS}
    for seed, subset in enumerate(subsets):
        fit = ALE(random_state=seed).fit(pain.slice(list(ids[subset])))
        n_subset = 2 * n_iters // len(subsets)
        corrected = FWECorrector(method="montecarlo", n_iters=n_subset).transform(fit)
        for key in KEYS:
            theirs[key].append(corrected.estimator.null_distributions_[key])
    return {key: np.concatenate(values) for key, values in theirs.items()}


def test_replicates_of_one_size_share_one_null(shared_null):
    _, nulls, _ = shared_null
    for maxima in nulls:
        assert maxima.shape == (2, OUR_ITERATIONS)
        np.testing.assert_array_equal(maxima[0], maxima[1])


def test_shared_null_draws_a_new_random_subset_of_the_size_per_block(shared_null):
    engine, _, subsets = shared_null
    assert len(subsets) == N_SUBSETS
    assert all(len(subset) == SIZE for subset in subsets)
    assert len({tuple(subset) for subset in subsets}) == N_SUBSETS
    assert set(np.concatenate(subsets)) == set(range(engine.inputs.analyses.ids.size))


def test_each_block_is_its_subsets_null_drawn_from_the_blocks_seed(shared_null):
    """Block ``b`` of size ``m``'s null is ``null_maxima`` of its subset, at its threshold,
    from child ``b`` of the size stream's second child (the first draws the subsets)."""
    engine, nulls, subsets = shared_null
    layout = engine.layout
    size_stream = child_sequences(np.random.SeedSequence(NULL_SEED), 1)[0]
    seeds = child_sequences(child_sequences(size_stream, 2)[1], N_SUBSETS)
    for b, (subset, seed) in enumerate(zip(subsets, seeds)):
        threshold, _ = FastEngine.thresholds_and_weights(engine, [subset])
        retained = np.isin(np.arange(layout.n_analyses), subset)[None]
        alone = null_maxima(layout, retained, threshold, SHARED_SUBSET_ITERATIONS, seed)
        block = slice(b * SHARED_SUBSET_ITERATIONS, (b + 1) * SHARED_SUBSET_ITERATIONS)
        for got, expected in zip(nulls, alone):
            np.testing.assert_array_equal(got[0, block], expected[0])


def test_shared_null_matches_nimare_nulls_of_the_same_subsets(shared_null, nimare_null):
    """Two-sample KS of each null against NiMARE's on the same subsets: p >= P_MIN.

    Both samples give every subset the same share of iterations (ours 50, NiMARE's 25), so
    they estimate the same mixture and, stratified, vary less than independent draws
    would: the KS p value is conservative. A null too small fails as one too large does.
    """
    _, nulls, _ = shared_null
    pvalues = ks_pvalues([maxima[0] for maxima in nulls], nimare_null)
    assert min(pvalues.values()) >= P_MIN, pvalues


def test_distribution_check_rejects_a_shared_null_ten_percent_too_small(shared_null, nimare_null):
    """The same check fails once our maxima are scaled by 0.9.

    The maximum statistic's KS rejects it; with 400 and 200 iterations, a shrink of the
    cluster sizes alone is rejected from about 13%, of the masses from about 20%.
    """
    _, nulls, _ = shared_null
    pvalues = ks_pvalues(shrunk([maxima[0] for maxima in nulls], 0.9), nimare_null)
    assert pvalues[KEYS[0]] < P_MIN, pvalues
