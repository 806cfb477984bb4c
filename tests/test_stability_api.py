"""ResampledStability as a NiMARE Diagnostics: parameters, workflows, errors, seeds."""

import copy
import logging
from functools import partial

import numpy as np
import pandas as pd
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.diagnostics import Diagnostics
from nimare.meta.cbma import ALE
from nimare.meta.ibma import DerSimonianLaird, Fishers, Stouffers
from nimare.workflows import CBMAWorkflow
from nimare.workflows.base import _check_input

from nimare_stability import ResampledStability
from nimare_stability.engines import ReplicateError

FDR = "z_corr-FDR_method-indep"


def _quick(**params):
    defaults = dict(target_image=FDR, progress=False, random_state=0)
    return ResampledStability(**{**defaults, **params})


def _stem(target):
    return f"{target}_diag-ResampledStability"


def test_is_a_nimare_diagnostics_whose_init_only_stores():
    assert issubclass(ResampledStability, Diagnostics)
    diagnostic = ResampledStability(alpha="not checked here", n_cores=-1)
    assert diagnostic.alpha == "not checked here" and diagnostic.n_cores == -1
    params = ResampledStability(k=3, groups="study").get_params()
    assert ResampledStability(**params).get_params() == params
    assert set(params) == {
        "target_image",
        "resampling_policy",
        "k",
        "target_n",
        "n_resamples",
        "groups",
        "strata",
        "resample_group",
        "alpha",
        "target_threshold",
        "cluster_threshold",
        "null",
        "null_histogram",
        "n_iters",
        "engine",
        "random_state",
        "n_cores",
        "progress",
        "generate_description",
        "tol",
        "max_resamples",
        "checkpoint_dir",
    }


def test_survives_workflow_defaults_and_set_params():
    filled = _check_input(
        ResampledStability(cluster_threshold=5),
        Diagnostics,
        ("jackknife",),
        target_threshold=1.65,
        cluster_threshold=10,
        n_cores=2,
    )
    assert (filled.target_threshold, filled.cluster_threshold, filled.n_cores) == (1.65, 5, 2)
    filled.set_params(target_image="z_desc-mass_level-cluster_corr-FWE_method-montecarlo")
    assert filled.target_image == "z_desc-mass_level-cluster_corr-FWE_method-montecarlo"


def test_instance_runs_inside_cbma_workflow(pain, n_iters, tmp_path):
    diagnostic = ResampledStability(
        resampling_policy="subsample",
        target_n=0.9,
        n_resamples=2,
        random_state=1,
        progress=False,
    )
    workflow = CBMAWorkflow(
        estimator=ALE(random_state=2),
        corrector=FWECorrector(method="montecarlo", n_iters=n_iters),
        diagnostics=[diagnostic],
        output_dir=tmp_path,
    )
    result = workflow.fit(pain)
    stem = _stem("z_desc-mass_level-cluster_corr-FWE_method-montecarlo")
    assert stem in result.maps and f"{stem}_tab-clusters" in result.tables
    summary = result.tables[f"{stem}_tab-summary"].iloc[0]
    assert (summary["n_resamples"], summary["target_n"]) == (2, 19)
    assert (tmp_path / f"{stem}.nii.gz").exists()
    assert "ResampledStability" in (tmp_path / "boilerplate.txt").read_text()
    assert diagnostic.target_threshold is None  # the caller's instance is untouched


def test_random_state_fixes_everything_and_n_cores_does_not_matter(pain_fdr):
    params = dict(resampling_policy="subsample", target_n=15, n_resamples=4, random_state=11)
    one = _quick(n_cores=1, **params).transform(pain_fdr)
    two = _quick(n_cores=2, **params).transform(pain_fdr)
    other = _quick(n_cores=1, **{**params, "random_state": 12}).transform(pain_fdr)
    stem = _stem(FDR)
    assert np.any(one.maps[stem] != 0), "an all-zero stability map proves nothing"
    np.testing.assert_array_equal(one.maps[stem], two.maps[stem])
    for table in ("summary", "clusters", "replicates"):
        pd.testing.assert_frame_equal(
            one.tables[f"{stem}_tab-{table}"], two.tables[f"{stem}_tab-{table}"]
        )
    assert not one.tables[f"{stem}_tab-replicates"].equals(other.tables[f"{stem}_tab-replicates"])
    assert one.metadata[f"{stem}_seconds"] > 0  # timing per target, never in the tables
    # the JALE citation is in NiMARE's bibliography too: listed once
    assert "\\citep{Frahm_Monimu_Hoffstaedter}" in one.description_
    assert one.bibtex_.count("{Frahm_Monimu_Hoffstaedter,") == 1
    assert "remained significant (p < 0.05)" in one.description_


def test_random_state_none_is_recorded_and_repeatable(pain_fdr):
    params = dict(resampling_policy="subsample", target_n=12, n_resamples=3)
    first = _quick(**params, random_state=None).transform(pain_fdr)
    stem = _stem(FDR)
    seed = int(first.tables[f"{stem}_tab-summary"].loc[0, "random_state"])
    again = _quick(**params, random_state=seed).transform(pain_fdr)
    pd.testing.assert_frame_equal(
        first.tables[f"{stem}_tab-replicates"], again.tables[f"{stem}_tab-replicates"]
    )


def test_sampling_error_of_random_subsets_matches_closed_form(pain_fdr):
    result = _quick(resampling_policy="leave_k_out", k=2, n_resamples=5).transform(pain_fdr)
    stem = _stem(FDR)
    s = np.abs(result.maps[stem].astype(float))
    n_possible = 21 * 20 // 2
    expected = np.sqrt(s * (1 - s) / 5 * (n_possible - 5) / (n_possible - 1))
    np.testing.assert_allclose(result.maps[f"{stem}_stat-se"], expected, atol=1e-6)
    assert f"{stem}_tab-influence" not in result.tables


def test_grouped_policy_leaves_whole_studies_out(ibma_studyset):
    result = FDRCorrector().transform(Stouffers().fit(ibma_studyset))
    out = _quick(resampling_policy="leave_group_out", groups="study").transform(result)
    stem = _stem(FDR)
    study_of = dict(zip(ibma_studyset.metadata["id"], ibma_studyset.metadata["study_id"]))
    replicates = out.tables[f"{stem}_tab-replicates"]
    assert len(replicates) == 6
    left_studies = [{study_of[i] for i in row.split(";")} for row in replicates["left_out"]]
    assert all(len(studies) == 1 for studies in left_studies)
    assert all(len(row.split(";")) == 2 for row in replicates["left_out"])
    influence = out.tables[f"{stem}_tab-influence"]
    assert list(influence["group"]) == [s.pop() for s in left_studies]


@pytest.mark.parametrize(
    # Two analyses per study: DerSimonianLaird's default cluster-robust inference over 6
    # studies keeps nothing significant after leaving 3 analyses out.
    "estimator",
    [Stouffers, Fishers, partial(DerSimonianLaird, groupby=False)],
)
def test_ibma_stability_is_fraction_of_nimare_refits(ibma_studyset, estimator):
    result = FDRCorrector().transform(estimator().fit(ibma_studyset))
    out = _quick(resampling_policy="leave_k_out", k=3, n_resamples=4).transform(result)
    stem = _stem(FDR)
    hits = np.zeros(out.maps[stem].shape)
    for retained in out.tables[f"{stem}_tab-replicates"]["retained"]:
        refit = FDRCorrector().transform(estimator().fit(ibma_studyset.slice(retained.split(";"))))
        p = refit.maps["p_corr-FDR_method-indep"].astype(float)
        hits += np.sign(refit.maps[FDR]) * (p < 0.05 * (1 - 1e-5))
    stability = out.maps[stem]
    positive, negative = np.clip(hits, 0, None) / 4, np.clip(-hits, 0, None) / 4
    np.testing.assert_allclose(stability, np.where(positive >= negative, positive, -negative))
    assert (stability > 0).any() and (stability < 0).any()
    tails = set(out.tables[f"{stem}_tab-clusters"]["tail"])
    assert tails == {"positive", "negative"}


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(target_image="z_nope"), ValueError, r"target_image='z_nope'.*available maps: .*z"),
        (dict(resampling_policy="bootstrap"), ValueError, r"bootstrap.*leave_1_out"),
        (dict(resampling_policy="leave_k_out", k=21), ValueError, r"k=21"),
        (
            dict(resampling_policy="subsample", target_n=30, n_resamples=2),
            ValueError,
            r"target_n=30",
        ),
        (dict(resampling_policy="subsample", target_n=5), ValueError, r"n_resamples"),
        (
            dict(resampling_policy="leave_group_out", groups="lab"),
            ValueError,
            r"groups='lab'.*available columns",
        ),
        (dict(resampling_policy="leave_group_out", groups=3), TypeError, r"groups=3"),
        (dict(alpha=1.5), ValueError, r"alpha=1.5"),
        (dict(alpha="0.05"), TypeError, r"alpha='0.05'"),
        (dict(engine="gpu"), ValueError, r"engine='gpu'.*'auto'"),
        (dict(random_state=1.5), TypeError, r"random_state=1.5"),
        (dict(cluster_threshold=-1), ValueError, r"cluster_threshold=-1"),
        (dict(n_iters=50), ValueError, r"n_iters=50.*Monte Carlo"),
        (
            dict(target_image="z_desc-size_level-cluster_corr-FWE_method-montecarlo"),
            ValueError,
            r"FWE_method-montecarlo.*FDRCorrector",
        ),
        (dict(null="shared", engine="refit"), ValueError, r"null='shared' applies to Monte Carlo"),
        (dict(null_histogram="full", engine="refit"), ValueError, r"null_histogram='full'"),
    ],
)
def test_bad_input_names_parameter_and_value(pain_fdr, params, error, match):
    if "montecarlo" in params.get("target_image", ""):
        pain_fdr = copy.copy(pain_fdr)
        pain_fdr.maps = {**pain_fdr.maps, params["target_image"]: pain_fdr.maps["z"]}
    with pytest.raises(error, match=match):
        _quick(**params).transform(pain_fdr)


def test_replicate_below_estimator_minimum_is_refused(ibma_studyset):
    result = FDRCorrector().transform(Stouffers().fit(ibma_studyset))
    with pytest.raises(ValueError, match=r"keeps as few as 1 analyses \(of 12\).*needs at least 2"):
        _quick(resampling_policy="subsample", target_n=1, n_resamples=2).transform(result)


def test_estimator_without_fitted_data_is_refused(pain_fdr):
    result = copy.copy(pain_fdr)
    result.estimator = ALE()
    with pytest.raises(ValueError, match="holds no fitted data"):
        _quick().transform(result)


def test_unreachable_alpha_warns(pain_montecarlo):
    with pytest.warns(UserWarning, match=r"n_iters=10 with alpha=0.05"):
        with pytest.raises(ReplicateError):
            # A cheap way to stop after the warning: the replicate estimator cannot fit.
            broken = copy.copy(pain_montecarlo)
            broken.estimator = copy.deepcopy(pain_montecarlo.estimator)
            broken.estimator.kernel_transformer = None
            _quick(
                target_image="z_desc-size_level-cluster_corr-FWE_method-montecarlo",
                n_iters=10,
                engine="refit",
            ).transform(broken)


def test_failing_replicate_is_named(pain_fdr):
    broken = copy.copy(pain_fdr)
    broken.estimator = copy.deepcopy(pain_fdr.estimator)
    broken.estimator.kernel_transformer = "not a kernel"
    with pytest.raises(ReplicateError, match=r"Replicate 0 \(seed \d+; left out: pain_01.nidm-1\)"):
        _quick(engine="refit").transform(broken)


def test_fast_engine_refuses_what_it_cannot_reproduce(ibma_studyset):
    result = FDRCorrector().transform(Stouffers().fit(ibma_studyset))
    with pytest.raises(ValueError, match=r"engine='fast' does not support Stouffers"):
        _quick(engine="fast").transform(result)


def test_long_schedules_are_announced(pain_fdr, caplog):
    with caplog.at_level(logging.INFO, logger="nimare_stability"):
        _quick(resampling_policy="leave_k_out", k=2, n_resamples=2, engine="refit").transform(
            pain_fdr
        )
    assert any("2 replicates with the refit engine" in m for m in caplog.messages)
