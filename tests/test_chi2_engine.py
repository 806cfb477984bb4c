"""The chi-square engine judges MKDAChi2 replicates as NiMARE's refit of each does."""

import copy

import numpy as np
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import ALESubtraction, MKDAChi2
from nimare.meta.kernel import KDAKernel, MKDAKernel
from scipy import ndimage, sparse
from scipy.stats import chi2

from nimare_stability import FWECorrector as OurFWECorrector
from nimare_stability import ResampledStability
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.engines._numba_chi2 import chi2_maxima
from nimare_stability.engines.base import EngineInputs
from nimare_stability.engines.chi2 import Chi2Engine

CORRECTORS = {
    "uncorrected": None,
    "FDR": FDRCorrector(method="indep"),
    "Monte Carlo FWE": FWECorrector(method="montecarlo", n_iters=40),
    "Monte Carlo FWE, p < .01": FWECorrector(method="montecarlo", n_iters=20, voxel_thresh=0.01),
}


@pytest.fixture(scope="module")
def pain_chi2(pain):
    ids = sorted(pain.ids)
    return MKDAChi2(random_state=0).fit(pain.slice(ids[:10]), pain.slice(ids[10:]))


@pytest.fixture(scope="module")
def nback_flanker_chi2():
    nback, flanker = load_nback_flanker("nback"), load_nback_flanker("flanker")
    return MKDAChi2(random_state=1).fit(
        nback.slice(sorted(nback.ids)[:60]), flanker.slice(sorted(flanker.ids)[:45])
    )


def _nimares_maxima(estimator, n_iters, voxel_thresh):
    """Each of NiMARE's label permutations' maxima, from its own code (independent)."""
    maps = [
        estimator.kernel_transformer.transform(
            estimator.inputs_[f"coordinates{g}"], estimator.masker, return_type="sparse"
        )
        for g in (1, 2)
    ]
    pooled = sparse.vstack(maps, format="csr")
    seeds = estimator._iteration_seeds(n_iters, stream="chi2_label_permutations")
    conn = ndimage.generate_binary_structure(3, 1)
    n1, n2 = maps[0].shape[0], maps[1].shape[0]
    threshold = chi2.isf(voxel_thresh, 1)
    return np.array(
        [
            estimator._run_label_perm_fwe_permutation(
                i, pooled, n1, n2, conn, threshold, seed=seeds[i]
            )
            for i in range(n_iters)
        ],
        dtype=float,
    )


@pytest.mark.parametrize("voxel_thresh", [0.001, 0.05])
def test_compiled_maxima_are_nimares_for_its_own_permutations(nback_flanker_chi2, voxel_thresh):
    estimator = nback_flanker_chi2.estimator
    engine = Chi2Engine(EngineInputs(estimator, None, AnalysisSet(estimator), rule=None))
    corrector = FWECorrector(method="montecarlo", n_iters=12, voxel_thresh=voxel_thresh)
    seed = estimator.random_state
    ours = engine.null_maxima(engine.pooled, engine.n_group1, seed, corrector, n_cores=2)
    theirs = _nimares_maxima(estimator, 12, voxel_thresh)
    assert theirs[:, [1, 4, 7]].max() > 0  # clusters formed in every test's null
    np.testing.assert_array_equal(ours, theirs)


def test_compiled_maxima_handle_empty_and_full_voxels():
    # Voxel 0 is active in no analysis (two-way chi-square 2.0 by NiMARE's convention),
    # voxel 1 in all; the one-way tests' denominators vanish when every count is equal.
    indptr = np.array([0, 0, 4, 6], np.int64)
    rows = np.array([0, 1, 2, 3, 0, 2], np.int32)
    labels = np.array([[True], [True], [False], [False]])
    voxel_flat, shape = np.array([0, 1, 2], np.int64), np.array([3, 1, 1], np.int64)
    out = chi2_maxima(indptr, rows, labels, 2, 2, 0.5, voxel_flat, shape)[0]
    counts1, counts2 = np.array([0.0, 2.0, 1.0]), np.array([0.0, 2.0, 1.0])
    from nimare.stats import one_way, two_way_counts

    expected = [
        np.abs(one_way(counts1, 2)).max(),
        np.abs(one_way(counts2, 2)).max(),
        np.abs(two_way_counts(counts1, counts2, 2, 2)).max(),
    ]
    np.testing.assert_array_equal(out[[0, 3, 6]], expected)
    assert out[6] == 2.0


def _assert_refit_maps(result, corrector, resample_group, left_out, seed=1234):
    """The engine's replicate maps are NiMARE's refit (and correction) of the replicate's."""
    analyses = AnalysisSet(result.estimator, resample_group)
    engine = Chi2Engine(EngineInputs(result.estimator, corrector, analyses, rule=None))
    kept = np.setdiff1d(np.arange(len(analyses.ids)), left_out)
    ours = engine.replicate_maps(kept, seed, n_cores=2)
    estimator = copy.deepcopy(result.estimator)
    estimator.set_params(random_state=seed)
    theirs = analyses.fit(estimator, kept)
    if corrector is not None:
        theirs = copy.deepcopy(corrector).transform(theirs)
    assert sorted(ours) == sorted(theirs.maps)
    for name, values in theirs.maps.items():
        np.testing.assert_array_equal(ours[name], values, err_msg=name)


@pytest.mark.parametrize("correction", CORRECTORS)
@pytest.mark.parametrize("resample_group", ["both", "group1"])
def test_replicate_maps_are_nimares_refit_maps_on_pain_halves(
    pain_chi2, correction, resample_group
):
    _assert_refit_maps(pain_chi2, CORRECTORS[correction], resample_group, left_out=[2, 13])


def test_replicate_maps_are_nimares_refit_maps_on_nback_vs_flanker(nback_flanker_chi2):
    corrector = FWECorrector(method="montecarlo", n_iters=10)
    _assert_refit_maps(nback_flanker_chi2, corrector, "both", left_out=[0, 5, 6, 61, 99], seed=7)


def test_resampled_stability_picks_the_chi2_engine_and_equals_refit(nback_flanker_chi2):
    corrected = FWECorrector(method="montecarlo", n_iters=30).transform(nback_flanker_chi2)
    target = "z_desc-associationSize_level-cluster_corr-FWE_method-montecarlo"
    runs = {
        engine: ResampledStability(
            target_image=target,
            resampling_policy="subsample",
            target_n=0.8,
            n_resamples=3,
            random_state=3,
            engine=engine,
            progress=False,
        ).transform(corrected)
        for engine in ("refit", "auto")
    }
    key = f"{target}_diag-ResampledStability"
    summary = runs["auto"].tables[f"{key}_tab-summary"]
    assert summary["engine"].tolist() == ["chi2"]
    assert runs["auto"].maps[key].min() < 0  # flanker > n-back clusters stay in some replicates
    np.testing.assert_array_equal(runs["auto"].maps[key], runs["refit"].maps[key])
    replicates = f"{key}_tab-replicates"
    assert runs["auto"].tables[replicates].equals(runs["refit"].tables[replicates])


def test_the_chi2_engine_says_what_it_cannot_reproduce(pain, pain_chi2):
    estimator = pain_chi2.estimator
    montecarlo = FWECorrector(method="montecarlo")
    assert Chi2Engine.unsupported(estimator, montecarlo) is None
    assert "accepted: MKDAChi2" in Chi2Engine.unsupported(ALESubtraction(), None)
    random_foci = copy.copy(estimator)
    random_foci.fwe_null_method = "random-foci"
    assert "label-permutation" in Chi2Engine.unsupported(random_foci, montecarlo)
    assert Chi2Engine.unsupported(random_foci, FDRCorrector()) is None
    kda = copy.copy(estimator)
    kda.kernel_transformer = KDAKernel()
    assert "MKDAKernel" in Chi2Engine.unsupported(kda, None)
    ids = sorted(pain.ids)
    overlapping = MKDAChi2().fit(pain.slice(ids[:12]), pain.slice(ids[10:]))
    assert "both groups" in Chi2Engine.unsupported(overlapping.estimator, None)


def test_the_estimator_is_left_untouched(pain_chi2):
    estimator = pain_chi2.estimator
    before = copy.deepcopy(estimator.__dict__)
    corrector = FWECorrector(method="montecarlo", n_iters=5)
    engine = Chi2Engine(EngineInputs(estimator, corrector, AnalysisSet(estimator), rule=None))
    engine.replicate_maps(np.arange(1, 21), seed=3)
    assert sorted(estimator.__dict__) == sorted(before)
    assert sorted(estimator.inputs_) == sorted(before["inputs_"])
    assert estimator.kernel_transformer.__class__ is before["kernel_transformer"].__class__
    assert "_run_label_perm_fwe_permutation" not in estimator.__dict__


def test_our_corrector_gives_nimares_correction_of_mkdachi2(nback_flanker_chi2):
    options = {"method": "montecarlo", "n_iters": 15, "voxel_thresh": 0.01}
    before = copy.deepcopy(nback_flanker_chi2.estimator.__dict__)
    theirs = FWECorrector(**options).transform(nback_flanker_chi2)
    ours = OurFWECorrector(**options, n_cores=2).transform(nback_flanker_chi2)
    assert sorted(ours.maps) == sorted(theirs.maps)
    for name, values in theirs.maps.items():
        np.testing.assert_array_equal(ours.maps[name], values, err_msg=name)
    nulls = theirs.estimator.null_distributions_
    assert sorted(ours.estimator.null_distributions_) == sorted(nulls)
    for key, values in nulls.items():
        np.testing.assert_array_equal(ours.estimator.null_distributions_[key], values)
    assert ours.description_ == theirs.description_
    assert isinstance(ours.corrector, OurFWECorrector)
    assert type(ours.estimator.kernel_transformer) is MKDAKernel
    assert "_run_label_perm_fwe_permutation" not in ours.estimator.__dict__
    # the caller's estimator is untouched
    assert sorted(nback_flanker_chi2.estimator.__dict__) == sorted(before)
    assert not nback_flanker_chi2.estimator.null_distributions_
