"""The pairwise engine judges ALE subtraction replicates as NiMARE's refit of each does."""

import copy
import warnings

import numpy as np
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import MKDAChi2
from nimare.meta.cbma.ale import ALESubtraction as NiMAREALESubtraction

from nimare_stability import ALESubtraction, ResampledStability
from nimare_stability.core import names
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.engines import resolve_engine
from nimare_stability.engines.base import EngineInputs
from nimare_stability.engines.pairwise import PairwiseEngine

DIFFERENCE = "z_desc-group1MinusGroup2"
CORRECTORS = {
    "uncorrected": None,
    "voxel-FWE": FWECorrector(method="montecarlo", vfwe_only=True),
    "cluster-FWE": FWECorrector(method="montecarlo", voxel_thresh=0.01),
}


@pytest.fixture(scope="module")
def pain_subtraction(pain):
    ids = sorted(pain.ids)
    return NiMAREALESubtraction(n_iters=30, random_state=0).fit(
        pain.slice(ids[:10]), pain.slice(ids[10:])
    )


def _corrected(result, corrector):
    """``result`` corrected by a copy of ``corrector`` (None: as it is).

    NiMARE's subtraction correction warns when it recomputes the permutations (other
    iterations, cluster-forming p or ``vfwe_only`` than the fit's): expected here.
    """
    if corrector is None:
        return result
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ALESubtraction FWE correction is recomputing")
        return copy.deepcopy(corrector).transform(result)


def _assert_refit_maps(result, corrector, resample_group, left_out, seed=1234):
    """The engine's replicate maps are NiMARE's refit (and correction) of the replicate's."""
    analyses = AnalysisSet(result.estimator, resample_group)
    engine = PairwiseEngine(EngineInputs(result.estimator, corrector, analyses, rule=None))
    kept = np.setdiff1d(np.arange(len(analyses.ids)), left_out)
    ours = engine.replicate_maps(kept, seed)
    estimator = copy.deepcopy(result.estimator)
    estimator.set_params(random_state=seed)
    theirs = _corrected(analyses.fit(estimator, kept), corrector).maps
    expected = {name: values for name, values in theirs.items() if "group1Minus" in name}
    assert sorted(ours) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(ours[name], values, err_msg=name)


@pytest.mark.parametrize("correction", CORRECTORS)
@pytest.mark.parametrize("resample_group", ["both", "group2"])
def test_replicate_maps_are_nimares_refit_maps_on_pain_halves(
    pain_subtraction, correction, resample_group
):
    corrector = CORRECTORS[correction]
    result = _corrected(pain_subtraction, corrector)  # the target the diagnostic reads
    _assert_refit_maps(result, corrector, resample_group, left_out=[2, 13])


def test_replicate_maps_are_nimares_refit_maps_on_nback_vs_flanker():
    nback, flanker = load_nback_flanker("nback"), load_nback_flanker("flanker")
    result = NiMAREALESubtraction(n_iters=20, random_state=1).fit(
        nback.slice(sorted(nback.ids)[:40]), flanker.slice(sorted(flanker.ids)[:30])
    )
    _assert_refit_maps(result, None, "both", left_out=[0, 5, 6, 41, 69], seed=7)


def test_resampled_stability_picks_the_pairwise_engine_and_equals_refit(pain_subtraction):
    # Our subtraction's results are NiMARE's: the engine reads either.
    result = ALESubtraction(n_iters=30, random_state=0).fit(
        pain_subtraction.estimator.dataset1, pain_subtraction.estimator.dataset2
    )
    runs = {
        engine: ResampledStability(
            target_image=DIFFERENCE,
            resampling_policy="subsample",
            target_n=0.8,
            n_resamples=3,
            random_state=3,
            engine=engine,
            progress=False,
        ).transform(result)
        for engine in ("refit", "auto")
    }
    key = f"{DIFFERENCE}_diag-ResampledStability"
    summary = runs["auto"].tables[f"{key}_tab-summary"]
    assert summary["engine"].tolist() == ["pairwise"]
    assert runs["auto"].maps[key].max() > 0
    np.testing.assert_array_equal(runs["auto"].maps[key], runs["refit"].maps[key])
    replicates = f"{key}_tab-replicates"
    assert runs["auto"].tables[replicates].equals(runs["refit"].tables[replicates])


def test_the_pairwise_engine_says_what_it_cannot_reproduce(pain_subtraction):
    estimator = pain_subtraction.estimator
    assert PairwiseEngine.unsupported(estimator, None) is None
    fdr = FDRCorrector()
    assert "FDRCorrector" in PairwiseEngine.unsupported(estimator, fdr)
    assert resolve_engine("auto", estimator, fdr, {}).name == "refit"
    more = FWECorrector(method="montecarlo", n_iters=31)
    assert "n_iters=31" in PairwiseEngine.unsupported(estimator, more)
    assert "MKDAChi2" in PairwiseEngine.unsupported(MKDAChi2(), None)
    both = copy.copy(estimator)
    both.inputs_ = {
        **estimator.inputs_,
        "id2": [*estimator.inputs_["id2"], estimator.inputs_["id1"][0]],
    }
    assert "both groups" in PairwiseEngine.unsupported(both, None)
    with pytest.raises(ValueError, match="engine='pairwise' does not support"):
        resolve_engine("pairwise", estimator, fdr, {})


@pytest.mark.parametrize("correction", ["voxel-FWE", "cluster-FWE"])
def test_given_the_baselines_nulls_every_analysis_gives_the_baselines_corrected_maps(
    pain_subtraction, correction
):
    """Fragility's near screen: a replicate corrected from given nulls, without permutations.

    Kept whole and given the baseline's own nulls, it is NiMARE's correction of the
    baseline: the same corrected p values, and the same z wherever p <= 0.5 (z's sign is
    the observed difference's, where NiMARE's is the tail its permutations put it in: they
    differ only where the difference is unremarkable).
    """
    corrector = CORRECTORS[correction]
    result = _corrected(pain_subtraction, corrector)
    nulls = result.estimator.null_distributions_
    analyses = AnalysisSet(result.estimator)
    engine = PairwiseEngine(EngineInputs(result.estimator, corrector, analyses, rule=None))
    maxima = [nulls.get(key) for key in names.MONTECARLO_NULLS]
    ours = engine.corrected_with(np.arange(len(analyses.ids)), maxima)
    corrected = [name for name in result.maps if name.startswith("p_") and "corr-FWE" in name]
    assert corrected
    for name in corrected:
        np.testing.assert_array_equal(ours[name], result.maps[name], err_msg=name)
        z = "z" + name[1:]
        low = result.maps[name] <= 0.5
        assert low.sum() > 10
        np.testing.assert_array_equal(ours[z][low], result.maps[z][low], err_msg=z)
