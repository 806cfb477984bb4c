"""``n_resamples="auto"``: replicates drawn in batches until the clusters are precise enough."""

import numpy as np
import pandas as pd
import pytest

from nimare_stability import ResampledStability, policies
from nimare_stability.core.clusters import Cluster
from nimare_stability.core.support import Support
from nimare_stability.diagnostics.accumulator import StabilityAccumulator, standard_error_bound
from nimare_stability.diagnostics.stability import DEFAULT_MAX_RESAMPLES, DEFAULT_TOL
from nimare_stability.engines.batches import AUTO_BATCH_SIZE, AUTO_MIN_RESAMPLES, StoppingRule

MC = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _stem(target):
    return f"{target}_diag-ResampledStability"


def _subsample(**params):
    defaults = dict(resampling_policy="subsample", target_n=0.75, random_state=0, progress=False)
    return ResampledStability(**{**defaults, **params})


def _detection_error(detection_rate, n):
    """Closed form: the Agresti-Coull standard error of a detection rate over n replicates."""
    adjusted = (detection_rate * n + 2) / (n + 4)
    return np.sqrt(adjusted * (1 - adjusted) / (n + 4))


@pytest.fixture(scope="module")
def auto_pain(pain_montecarlo):
    return _subsample(n_resamples="auto", tol=0.02, n_cores=2).transform(pain_montecarlo)


def test_auto_stops_before_the_cap_on_pain_and_records_its_precision(auto_pain):
    summary = auto_pain.tables[f"{_stem(MC)}_tab-summary"].iloc[0]
    n = summary["n_resamples"]
    assert AUTO_MIN_RESAMPLES <= n < 2500 and n % AUTO_BATCH_SIZE == 0
    assert summary["tol"] == 0.02 and summary["precision"] < 0.02
    assert summary["max_voxel_se"] == pytest.approx(
        auto_pain.maps[f"{_stem(MC)}_stat-se"].max(), rel=1e-6
    )
    clusters = auto_pain.tables[f"{_stem(MC)}_tab-clusters"]
    # the detection rates alone bound the precision from below (M = C(21, 16) = 20349)
    fpc = np.sqrt((20349 - n) / 20348)
    floor = (_detection_error(clusters["detection_rate"], n) * fpc).max()
    assert floor <= summary["precision"] + 1e-12
    assert len(auto_pain.tables[f"{_stem(MC)}_tab-replicates"]) == n


def test_auto_equals_a_fixed_run_of_as_many_replicates(pain_ale):
    auto = _subsample(target_image="z", n_resamples="auto", tol=0.05).transform(pain_ale)
    stem = _stem("z")
    n = int(auto.tables[f"{stem}_tab-summary"].loc[0, "n_resamples"])
    assert AUTO_BATCH_SIZE <= n < 2500
    fixed = _subsample(target_image="z", n_resamples=n).transform(pain_ale)
    for name in (stem, f"{stem}_stat-se"):
        np.testing.assert_array_equal(auto.maps[name], fixed.maps[name])
    for suffix in ("clusters", "replicates"):
        name = f"{stem}_tab-{suffix}"
        pd.testing.assert_frame_equal(auto.tables[name], fixed.tables[name])
    auto_summary = auto.tables[f"{stem}_tab-summary"].drop(columns="tol")
    pd.testing.assert_frame_equal(
        auto_summary, fixed.tables[f"{stem}_tab-summary"].drop(columns="tol")
    )


def test_auto_stops_at_max_resamples_with_a_warning(pain_ale):
    with pytest.warns(UserWarning, match="without reaching tol=0.001"):
        out = _subsample(
            target_image="z", n_resamples="auto", tol=0.001, max_resamples=60
        ).transform(pain_ale)
    summary = out.tables[f"{_stem('z')}_tab-summary"].iloc[0]
    assert summary["n_resamples"] == 60 and summary["precision"] > 0.001


def test_auto_leaves_the_callers_policy_object_as_it_was(pain_ale):
    policy = policies.Subsample(target_n=0.75)
    with pytest.warns(UserWarning, match="without reaching tol=0.001"):
        out = ResampledStability(
            target_image="z",
            resampling_policy=policy,
            n_resamples="auto",
            tol=0.001,
            max_resamples=50,
            random_state=0,
            progress=False,
        ).transform(pain_ale)
    assert policy.get_params() == {"target_n": 0.75, "n_resamples": None}
    assert out.tables[f"{_stem('z')}_tab-summary"].loc[0, "n_resamples"] == 50


def test_precision_is_the_largest_upper_bound_on_a_cluster_standard_error():
    rng = np.random.default_rng(0)
    n_voxels, n_replicates = 40, 30
    clusters = [
        Cluster(1, "positive", np.arange(10), (0, 0, 0), 3.0),
        Cluster(2, "positive", np.arange(20, 26), (0, 0, 0), 3.0),
    ]
    baseline = Support(np.zeros(n_voxels, dtype=np.int8), 0)
    accumulator = StabilityAccumulator(baseline, clusters, n_replicates)
    signs = (rng.random((n_replicates, n_voxels)) < np.linspace(0.05, 0.95, n_voxels)).astype(
        np.int8
    )
    for index, row in enumerate(signs):
        accumulator.add(index, Support(row, 1))
    errors = []
    for cluster in clusters:
        held = signs[:, cluster.voxels] == 1
        for values in (held.mean(axis=1), held.any(axis=1).astype(float)):
            augmented = np.concatenate([values, [0, 0, 1, 1]])
            n = augmented.size
            variance = np.var(augmented)
            fourth = np.mean((augmented - augmented.mean()) ** 4)
            upper = variance + 1.645 * np.sqrt((fourth - variance**2) / n)
            errors.append(np.sqrt(upper / n))
    assert accumulator.precision() == pytest.approx(max(errors), rel=1e-12)
    fpc = (100 - n_replicates) / 99
    assert accumulator.precision(100) == pytest.approx(max(errors) * np.sqrt(fpc), rel=1e-12)
    assert accumulator.precision(n_replicates) == 0  # every subset drawn


@pytest.mark.parametrize("detection_rate", [0.5, 0.9, 0.98])
def test_stopping_rule_stops_where_the_true_standard_error_is_below_tol(detection_rate):
    """Simulated runs: each replicate detects a cluster with the given probability."""
    rng = np.random.default_rng(int(detection_rate * 100))
    n_runs, met = 200, 0
    for _ in range(n_runs):
        detected = (rng.random((DEFAULT_MAX_RESAMPLES, 1)) < detection_rate).astype(float)
        rule = StoppingRule(DEFAULT_TOL)
        for n in range(AUTO_BATCH_SIZE, DEFAULT_MAX_RESAMPLES + 1, AUTO_BATCH_SIZE):
            if rule.done(n, standard_error_bound(detected[:n]).max()):
                break
        true_error = np.sqrt(detection_rate * (1 - detection_rate) / n)
        met += true_error <= DEFAULT_TOL + 1e-12
    assert met / n_runs >= 0.9


def test_stopping_rule_needs_two_batches_in_a_row_and_the_minimum():
    rule = StoppingRule(0.02)
    assert not rule.done(50, 0.001)  # precise at once, but below the minimum
    assert not rule.done(AUTO_MIN_RESAMPLES, 0.03)  # the minimum, but not precise
    assert not rule.done(AUTO_MIN_RESAMPLES + 50, 0.01)  # precise once
    assert rule.done(AUTO_MIN_RESAMPLES + 100, 0.01)  # precise twice in a row


def test_auto_without_any_cluster_draws_the_minimum(pain_ale):
    with pytest.warns(UserWarning, match="no support"):
        out = _subsample(target_image="z", n_resamples="auto", target_threshold=50).transform(
            pain_ale
        )
    summary = out.tables[f"{_stem('z')}_tab-summary"].iloc[0]
    assert summary["n_resamples"] == AUTO_MIN_RESAMPLES and summary["precision"] == 0


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_resamples="many"), "n_resamples='many'"),
        (dict(n_resamples=10, tol=0.01), "tol=0.01 is only used with n_resamples='auto'"),
        (dict(max_resamples=100), "max_resamples=100 is only used"),
        (dict(n_resamples="auto", tol=0.0), "tol=0.0 is out of range"),
        (dict(n_resamples="auto", tol=0.7), "tol=0.7 is out of range"),
        (dict(n_resamples="auto", max_resamples=0), "max_resamples=0 is out of range"),
        (dict(resampling_policy="leave_1_out", target_n=None, n_resamples="auto"), "leave_1_out"),
    ],
)
def test_bad_auto_parameters_are_refused_by_name(pain_ale, params, match):
    with pytest.raises(ValueError, match=match):
        _subsample(target_image="z", **params).transform(pain_ale)


def test_max_resamples_must_be_an_int(pain_ale):
    with pytest.raises(TypeError, match="max_resamples=2.5"):
        _subsample(target_image="z", n_resamples="auto", max_resamples=2.5).transform(pain_ale)
