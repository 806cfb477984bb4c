"""The kernel engine's replicates equal NiMARE fits (and corrections) on the same analyses."""

import copy

import numpy as np
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import ALE, KDA, MKDAChi2, MKDADensity
from nimare.meta.cbma.weights import StudyWeights
from scipy import sparse

from nimare_stability.core import _nimare_private as private
from nimare_stability.engines import kernels
from nimare_stability.engines.corrected import montecarlo_maps
from nimare_stability.engines.families import unsupported_estimator
from nimare_stability.engines.kernels import KernelReplicates

ESTIMATORS = (ALE, MKDADensity, KDA)
SUBSETS = [
    np.sort(np.random.default_rng(seed).choice(21, n, replace=False))
    for seed, n in ((0, 10), (1, 15), (2, 20))
]
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
CORRECTED = ("logp_level-voxel", "logp_desc-size_level-cluster", "logp_desc-mass_level-cluster")
NULLS = ("level-voxel", "desc-size_level-cluster", "desc-mass_level-cluster")


@pytest.fixture(scope="module")
def fitted(pain):
    """One fitted estimator per class, with its KernelReplicates."""
    out = {}
    for cls in ESTIMATORS:
        estimator = cls()
        estimator.fit(pain)
        out[cls] = (estimator, KernelReplicates.from_estimator(estimator))
    return out


def refit(estimator, pain, ids):
    estimator = copy.deepcopy(estimator)
    return estimator, estimator.fit(pain.slice(list(ids)))


def montecarlo_nulls(estimator):
    nulls = estimator.null_distributions_
    return [nulls[f"values_{name}_corr-fwe_method-montecarlo"] for name in NULLS]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_ma_maps_are_cached_sparse(fitted, cls):
    _, replicates = fitted[cls]
    assert sparse.issparse(replicates.ma_maps) and replicates.ma_maps.format == "csr"
    assert replicates.ma_maps.shape == (21, replicates.mask.sum())


@pytest.mark.parametrize("chunk", (1, 4, 21))
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_ma_maps_built_in_chunks_are_nimares_in_one_call(fitted, cls, chunk, monkeypatch):
    estimator, _ = fitted[cls]
    monkeypatch.setattr(kernels, "MA_CHUNK", chunk)
    _, ma_maps, kernel_ids, rows = kernels.collect_ma_maps(estimator)
    whole = sparse.csr_matrix(private.collect_ma_maps(copy.deepcopy(estimator)))
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(ma_maps, name), getattr(whole, name))
    assert ma_maps.shape == whole.shape and ma_maps.dtype == whole.dtype
    np.testing.assert_array_equal(kernel_ids[rows], np.asarray(estimator.inputs_["id"]))


@pytest.mark.parametrize("retained", SUBSETS, ids=lambda kept: f"keep{kept.size}")
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_replicate_maps_equal_nimare_fit_on_the_slice(fitted, pain, cls, retained):
    estimator, replicates = fitted[cls]
    refitted, result = refit(estimator, pain, replicates.ids[retained])
    stat = replicates.stat(retained)
    p, z = replicates.p_z(retained, stat)
    assert stat.dtype == np.float64
    np.testing.assert_allclose(stat, result.maps["stat"], **TOLERANCE)
    np.testing.assert_allclose(p, result.maps["p"], **TOLERANCE)
    np.testing.assert_allclose(z, result.maps["z"], **TOLERANCE)
    assert replicates.stat_threshold(retained, 0.001) == refitted._p_to_summarystat(0.001)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_full_histogram_is_the_full_fits_null(fitted, cls):
    estimator, replicates = fitted[cls]
    everyone = np.arange(21)
    kept = SUBSETS[0]
    _, z_own = replicates.p_z(kept)
    _, z_full = replicates.p_z(kept, histogram="full")
    assert np.abs(z_own - z_full).max() > 0.1
    assert replicates.stat_threshold(kept, 0.001, "full") == estimator._p_to_summarystat(0.001)
    np.testing.assert_array_equal(
        replicates.p_z(everyone)[1], replicates.p_z(everyone, histogram="full")[1]
    )


def test_montecarlo_maps_reproduce_nimare_from_its_nulls(pain_montecarlo):
    estimator = pain_montecarlo.estimator
    replicates = KernelReplicates.from_estimator(estimator)
    everyone = np.arange(replicates.ids.size)
    stat = replicates.stat(everyone)
    threshold = replicates.stat_threshold(everyone, 0.001)
    maps = montecarlo_maps(stat, threshold, *montecarlo_nulls(estimator), replicates.mask)
    for name, values in maps.items():
        expected = pain_montecarlo.maps[f"{name}_corr-FWE_method-montecarlo"]
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-6, err_msg=name)
    assert (maps["logp_desc-size_level-cluster"] > 1.3).any()


@pytest.mark.parametrize("cls", (MKDADensity, KDA), ids=lambda cls: cls.__name__)
def test_montecarlo_maps_reproduce_nimare_on_a_subset(fitted, pain, cls, n_iters):
    estimator, replicates = fitted[cls]
    kept = SUBSETS[1]
    refitted, result = refit(estimator, pain, replicates.ids[kept])
    corrector = FWECorrector(method="montecarlo", n_iters=n_iters, voxel_thresh=0.01)
    corrected_result = corrector.transform(result)
    stat = replicates.stat(kept)
    threshold = replicates.stat_threshold(kept, 0.01)
    nulls = montecarlo_nulls(corrected_result.estimator)
    maps = montecarlo_maps(stat, threshold, *nulls, replicates.mask)
    for name in CORRECTED:
        expected = corrected_result.maps[f"{name}_corr-FWE_method-montecarlo"]
        np.testing.assert_allclose(maps[name], expected, rtol=1e-6, atol=1e-6, err_msg=name)


def test_voxel_level_only_without_cluster_nulls(fitted):
    _, replicates = fitted[ALE]
    stat = replicates.stat(SUBSETS[0])
    maps = montecarlo_maps(stat, 0.01, np.linspace(0, 0.05, 50), None, None, replicates.mask)
    assert sorted(maps) == ["logp_level-voxel", "z_level-voxel"]


@pytest.mark.parametrize(
    "corrector",
    (FDRCorrector(method="indep", alpha=0.05), FWECorrector(method="bonferroni")),
    ids=("fdr", "bonferroni"),
)
def test_fdr_and_bonferroni_correct_the_replicate_result_as_the_refit(fitted, pain, corrector):
    estimator, replicates = fitted[ALE]
    kept = SUBSETS[2]
    _, result = refit(estimator, pain, replicates.ids[kept])
    expected = copy.deepcopy(corrector).transform(result).maps
    fast = copy.deepcopy(corrector).transform(replicates.result(kept)).maps
    assert sorted(fast) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(fast[name], values, **TOLERANCE, err_msg=name)


def test_mkda_density_renormalises_and_reimputes_weights_per_subset(fitted, pain):
    ids = fitted[MKDADensity][1].ids
    raw = {analysis: float(i + 1) for i, analysis in enumerate(ids)}
    raw[ids[3]] = np.nan
    weighted = MKDADensity(weighting=StudyWeights(source=raw, on_missing="impute"))
    weighted.fit(pain)
    replicates = KernelReplicates.from_estimator(weighted)
    for kept in SUBSETS[:2]:
        _, result = refit(weighted, pain, ids[kept])
        np.testing.assert_allclose(replicates.stat(kept), result.maps["stat"], **TOLERANCE)
        np.testing.assert_allclose(replicates.p_z(kept)[1], result.maps["z"], **TOLERANCE)


def test_estimator_is_left_untouched(pain):
    estimator = ALE()
    estimator.fit(pain)
    before = copy.deepcopy(estimator.__dict__)
    replicates = KernelReplicates.from_estimator(estimator)
    replicates.p_z(SUBSETS[0], histogram="full")
    replicates.result(SUBSETS[0])
    assert sorted(estimator.__dict__) == sorted(before)
    assert sorted(estimator.inputs_) == sorted(before["inputs_"])
    assert estimator.inputs_["coordinates"].equals(before["inputs_"]["coordinates"])
    for name, values in before["null_distributions_"].items():
        np.testing.assert_array_equal(estimator.null_distributions_[name], values)
    np.testing.assert_array_equal(estimator._study_max_ma_values, before["_study_max_ma_values"])


@pytest.mark.parametrize(
    "estimator",
    (ALE(null_method="montecarlo"), MKDADensity(null_method="montecarlo"), MKDAChi2()),
    ids=("ALE-montecarlo", "MKDADensity-montecarlo", "MKDAChi2"),
)
def test_unsupported_estimators_are_refused(estimator):
    assert unsupported_estimator(estimator) is not None
    with pytest.raises(ValueError, match="does not support"):
        KernelReplicates.from_estimator(estimator)


def test_unfitted_estimator_is_refused():
    assert unsupported_estimator(ALE()) is None
    with pytest.raises(ValueError, match="not fitted"):
        KernelReplicates.from_estimator(ALE())


@pytest.mark.parametrize("retained", ([], [0, 0], [0, 21], [-1], [0.5], [[0, 1]]))
def test_bad_retained_is_refused(fitted, retained):
    _, replicates = fitted[KDA]
    with pytest.raises(ValueError, match="retained="):
        replicates.stat(retained)


def test_bad_histogram_is_refused(fitted):
    _, replicates = fitted[KDA]
    with pytest.raises(ValueError, match="histogram="):
        replicates.p_z(SUBSETS[0], histogram="jale")
