"""``null="shared"``: one null per replicate size from random subsets of that size, checked
against NiMARE's own Monte Carlo nulls of ALE fits on the same subsets."""

from dataclasses import replace

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


def _recording_subsets(engine):
    """Return the list to which ``engine`` appends every subset it computes a threshold of."""
    subsets = []
    thresholds_and_weights = engine.thresholds_and_weights

    def recorded(schedule, n_cores=1):
        subsets.extend(np.asarray(kept) for kept in schedule)
        return thresholds_and_weights(schedule, n_cores)

    engine.thresholds_and_weights = recorded
    return subsets


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
    subsets = _recording_subsets(engine)
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


def _block_seeds(n_blocks):
    """Block ``b``'s seed: child ``b`` of the null seed's second child (the first orders)."""
    return child_sequences(child_sequences(np.random.SeedSequence(NULL_SEED), 2)[1], n_blocks)


def _alone(engine, subset, seed):
    """``null_maxima`` of one subset alone, at its own threshold, for one block."""
    layout = engine.layout
    threshold, _ = FastEngine.thresholds_and_weights(engine, [subset])
    retained = np.isin(np.arange(layout.n_analyses), subset)[None]
    return null_maxima(layout, retained, threshold, SHARED_SUBSET_ITERATIONS, seed)


def test_each_block_is_its_subsets_null_drawn_from_the_blocks_seed(shared_null):
    """Block ``b`` of size ``m``'s null is ``null_maxima`` of its subset, at its threshold,
    from the block's seed."""
    engine, nulls, subsets = shared_null
    for b, (subset, seed) in enumerate(zip(subsets, _block_seeds(N_SUBSETS))):
        block = slice(b * SHARED_SUBSET_ITERATIONS, (b + 1) * SHARED_SUBSET_ITERATIONS)
        for got, expected in zip(nulls, _alone(engine, subset, seed)):
            np.testing.assert_array_equal(got[0, block], expected[0])


def test_sizes_share_each_blocks_random_foci_on_nested_subsets(shared_null):
    """With several sizes, each block's subsets are the first ``m`` of one random order
    (nested), and each size's block is still its own subset's null drawn alone from the
    block's seed: one pass serves every size, with the same maxima."""
    engine, _, _ = shared_null
    sizes, n_blocks = (8, 13, 17), 2
    engine = FastEngine(replace(engine.inputs, n_iters=n_blocks * SHARED_SUBSET_ITERATIONS))
    subsets = _recording_subsets(engine)
    replicates = [np.arange(size) for size in (17, 8, 13, 8)]
    nulls = engine._shared_nulls(engine.layout, replicates, 2, False)
    assert [len(subset) for subset in subsets] == list(sizes) * n_blocks
    for b, seed in enumerate(_block_seeds(n_blocks)):
        block_subsets = subsets[b * len(sizes) : (b + 1) * len(sizes)]
        for smaller, larger in zip(block_subsets, block_subsets[1:]):
            assert set(smaller) < set(larger)
        block = slice(b * SHARED_SUBSET_ITERATIONS, (b + 1) * SHARED_SUBSET_ITERATIONS)
        for subset in block_subsets:
            rows = [r for r, kept in enumerate(replicates) if len(kept) == len(subset)]
            for got, expected in zip(nulls, _alone(engine, subset, seed)):
                for row in rows:
                    np.testing.assert_array_equal(got[row, block], expected[0])
    assert len({tuple(subsets[s]) for s in range(0, len(subsets), len(sizes))}) == n_blocks


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
