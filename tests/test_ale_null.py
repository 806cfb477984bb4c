"""ALE's approximate-null histograms of subsets equal NiMARE's ``_compute_null_approximate``."""

import numpy as np
import pytest

from nimare_stability.core import _nimare_private as private
from nimare_stability.core import names
from nimare_stability.engines import _numba_histogram as nh
from nimare_stability.engines import ale_null
from nimare_stability.engines.ale_null import ALENull, threshold

WEIGHTS = names.APPROXIMATE_HISTOGRAM


@pytest.fixture(scope="module")
def pain_null(pain_ale_ma_maps):
    return (*pain_ale_ma_maps, ALENull(*pain_ale_ma_maps[:2]))


@pytest.fixture(scope="module")
def nback_null(nback_ale_ma_maps):
    return (*nback_ale_ma_maps, ALENull(*nback_ale_ma_maps[:2]))


def _subsets(n, seed):
    """Everyone, the first and the last left out, and three random subsets."""
    rng = np.random.default_rng(seed)
    every = np.arange(n)
    randoms = [np.sort(rng.choice(n, size, replace=False)) for size in (n // 2, n - 3, 5)]
    return [every, every[1:], every[:-1], *randoms]


def _nimare(prepared, rows):
    """A NiMARE estimator copy that computed the subset's null histogram itself."""
    estimator, ma_maps, kernel_ids, _ = prepared
    ids = kernel_ids[rows]
    coordinates = estimator.inputs_["coordinates"]
    subset = private.subset_copy(
        estimator, ids, coordinates[coordinates["id"].isin(ids)], ma_maps[rows]
    )
    return private.null_histogram(subset, ma_maps[rows])


@pytest.mark.parametrize("data", ["pain_null", "nback_null"])
def test_histograms_and_thresholds_equal_nimares_bit_for_bit(request, data):
    prepared = request.getfixturevalue(data)
    null = prepared[3]
    grids = set()
    for rows in _subsets(prepared[1].shape[0], seed=len(data)):
        reference = _nimare(prepared, rows)
        bins, weights, dropped = null.histogram(rows)
        np.testing.assert_array_equal(bins, reference.null_distributions_["histogram_bins"])
        np.testing.assert_array_equal(weights, reference.null_distributions_[WEIGHTS])
        assert dropped == 0
        grids.add(bins.size)
        for p in (0.05, 0.001, 1e-5):
            assert null.threshold(rows, p) == reference._p_to_summarystat(p, "approximate")
    # Subsets with shorter grids than the full set's: targets past their last bin clip there.
    assert len(grids) > 1


def test_pruned_histograms_differ_only_in_the_far_tail(pain_null):
    null = pain_null[3]
    rows = np.arange(pain_null[1].shape[0])
    _, exact, _ = null.histogram(rows)
    _, pruned, dropped = null.histogram(rows, prune=1e-12)
    assert 0 < dropped < 1e-9
    assert pruned.sum() == pytest.approx(exact.sum() - dropped, rel=1e-12)
    changed = np.flatnonzero(pruned != exact)
    assert changed.size and exact[changed].max() < 1e-9 * exact.max()
    np.testing.assert_array_equal(pruned[: changed.min()], exact[: changed.min()])


def test_a_threshold_pruning_could_move_is_taken_from_the_exact_histogram(pain_null, monkeypatch):
    null = pain_null[3]
    rows = np.arange(pain_null[1].shape[0])
    reference = _nimare(pain_null, rows)
    folds = []
    original = null.histogram

    def recorded(rows, prune=0.0):
        folds.append(prune)
        return original(rows, prune)

    monkeypatch.setattr(null, "histogram", recorded)
    monkeypatch.setattr(ale_null, "PRUNE", 0.5)  # drops most of the tail: never settled
    assert null.threshold(rows, 0.001) == reference._p_to_summarystat(0.001, "approximate")
    assert folds == [0.5, 0.0]


def test_threshold_is_unsettled_only_near_the_crossing():
    bins = np.arange(4) / 10
    weights = np.array([0.5, 0.3, 0.199, 0.001])
    # Upper tails 1, .5, .2, .001: the bin before the first tail at most p.
    assert threshold(weights, bins, 0.3) == (0.1, True)
    assert threshold(weights, bins, 0.01, dropped=1e-6) == (0.2, True)
    assert threshold(weights, bins, 0.0010001, dropped=1e-6) == (0.2, False)
    assert threshold(np.zeros(4), bins, 0.01) == (0.0, True)


def test_thresholds_do_not_depend_on_the_number_of_threads(nback_null):
    null = nback_null[3]
    subsets = _subsets(nback_null[1].shape[0], seed=1)
    assert null.thresholds(subsets, 0.001, n_cores=2) == null.thresholds(subsets, 0.001)


def _from_scratch(null, rows, prune, n_bins=None):
    """``(histogram, dropped)`` of ``rows`` folded in one call, nothing kept."""
    n_bins = null.bins(rows).size if n_bins is None else n_bins
    first, top = nh.first_histogram(rows[0], *null._histograms, n_bins)
    weights, _, dropped, _ = nh.fold_on(
        first, top, 0.0, rows[1:], *null._histograms, null._runs, prune
    )
    return weights, dropped


@pytest.mark.parametrize(("data", "step"), [("pain_null", 4), ("nback_null", 16)])
def test_folds_resumed_from_kept_states_equal_folds_from_scratch(request, monkeypatch, data, step):
    prepared = request.getfixturevalue(data)
    monkeypatch.setattr(ale_null, "FOLD_STEP", step)
    null = ALENull(*prepared[:2])
    n = prepared[1].shape[0]
    every = np.arange(n)
    nested = [every[: n - k] for k in (0, n // 2, n // 3, 1)]  # FailSafeN-like prefixes
    left_out = [np.delete(every, i) for i in (n - 1, n // 2, 0)]  # Fragility-like sets
    folded = []
    original = nh.fold_on

    def counted(ale, top, dropped, rows, *rest):
        folded.append(rows.size)
        return original(ale, top, dropped, rows, *rest)

    sets = nested + left_out + _subsets(n, seed=step)
    prunes = (0.0, ale_null.PRUNE)
    references = [_from_scratch(null, rows, prune) for rows in sets for prune in prunes]
    monkeypatch.setattr(nh, "fold_on", counted)
    ours = [null.histogram(rows, prune)[1:] for rows in sets for prune in prunes]
    for (weights, dropped), (reference, reference_dropped) in zip(ours, references):
        np.testing.assert_array_equal(weights, reference)
        assert dropped == reference_dropped
    assert len(null._kept) > 0
    # Kept states spared folds: far fewer than the sets' analyses, less their first ones.
    assert sum(folded) < 0.7 * sum(2 * (rows.size - 1) for rows in sets)
    reference = _nimare(prepared, nested[1])
    np.testing.assert_array_equal(
        null.histogram(nested[1])[1], reference.null_distributions_[WEIGHTS]
    )


def test_a_kept_state_is_not_used_on_a_grid_shorter_than_it_reached(pain_null, monkeypatch):
    monkeypatch.setattr(ale_null, "FOLD_STEP", 4)
    null = ALENull(*pain_null[:2])
    rows = np.arange(pain_null[1].shape[0])
    n_bins = null.bins(rows).size
    null._fold(rows, n_bins, 0.0)  # keeps states after 4, 8, ... analyses
    reached = [state[3] for state in null._kept._kept.values()]
    short = min(reached)  # a grid whose last bin is below what every kept state reached
    assert short > nh.first_histogram(rows[0], *null._histograms, n_bins)[1]  # holds the first
    weights, _ = null._fold(rows, short, 0.0)
    reference, _ = _from_scratch(null, rows, 0.0, n_bins=short)
    np.testing.assert_array_equal(weights, reference)
    assert null._kept.longest(rows, 0.0, lambda state: state[3] <= short - 1) == (0, None)
