"""The compiled Monte Carlo null engine reproduces NiMARE's null, iteration by iteration."""

import numpy as np
import pytest
from helpers.null_checks import KEYS, P_MIN, ks_pvalues, shrunk
from helpers.reference_engine import reference_maxima
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.utils import _mask_img_to_bool
from scipy import ndimage

from nimare_stability.datasets import load_nback_flanker
from nimare_stability.engines import _numba_candidates as nc
from nimare_stability.engines import montecarlo
from nimare_stability.engines.montecarlo import (
    bound_tail,
    build_layout,
    maxima_for_foci,
    null_maxima,
    null_maxima_each,
    replicate_weights,
)

#: Cluster-forming p threshold (NiMARE's default ``voxel_thresh``).
VOXEL_THRESH = 0.001


@pytest.fixture(scope="module", params=[ALE, MKDADensity, KDA], ids=lambda c: c.__name__)
def fitted(request, pain):
    """A fitted result, its layout and its cluster-forming statistic threshold."""
    return _fit(request.param, pain)


@pytest.fixture(scope="module")
def nback_slice():
    """The first 100 n-back analyses (with sample sizes) of NiMARE's NeuroStore set."""
    nback = load_nback_flanker("nback")
    return nback.slice(list(nback.ids[:100]))


@pytest.fixture(scope="module")
def ale_fitted(pain):
    """ALE on pain: result, layout and threshold."""
    return _fit(ALE, pain)


def _fit(estimator_class, studyset):
    """``(result, layout, stat threshold)`` for a fresh fit on ``studyset``."""
    result = estimator_class(random_state=3).fit(studyset)
    estimator = result.estimator
    return result, build_layout(estimator), estimator._p_to_summarystat(VOXEL_THRESH)


def _random_foci(layout, n_iters, seed):
    """Random foci in ``inputs_["coordinates"]`` row order, as NiMARE draws them."""
    rng = np.random.default_rng(seed)
    return layout.null_ijk[rng.integers(0, len(layout.null_ijk), (n_iters, layout.n_foci))]


def _all_retained(layout):
    return np.ones((1, layout.n_analyses), dtype=bool)


def _leave_one_out(layout):
    return ~np.eye(layout.n_analyses, dtype=bool)


def test_iterations_equal_nimare_given_the_same_foci(fitted):
    result, layout, thresh = fitted
    estimator = result.estimator
    foci = _random_foci(layout, 8, seed=0)
    conn = ndimage.generate_binary_structure(rank=3, connectivity=1)
    mask_arr = _mask_img_to_bool(estimator.masker.mask_img)
    iter_df = estimator.inputs_["coordinates"].drop(columns=["x", "y", "z"]).copy()
    expected = np.array(
        [
            estimator._correct_fwe_montecarlo_permutation(
                ijk, iter_df, conn, thresh, vfwe_only=False, mask_arr=mask_arr
            )
            for ijk in foci
        ],
        dtype=float,
    ).T
    got = np.vstack(maxima_for_foci(layout, foci, _all_retained(layout), thresh))
    assert expected[1].max() > 0, "no cluster formed: the comparison would be vacuous"
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def _mixed_replicates(layout, seed):
    """The full set, leave-one-out and random halves: complement and bounded replicates."""
    rng = np.random.default_rng(seed)
    halves = rng.random((4, layout.n_analyses)) < 0.5
    halves[:, 0] = True
    return np.vstack([_all_retained(layout), _leave_one_out(layout)[:6], halves])


def _assert_equals_the_touched_voxel_engine(layout, foci, retained, thresholds):
    got = maxima_for_foci(layout, foci, retained, thresholds)
    expected = reference_maxima(layout, foci, retained, thresholds)
    assert expected[1].max() > 0, "no cluster formed: the comparison would be vacuous"
    assert np.any(expected[0] < thresholds[:, None]), "no replicate below its threshold"
    for name, new, old in zip(("stat", "size", "mass"), got, expected):
        np.testing.assert_array_equal(new, old, err_msg=name)


def test_candidate_engine_equals_the_touched_voxel_engine_bit_for_bit(fitted):
    """Same random foci: every replicate's maxima are the same floats as the engine before.

    The touched-voxel engine (``helpers/reference_engine.py``) was the package's engine
    before the candidate-voxel one replaced it.

    Thresholds from 0.8x to 3x the baseline's: low ones make large candidate sets, high
    ones leave replicates with no suprathreshold voxel, whose maximum needs the widened
    search.
    """
    _, layout, thresh = fitted
    retained = _mixed_replicates(layout, seed=2)
    thresholds = thresh * np.linspace(0.8, 3.0, len(retained))
    _assert_equals_the_touched_voxel_engine(
        layout, _random_foci(layout, 6, seed=1), retained, thresholds
    )


@pytest.mark.parametrize("estimator_class", [ALE, MKDADensity, KDA], ids=lambda c: c.__name__)
def test_candidate_engine_equals_the_touched_voxel_engine_on_nback(estimator_class, nback_slice):
    """The same on 100 real n-back analyses with per-analysis sample sizes."""
    _, layout, thresh = _fit(estimator_class, nback_slice)
    retained = _mixed_replicates(layout, seed=3)
    thresholds = thresh * np.linspace(0.9, 2.5, len(retained))
    _assert_equals_the_touched_voxel_engine(
        layout, _random_foci(layout, 2, seed=4), retained, thresholds
    )


def _kernel_voxels(rows, values, starts):
    """``{(kernel, di, dj, dk): value}`` of kernel tables' runs."""
    voxels = {}
    for q in range(len(starts) - 1):
        for di, dj, dk0, length, first in rows[starts[q] : starts[q + 1]]:
            for t in range(length):
                voxels[(q, di, dj, dk0 + t)] = values[first + t]
    return voxels


def test_bound_kernels_leave_out_exactly_the_entries_up_to_the_tail(ale_fitted):
    _, layout, thresh = ale_fitted
    tail = bound_tail(layout, replicate_weights(layout, _all_retained(layout)), [thresh])
    tables = layout.kernel_tables(tail)
    full = _kernel_voxels(tables.rows, tables.values, tables.starts)
    kept = _kernel_voxels(tables.bound_rows, tables.bound_values, tables.bound_starts)
    assert kept == {voxel: value for voxel, value in full.items() if -value > tail}
    assert 0 < tables.tail <= tail
    assert tables.tail == max(-value for voxel, value in full.items() if voxel not in kept)


@pytest.mark.parametrize("tail", [1e-5, 1e-4, 1e-3])
def test_what_the_bound_leaves_out_is_bounded_per_block(ale_fitted, tail):
    """The truncated kernels' sums less the blocks' shell sums never exceed the full sums."""
    _, layout, _ = ale_fitted
    everyone = np.ones(layout.n_analyses)
    full, bound = np.zeros(layout.slot.shape[0]), np.zeros(layout.slot.shape[0])
    tables = layout.kernel_tables(tail)
    near = np.zeros(tuple(-(-np.asarray(layout.shape) // nc.NEAR_BLOCK)))
    mask_flat = layout.mask_flat
    for foci in _random_foci(layout, 3, seed=int(1 / tail)):
        grouped = np.ascontiguousarray(foci[layout.focus_rows], dtype=np.int32)
        full[:] = bound[:] = near[:] = 0.0
        nc.stamp_bound(grouped, layout.kernel_tables(0.0), everyone, nc.ALE, full)
        nc.stamp_bound(grouped, tables, everyone, nc.ALE, bound)
        nc.stamp_shell(grouped, tables, everyone, near)
        lowered = bound[mask_flat] - near.ravel()[nc.block_of_voxels(mask_flat, layout.shape)]
        exact = full[mask_flat]
        assert np.all(lowered <= exact + 1e-12 * np.abs(exact))
        left_out = exact - bound[mask_flat]  # what the truncated kernels lack (<= 0)
        assert left_out.min() < 0, "nothing left out: the shell would prove nothing"
        assert np.all(exact - lowered <= layout.n_foci * tail)  # each focus lacks at most tail


def test_maxima_do_not_depend_on_how_much_of_the_kernels_the_bound_leaves_out(
    ale_fitted, monkeypatch
):
    """Untruncated bound kernels, kernels cut so little that one slack serves every voxel,
    the default (slack per block of voxels) and kernels cut so much that nearly every voxel
    is a candidate: the same floats."""
    _, layout, thresh = ale_fitted
    retained = _mixed_replicates(layout, seed=5)
    thresholds = thresh * np.linspace(0.8, 3.0, len(retained))
    foci = _random_foci(layout, 4, seed=6)
    results = []
    for fraction in (0.0, 1e-4, montecarlo.CUT_FRACTION, 5.0):
        monkeypatch.setattr(montecarlo, "CUT_FRACTION", fraction)
        results.append(maxima_for_foci(layout, foci, retained, thresholds))
    assert results[0][1].max() > 0, "no cluster formed: equal sizes would prove little"
    for other in results[1:]:
        for name, got, expected in zip(("stat", "size", "mass"), other, results[0]):
            np.testing.assert_array_equal(got, expected, err_msg=name)


def test_replicates_drawn_apart_equal_each_drawn_alone(ale_fitted):
    """``null_maxima_each`` (one parallel pass) gives each replicate its own ``null_maxima``."""
    _, layout, thresh = ale_fitted
    retained = _leave_one_out(layout)[:3]
    thresholds = thresh * np.array([1.0, 1.1, 0.9])
    n_iters, seeds = [130, 50, 20], [np.random.SeedSequence(s) for s in (1, 2, 3)]
    apart = null_maxima_each(layout, retained, thresholds, n_iters, seeds, n_cores=2)
    for r, maxima in enumerate(apart):
        alone = null_maxima(layout, retained[r : r + 1], thresholds[r], n_iters[r], seeds[r])
        for got, expected in zip(maxima, alone):
            np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module", params=[ALE, MKDADensity], ids=lambda c: c.__name__)
def null_samples(request, pain, n_iters):
    """``(estimator class, ours, theirs)``: the engine's null (2000 iterations) and
    NiMARE's (2 * n_iters), each a max statistic, cluster size and mass per iteration."""
    result, layout, thresh = _fit(request.param, pain)
    nimare = FWECorrector(method="montecarlo", n_iters=2 * n_iters, n_cores=1).transform(result)
    ours = null_maxima(layout, _all_retained(layout), thresh, 2000, np.random.SeedSequence(5))
    return request.param, tuple(m[0] for m in ours), nimare.estimator.null_distributions_


def test_nulls_match_nimare_corrector_in_distribution(null_samples):
    """Two-sample KS of each null (max statistic, cluster size, cluster mass) against
    NiMARE's: p >= P_MIN, so a null too small fails as a null too large does."""
    _, ours, theirs = null_samples
    pvalues = ks_pvalues(ours, theirs)
    assert min(pvalues.values()) >= P_MIN, pvalues


def test_distribution_check_rejects_a_null_ten_percent_too_small(null_samples):
    """The same check, on the same samples, fails once the engine's maxima are scaled by 0.9.

    Against NiMARE's 200 iterations, KS detects a 10% shrink of the maximum statistic
    (both estimators) and of ALE's maximum cluster size; MKDA's cluster nulls, heavy
    tailed, only from about a third, and ALE's cluster mass from about 15%.
    """
    estimator_class, ours, theirs = null_samples
    pvalues = ks_pvalues(shrunk(ours, 0.9), theirs)
    detected = KEYS[:2] if estimator_class is ALE else KEYS[:1]
    assert all(pvalues[key] < P_MIN for key in detected), pvalues


def test_joint_replicates_equal_each_replicate_run_alone(fitted):
    _, layout, thresh = fitted
    retained = np.vstack([_all_retained(layout), _leave_one_out(layout)])
    thresholds = thresh * np.linspace(1.0, 1.2, len(retained))
    joint = null_maxima(layout, retained, thresholds, 120, np.random.SeedSequence(9))
    for r in (0, 1, 7, len(retained) - 1):
        alone = null_maxima(
            layout, retained[r : r + 1], thresholds[r], 120, np.random.SeedSequence(9)
        )
        for got, expected in zip(joint, alone):
            np.testing.assert_array_equal(got[r], expected[0])


def _nested(layout, n_replicates, seed, in_order):
    """Nested replicates, analyses added one group at a time (FailSafeN's sizes).

    ``in_order``: each group's analyses come after the one before's (FailSafeN's null
    analyses follow the real ones), else random ones.
    """
    order = np.arange(layout.n_analyses)
    if not in_order:
        order = np.random.default_rng(seed).permutation(layout.n_analyses)
    retained = np.zeros((n_replicates, layout.n_analyses), dtype=bool)
    for r, stop in enumerate(np.linspace(layout.n_analyses // 3, layout.n_analyses, n_replicates)):
        retained[r, order[: int(stop)]] = True
    return retained


@pytest.mark.parametrize("in_order", [True, False], ids=["in-order", "random-order"])
def test_nested_replicates_judged_on_their_own_bounds_equal_the_joint_pass(fitted, in_order):
    """Thresholds rising several-fold with the size, as FailSafeN's grid has them."""
    _, layout, thresh = fitted
    retained = _nested(layout, 4, seed=5, in_order=in_order)
    thresholds = thresh * np.linspace(0.9, 2.5, len(retained))
    joint = null_maxima(layout, retained, thresholds, 60, np.random.SeedSequence(2))
    nested = null_maxima(layout, retained, thresholds, 60, np.random.SeedSequence(2), nested=True)
    assert joint[1].max() > 0, "no cluster formed: equal sizes would prove little"
    below = joint[0] < thresholds[:, None]
    assert below.any(), "every maximum passed its threshold: no replicate was judged alone"
    for got, expected in zip(nested, joint):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("in_order", [True, False], ids=["in-order", "random-order"])
def test_nested_replicates_on_nback_equal_each_drawn_alone(nback_slice, in_order):
    _, layout, thresh = _fit(ALE, nback_slice)
    retained = _nested(layout, 3, seed=6, in_order=in_order)
    thresholds = thresh * np.array([1.0, 1.6, 2.2])
    nested = null_maxima(layout, retained, thresholds, 4, np.random.SeedSequence(3), nested=True)
    for r in range(len(retained)):
        alone = null_maxima(
            layout, retained[r : r + 1], thresholds[r], 4, np.random.SeedSequence(3)
        )
        for got, expected in zip(nested, alone):
            np.testing.assert_array_equal(got[r], expected[0])


def test_nested_is_refused_for_replicates_that_are_not(ale_fitted):
    _, layout, thresh = ale_fitted
    with pytest.raises(ValueError, match="nested=True needs replicates that each keep"):
        null_maxima(layout, _leave_one_out(layout)[:2], thresh, 10, 0, nested=True)
    retained = _leave_one_out(layout)[:3]
    with pytest.raises(ValueError, match=r"groups\[1\] needs replicates that each keep"):
        null_maxima_each(layout, retained, [thresh] * 3, [10, 10], [0, 1], groups=[[0], [1, 2]])


def test_results_do_not_depend_on_n_cores(ale_fitted):
    _, layout, thresh = ale_fitted
    retained = _leave_one_out(layout)[:4]
    one = null_maxima(layout, retained, thresh, 250, np.random.SeedSequence(11), n_cores=1)
    two = null_maxima(layout, retained, thresh, 250, np.random.SeedSequence(11), n_cores=2)
    assert one[1].max() > 0, "no cluster formed: equal sizes would prove little"
    for got, expected in zip(two, one):
        np.testing.assert_array_equal(got, expected)


def test_seed_sequence_is_not_advanced(ale_fitted):
    _, layout, thresh = ale_fitted
    seeds = np.random.SeedSequence(4)
    first = null_maxima(layout, _all_retained(layout), thresh, 20, seeds)
    assert seeds.n_children_spawned == 0
    again = null_maxima(layout, _all_retained(layout), thresh, 20, 4)
    np.testing.assert_array_equal(first[0], again[0])


def test_mkda_weights_renormalise_per_replicate(pain):
    estimator = MKDADensity().fit(pain).estimator
    layout = build_layout(estimator)
    weights = replicate_weights(layout, np.vstack([_all_retained(layout), _leave_one_out(layout)]))
    np.testing.assert_allclose(weights[0], np.ravel(estimator.weight_vec_))
    np.testing.assert_allclose(weights[1:].sum(axis=1), layout.n_analyses - 1)
    assert np.all(weights[1:][_leave_one_out(layout)] > 0)


def test_bad_retained_matrix_names_the_parameter(ale_fitted):
    _, layout, thresh = ale_fitted
    with pytest.raises(ValueError, match="retained"):
        null_maxima(layout, np.ones((2, 3), bool), thresh, 10, 0)
    with pytest.raises(ValueError, match="retained"):
        null_maxima(layout, np.zeros((1, layout.n_analyses), bool), thresh, 10, 0)


def test_unsupported_estimator_is_refused():
    from nimare.meta.cbma import ALESubtraction

    with pytest.raises(ValueError, match="ALESubtraction"):
        build_layout(ALESubtraction())
