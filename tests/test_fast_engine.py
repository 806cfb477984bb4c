"""The fast engine gives what the refit engine gives, replicate by replicate."""

import copy

import numpy as np
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import ALE, KDA, MKDADensity

from nimare_stability import ResampledStability
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.baseline import support_rule
from nimare_stability.engines import EngineInputs
from nimare_stability.engines.corrected import montecarlo_maps
from nimare_stability.engines.fast import FastEngine

ESTIMATORS = [ALE, MKDADensity, KDA]
CLUSTER = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _run(result, target, engine, **params):
    return ResampledStability(
        target_image=target, engine=engine, random_state=5, progress=False, **params
    ).transform(result)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("target", ["z", "z_corr-FDR_method-indep", "z_corr-FWE_method-bonferroni"])
def test_fast_equals_refit_without_monte_carlo(pain, estimator, target):
    result = estimator().fit(pain)
    if "FDR" in target:
        result = FDRCorrector().transform(result)
    elif "bonferroni" in target:
        result = FWECorrector(method="bonferroni").transform(result)
    params = dict(resampling_policy="leave_k_out", k=4, n_resamples=3, alpha=0.01)
    fast = _run(result, target, "fast", **params)
    refit = _run(result, target, "refit", **params)
    stem = f"{target}_diag-ResampledStability"
    np.testing.assert_array_equal(fast.maps[stem], refit.maps[stem])
    assert np.abs(fast.maps[stem]).max() > 0
    assert fast.tables[f"{stem}_tab-summary"].loc[0, "engine"] == "fast"


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_fast_monte_carlo_equals_refit_given_the_same_null(pain, n_iters, estimator):
    """Hand the fast engine NiMARE's own null of a refit replicate: same support."""
    baseline = FWECorrector(method="montecarlo", n_iters=n_iters).transform(
        estimator(random_state=1).fit(pain)
    )
    diagnostic = ResampledStability(target_image=CLUSTER, progress=False)
    rule = support_rule(baseline, diagnostic)
    ids = np.asarray(baseline.estimator.inputs_["id"]).astype(str)
    retained = np.arange(2, ids.size)

    refit = copy.deepcopy(baseline.estimator)
    refit.set_params(random_state=9)
    refit = copy.deepcopy(baseline.corrector).transform(refit.fit(pain.slice(list(ids[retained]))))
    nulls = refit.estimator.null_distributions_
    maxima = tuple(
        nulls[f"values_{kind}_corr-fwe_method-montecarlo"][None, :]
        for kind in ("level-voxel", "desc-size_level-cluster", "desc-mass_level-cluster")
    )
    engine = FastEngine(
        EngineInputs(
            baseline.estimator,
            copy.deepcopy(baseline.corrector),
            AnalysisSet(baseline.estimator),
            rule,
            n_iters,
        )
    )
    thresholds, _ = engine.thresholds_and_weights([retained])
    fast_maps = engine._maps(0, retained, maxima, thresholds)
    every_level = montecarlo_maps(
        engine.replicates.stat(retained), thresholds[0], *(m[0] for m in maxima), rule.mask
    )

    for name in (
        "logp_level-voxel",
        "logp_desc-size_level-cluster",
        "logp_desc-mass_level-cluster",
    ):
        key = f"{name}_corr-FWE_method-montecarlo"
        np.testing.assert_allclose(every_level[name], refit.maps[key], atol=1e-5)
    # The engine makes only the target's maps, the same values.
    assert set(fast_maps) == {
        f"{k}_desc-size_level-cluster_corr-FWE_method-montecarlo" for k in ("logp", "z")
    }
    np.testing.assert_array_equal(rule(fast_maps).signs, rule(refit.maps).signs)
    assert rule(refit.maps).signs.any()


@pytest.fixture(scope="module")
def pain_cluster(pain, n_iters):
    return FWECorrector(method="montecarlo", n_iters=n_iters).transform(
        ALE(random_state=7).fit(pain)
    )


@pytest.mark.parametrize("null", ["replicate", "shared"])
def test_fast_monte_carlo_is_reproducible_and_core_independent(pain_cluster, null, n_iters):
    params = dict(
        resampling_policy="subsample", target_n=15, n_resamples=3, null=null, n_iters=2 * n_iters
    )
    one = _run(pain_cluster, CLUSTER, "fast", n_cores=1, **params)
    two = _run(pain_cluster, CLUSTER, "fast", n_cores=2, **params)
    stem = f"{CLUSTER}_diag-ResampledStability"
    np.testing.assert_array_equal(one.maps[stem], two.maps[stem])
    assert one.tables[f"{stem}_tab-summary"].loc[0, "n_iters"] == 2 * n_iters
    assert (np.abs(one.maps[stem]) > 0).any()


def test_full_null_histogram_changes_replicates(pain_cluster, n_iters):
    params = dict(resampling_policy="subsample", target_n=10, n_resamples=3, n_iters=2 * n_iters)
    own = _run(pain_cluster, CLUSTER, "fast", **params)
    full = _run(pain_cluster, CLUSTER, "fast", null_histogram="full", **params)
    stem = f"{CLUSTER}_diag-ResampledStability"
    assert not np.array_equal(own.maps[stem], full.maps[stem])


def test_auto_uses_fast_for_kernel_cbma_and_refit_otherwise(pain_cluster, n_iters):
    out = _run(
        pain_cluster,
        CLUSTER,
        "auto",
        resampling_policy="subsample",
        target_n=20,
        n_resamples=2,
        n_iters=2 * n_iters,
    )
    summary = out.tables[f"{CLUSTER}_diag-ResampledStability_tab-summary"]
    assert summary.loc[0, "engine"] == "fast"


def test_null_weights_are_the_replicates_own_when_mkda_imputes(pain):
    """Imputed MKDADensity weights depend on the retained analyses: the null must use the
    weights the replicate's statistic uses, not the full fit's renormalised."""
    from nimare.meta.cbma.weights import StudyWeights

    from nimare_stability.engines.kernels import KernelReplicates

    ids = np.asarray(MKDADensity().fit(pain).estimator.inputs_["id"]).astype(str)
    raw = {id_: np.nan if i < 6 else float(i + 1) for i, id_ in enumerate(ids)}
    estimator = MKDADensity(weighting=StudyWeights(source=raw, on_missing="impute"))
    full = estimator.fit(pain).estimator
    keep = np.sort(np.random.default_rng(0).choice(ids.size, ids.size - 5, replace=False))
    refit = copy.deepcopy(estimator).fit(pain.slice(list(ids[keep]))).estimator

    weights = KernelReplicates.from_estimator(full).weights(keep)
    np.testing.assert_allclose(weights[keep], np.ravel(refit.weight_vec_))
    assert not weights[np.setdiff1d(np.arange(ids.size), keep)].any()
    engine = FastEngine(
        EngineInputs(full, FWECorrector(method="montecarlo"), AnalysisSet(full), None, 100)
    )
    np.testing.assert_allclose(engine.thresholds_and_weights([keep])[1][0], weights)


@pytest.mark.parametrize("estimator", [ALE, MKDADensity], ids=lambda c: c.__name__)
def test_replicate_thresholds_in_threads_equal_those_in_one(pain, estimator):
    full = estimator().fit(pain).estimator
    engine = FastEngine(
        EngineInputs(full, FWECorrector(method="montecarlo"), AnalysisSet(full), None, 100)
    )
    schedule = [np.delete(np.arange(len(full.inputs_["id"])), i) for i in range(5)]
    one = engine.thresholds_and_weights(schedule, n_cores=1)
    two = engine.thresholds_and_weights(schedule, n_cores=2)
    assert one[0] == two[0]
    if estimator is ALE:
        assert len(set(one[0])) > 1
    else:
        np.testing.assert_array_equal(one[1], two[1])


def test_progress_bars_do_not_change_results(pain_cluster, n_iters):
    params = dict(resampling_policy="subsample", target_n=15, n_resamples=2, n_iters=2 * n_iters)
    shown = ResampledStability(target_image=CLUSTER, random_state=5, progress=True, **params)
    hidden = ResampledStability(target_image=CLUSTER, random_state=5, progress=False, **params)
    stem = f"{CLUSTER}_diag-ResampledStability"
    np.testing.assert_array_equal(
        shown.transform(pain_cluster).maps[stem], hidden.transform(pain_cluster).maps[stem]
    )
