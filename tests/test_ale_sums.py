"""ALE statistic maps from shared partial sums equal NiMARE's ``_compute_ale_summarystat``."""

import numpy as np
import pytest

from nimare_stability.core import _nimare_private as private
from nimare_stability.engines import ale_sums
from nimare_stability.engines.ale_sums import LeadingSums


def _sets(n, seed):
    """Sets in an order that reuses kept sums: nested first rows, and rows left out."""
    rng = np.random.default_rng(seed)
    every = np.arange(n)
    nested = [every[: n - k] for k in (0, n // 2, n // 3, 1)]  # FailSafeN-like prefixes
    dropped = [np.delete(every, i) for i in (n - 1, n // 2, 0)]
    randoms = [np.sort(rng.choice(n, size, replace=False)) for size in (n // 2, n - 3)]
    return nested + dropped + randoms


@pytest.mark.parametrize(("data", "step"), [("pain_ale_ma_maps", 4), ("nback_ale_ma_maps", 16)])
def test_maps_equal_nimares_bit_for_bit_whether_sums_are_reused_or_not(
    request, monkeypatch, data, step
):
    estimator, ma_maps, _ = request.getfixturevalue(data)
    monkeypatch.setattr(ale_sums, "STEP", step)
    sums = LeadingSums(ma_maps)
    for rows in _sets(ma_maps.shape[0], seed=step):
        reference = private.summary_statistic(estimator, ma_maps[rows])
        ours = sums.stat(rows)
        assert ours.dtype == reference.dtype
        np.testing.assert_array_equal(ours, reference)
        np.testing.assert_array_equal(LeadingSums(ma_maps).stat(rows), reference)  # none kept
    assert len(sums._kept) > 0


def test_a_set_resumes_from_the_longest_kept_first_rows(pain_ale_ma_maps, monkeypatch):
    _, ma_maps, _ = pain_ale_ma_maps
    monkeypatch.setattr(ale_sums, "STEP", 4)
    monkeypatch.setattr(ale_sums, "MAX_KEPT", 3)
    sums = LeadingSums(ma_maps)
    every = np.arange(ma_maps.shape[0])  # 21 rows: sums kept after 4, 8, 12, 16 and 20
    sums.stat(every)
    assert len(sums._kept) == 3  # the least recently used (after 4 rows) was dropped
    assert sums._kept.longest(np.delete(every, 13))[0] == 12
    assert sums._kept.longest(np.delete(every, 2))[0] == 0
