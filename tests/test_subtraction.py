"""``nimare_stability.ALESubtraction`` writes what NiMARE's ``ALESubtraction`` writes."""

import numpy as np
import pytest
from helpers.null_checks import P_MIN
from nimare.meta.cbma.ale import ALESubtraction as NiMAREALESubtraction
from scipy import sparse, stats

from nimare_stability import ALESubtraction, FailSafeN
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.engines import _numba_pairwise as kernels
from nimare_stability.engines.permutations import (
    PooledMaps,
    largest_needed,
    quantile_of_largest,
    stream_batch,
)

MAX_NULL = "values_level-voxel_corr-fwe_method-montecarlo"
P_MAP = "p_desc-group1MinusGroup2"


@pytest.fixture(scope="module")
def pain_halves(pain):
    ids = sorted(pain.ids)
    return pain.slice(ids[:10]), pain.slice(ids[10:])


@pytest.fixture(scope="module")
def nback_flanker_subsets():
    """60 n-back and 50 flanker analyses (several per study) of NiMARE's NeuroStore set."""
    nback, flanker = load_nback_flanker("nback"), load_nback_flanker("flanker")
    return nback.slice(sorted(nback.ids)[:60]), flanker.slice(sorted(flanker.ids)[:50])


def _assert_same_result(theirs, ours):
    assert sorted(ours.maps) == sorted(theirs.maps)
    for name, values in theirs.maps.items():
        assert ours.maps[name].dtype == values.dtype, name
        np.testing.assert_array_equal(ours.maps[name], values, err_msg=name)
    their_nulls = theirs.estimator.null_distributions_
    our_nulls = ours.estimator.null_distributions_
    assert sorted(our_nulls) == sorted(their_nulls)
    for key, values in their_nulls.items():
        assert np.asarray(our_nulls[key]).dtype == np.asarray(values).dtype, key
        np.testing.assert_array_equal(our_nulls[key], values, err_msg=key)
    assert ours.description_ == theirs.description_


@pytest.mark.parametrize(
    "options",
    [
        {"random_state": None, "n_iters": 200},
        {"random_state": 3, "n_iters": 200, "n_cores": 2},
        {"random_state": 4, "n_iters": 200, "low_memory": True},
        {"random_state": 5, "n_iters": 40, "vfwe_only": False},
        {"random_state": None, "n_iters": 40, "vfwe_only": False, "voxel_thresh": 0.01},
    ],
    ids=["unseeded", "seeded-2-cores", "low-memory", "cluster-null", "cluster-null-p01"],
)
def test_same_permutations_give_nimares_maps_and_nulls_on_pain_halves(pain_halves, options):
    theirs = NiMAREALESubtraction(**{**options, "n_cores": 1}).fit(*pain_halves)
    ours = ALESubtraction(**options).fit(*pain_halves)
    _assert_same_result(theirs, ours)
    if not options.get("vfwe_only", True):
        sizes = ours.estimator.null_distributions_[
            "values_desc-size_level-cluster_corr-fwe_method-montecarlo"
        ]
        assert sizes.max() > 0  # clusters were found, not an empty null matched


@pytest.mark.parametrize("restrict", [False, True], ids=["masked-p", "restricted"])
def test_directional_inference_maps_give_nimares_maps_and_nulls(pain_halves, restrict):
    """Inference maps: one-sided p inside each group's map, optionally the only voxels."""
    theirs = NiMAREALESubtraction(n_iters=30, random_state=8).fit(*pain_halves)
    stat = theirs.maps["stat_desc-group1MinusGroup2"]
    maps = {"inference_map1": (stat > 0.001).astype(float)}
    maps["inference_map2"] = (stat < -0.001).astype(float)
    options = {"n_iters": 30, "random_state": 8, "restrict_to_inference_mask": restrict}
    options["vfwe_only"] = not restrict  # and the cluster null on the restricted voxels
    theirs = NiMAREALESubtraction(**options).fit(*pain_halves, **maps)
    ours = ALESubtraction(**options).fit(*pain_halves, **maps)
    _assert_same_result(theirs, ours)


@pytest.mark.parametrize("vfwe_only", [True, False])
def test_same_permutations_give_nimares_maps_and_nulls_on_nback_vs_flanker(
    nback_flanker_subsets, vfwe_only
):
    options = {"n_iters": 30 if vfwe_only else 10, "random_state": 1, "vfwe_only": vfwe_only}
    theirs = NiMAREALESubtraction(**options).fit(*nback_flanker_subsets)
    ours = ALESubtraction(**options).fit(*nback_flanker_subsets)
    _assert_same_result(theirs, ours)


def _p_agreement(p1, p2, n_iters):
    """Per voxel, z of two independent permutation p values of the same test.

    Each p is twice a tail's share of ``n_iters`` permutations, a binomial share of
    probability ``pi = p / 2`` where that tail is the smaller one (``p`` well below 1):
    its variance is ``4 pi (1 - pi) / n_iters``, and that of the difference of two
    independent ones twice that.
    """
    p_mean = (p1 + p2) / 2
    keep = (p_mean >= 0.02) & (p_mean <= 0.5)
    pi = p_mean[keep] / 2
    return (p1[keep] - p2[keep]) / np.sqrt(8 * pi * (1 - pi) / n_iters)


def test_independent_permutations_agree_with_nimare_within_monte_carlo_error(pain, pain_halves):
    n_iters = 500
    theirs = NiMAREALESubtraction(n_iters=n_iters, random_state=2).fit(*pain_halves)
    ours = ALESubtraction(n_iters=n_iters, random_state=1).fit(*pain_halves)
    p_ours, p_theirs = ours.maps[P_MAP], theirs.maps[P_MAP]
    assert not np.array_equal(p_ours, p_theirs)  # independent draws
    z = _p_agreement(p_ours, p_theirs, n_iters)
    # Under agreement z is standard normal at every voxel: |z| > 4 has probability 6e-5.
    assert z.size > 10_000 and np.mean(np.abs(z) > 4) < 1e-3
    null_ours = ours.estimator.null_distributions_[MAX_NULL]
    null_theirs = theirs.estimator.null_distributions_[MAX_NULL]
    assert stats.ks_2samp(null_ours, null_theirs).pvalue >= P_MIN
    # The checks see a different contrast (another split of pain) and a shrunk null.
    ids = sorted(pain.ids)
    other = NiMAREALESubtraction(n_iters=n_iters, random_state=2).fit(
        pain.slice(ids[::2]), pain.slice(ids[1::2])
    )
    assert np.mean(np.abs(_p_agreement(p_ours, other.maps[P_MAP], n_iters)) > 4) > 1e-2
    assert stats.ks_2samp(null_ours * 0.9, null_theirs).pvalue < P_MIN


def _reference(group1, group2, labels, observed, level):
    """NiMARE's arithmetic, permutation by permutation: bincount log-sums, then 1 - exp."""
    pooled = sparse.vstack([group1, group2]).tocsr()
    upper = np.zeros(pooled.shape[1], np.uint32)
    lower = np.zeros(pooled.shape[1], np.uint32)
    abs_max, kept = [], []
    for b in range(labels.shape[1]):
        stats_ = []
        for rows in (np.flatnonzero(labels[:, b]), np.flatnonzero(~labels[:, b])):
            maps = pooled[rows]
            log_sums = np.bincount(
                maps.indices, weights=np.log1p(-maps.data), minlength=pooled.shape[1]
            )
            stats_.append(1.0 - np.exp(log_sums))
        diff = stats_[0] - stats_[1]
        upper += diff >= observed
        lower += diff <= observed
        abs_max.append(np.abs(diff).max())
        kept += [(b, v, diff[v]) for v in np.flatnonzero(np.abs(diff) > level)]
    return upper, lower, np.array(abs_max), kept


def test_the_compiled_batch_equals_nimares_arithmetic_with_ties_and_empty_voxels():
    rng = np.random.default_rng(0)
    n1, n2, n_voxels = 9, 7, 400
    dense = rng.random((n1 + n2, n_voxels)).astype(np.float32) * 0.3
    dense[rng.random(dense.shape) < 0.7] = 0  # sparse maps
    dense[:, :20] = 0  # voxels no analysis reaches
    dense[n1:, 20:60] = 0  # voxels only group 1 reaches
    dense[:n1, 60:100] = 0  # and only group 2
    dense[1] = dense[0]  # two identical analyses in group 1, one in group 2
    dense[n1] = dense[0]
    group1, group2 = sparse.csr_matrix(dense[:n1]), sparse.csr_matrix(dense[n1:])
    observed = (
        (1 - np.prod(1 - dense[:n1].astype(np.float64), axis=0))
        - (1 - np.prod(1 - dense[n1:].astype(np.float64), axis=0))
    ).astype(np.float32)
    labels = np.zeros((n1 + n2, 64), bool)
    for b in range(64):
        labels[rng.permutation(n1 + n2)[:n1], b] = True
    labels[:, 0] = np.arange(n1 + n2) < n1  # the observed labelling: every voxel ties
    level = 0.05

    pooled = sparse.vstack([group1, group2]).tocsc()
    pooled.sort_indices()
    logs = np.log1p(-pooled.data).astype(np.float64)
    starts, rows = pooled.indptr.astype(np.int64), pooled.indices.astype(np.int32)
    totals = kernels.group_log_sums(starts, rows, logs, np.ones(n1 + n2, np.int8))[0]
    at, margin = kernels.roots(totals, observed.astype(np.float64))
    maps = PooledMaps(starts, rows, logs, totals, n1, n1 + n2)
    upper, lower, abs_max, k_perm, k_voxel, k_value = stream_batch(
        maps, labels, observed.astype(np.float64), at, margin, level
    )
    ref_upper, ref_lower, ref_max, ref_kept = _reference(
        group1, group2, labels, observed.astype(np.float64), level
    )
    np.testing.assert_array_equal(upper, ref_upper)
    np.testing.assert_array_equal(lower, ref_lower)
    np.testing.assert_array_equal(abs_max.astype(np.float32), ref_max.astype(np.float32))
    np.testing.assert_allclose(abs_max, ref_max, rtol=1e-13)
    order = np.lexsort((k_voxel, k_perm))
    assert [(b, v) for b, v, _ in ref_kept] == list(zip(k_perm[order], k_voxel[order]))
    np.testing.assert_allclose(k_value[order], [d for *_, d in ref_kept], rtol=1e-12)
    assert upper[:20].tolist() == lower[:20].tolist() == [64] * 20  # 0 ties 0


@pytest.mark.parametrize("q", [0.999, 0.99, 0.95, 0.5])
def test_the_quantile_from_the_largest_values_is_numpys(q):
    rng = np.random.default_rng(1)
    for n_values in (2, 3, 17, 1000, 123_457):
        values = np.abs(rng.standard_normal(n_values)).astype(np.float32)
        values[rng.random(n_values) < 0.3] = 0  # ties at zero, as outside every kernel
        values[: n_values // 4] = values[0]  # and ties above it
        top = np.sort(values)[::-1][: largest_needed(n_values, q)]
        result = quantile_of_largest(top, n_values, q)
        expected = np.quantile(values, q)
        assert type(result) is type(expected) and result == expected


@pytest.mark.parametrize("vfwe_only", [True, False])
def test_monte_carlo_correction_recomputing_the_null_gives_nimares_maps(pain_halves, vfwe_only):
    """NiMARE's correction reruns the permutations when its iterations differ from the fit's."""
    from nimare.correct import FWECorrector

    corrector = FWECorrector(
        method="montecarlo", n_iters=30, voxel_thresh=0.01, vfwe_only=vfwe_only
    )
    results = [
        cls(n_iters=20, random_state=6).fit(*pain_halves)
        for cls in (NiMAREALESubtraction, ALESubtraction)
    ]
    with pytest.warns(UserWarning, match="recomputing permutations"):
        theirs, ours = (corrector.transform(result) for result in results)
    _assert_same_result(theirs, ours)
    assert any("corr-FWE" in name for name in ours.maps)


def test_failsafen_says_why_it_refuses_a_subtraction(pain_halves):
    result = ALESubtraction(n_iters=20, random_state=0).fit(*pain_halves)
    why = "FailSafeN does not judge a pairwise.*which group should receive them"
    with pytest.raises(ValueError, match=why):
        FailSafeN(target_image="z_desc-group1MinusGroup2", progress=False).transform(result)
