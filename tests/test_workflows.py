"""NiMARE's workflows name our diagnostics after ``enable_workflows()``; the verdict."""

import textwrap
import warnings

import numpy as np
import pytest
from nilearn.reporting import get_clusters_table
from nimare.correct import FWECorrector
from nimare.generate import create_coordinate_studyset
from nimare.meta.cbma import ALE, KDA, ALESubtraction, MKDAChi2
from nimare.meta.ibma import DerSimonianLaird, Stouffers
from nimare.reports.base import Report
from nimare.workflows import CBMAWorkflow, IBMAWorkflow, PairwiseCBMAWorkflow
from nimare.workflows import base as workflow_base
from nimare.workflows.cbma import CBMAWorkflow as CBMA
from nimare.workflows.cbma import PairwiseCBMAWorkflow as Pairwise
from nimare.workflows.ibma import IBMAWorkflow as IBMA

import nimare_stability
from nimare_stability import ResampledStability, policies

MASS = "z_desc-mass_level-cluster_corr-FWE_method-montecarlo"


@pytest.fixture
def enabled():
    nimare_stability.enable_workflows()
    yield
    nimare_stability.disable_workflows()


def _state():
    return (
        dict(workflow_base.STR_TO_CLASS),
        CBMA.__dict__["_diag_options"],
        Pairwise.__dict__["_diag_options"],
        IBMA.__dict__["_diag_options"],
        Report.__dict__["index"],
        workflow_base.Workflow.__dict__["_preprocess_input"],
    )


def test_import_changes_nothing_and_disable_restores_exactly():
    before = _state()
    assert before[3] == "jackknife"  # NiMARE's IBMA quirk: a string, not a tuple
    added = nimare_stability.enable_workflows()
    assert {"resampledstability", "robustness"} <= set(added)
    assert nimare_stability.enable_workflows() == added  # idempotent
    assert IBMA._diag_options == ("jackknife", *added)
    assert workflow_base.STR_TO_CLASS["resampledstability"] is ResampledStability
    assert Report.__dict__["index"] is not before[-2]  # the report shows our heatmaps
    assert workflow_base.Workflow.__dict__["_preprocess_input"] is not before[-1]
    nimare_stability.disable_workflows()
    assert _state() == before


def test_without_enable_nimare_refuses_the_name():
    with pytest.raises(ValueError, match="must be jackknife"):
        CBMAWorkflow(diagnostics=["resampledstability"])


def test_cbma_workflow_by_name_runs_jackknife_and_stability(enabled, pain, tmp_path, n_iters):
    workflow = CBMAWorkflow(
        estimator=ALE(random_state=0),
        corrector=FWECorrector(method="montecarlo", n_iters=2 * n_iters),
        diagnostics=["jackknife", "resampledstability"],
        output_dir=tmp_path,
    )
    result = workflow.fit(pain)
    stem = f"{MASS}_diag-ResampledStability"
    assert f"{MASS}_diag-Jackknife_tab-counts_tail-positive" in result.tables
    assert stem in result.maps and f"{stem}_tab-influence" in result.tables
    ours = next(d for d in result.diagnostics if isinstance(d, ResampledStability))
    assert (ours.target_threshold, ours.cluster_threshold) == (1.65, 10)
    assert "significant (|z| > 1.65, in clusters of at least 10 voxels)" in result.description_
    # Same threshold as Jackknife: the same clusters, joined by label value.
    labels = result.maps["label_desc-mass_level-cluster_corr-FWE_method-montecarlo_tail-positive"]
    clusters = result.tables[f"{stem}_tab-clusters"]
    assert sorted(clusters["cluster_id"]) == sorted(np.unique(labels[labels > 0]).astype(int))
    assert (tmp_path / f"{stem}.nii.gz").exists()
    assert (tmp_path / f"{stem}_tab-clusters.tsv").exists()
    assert "ResampledStability" in (tmp_path / "boilerplate.txt").read_text()


def test_ibma_workflow_still_runs_jackknife_after_enable_and_disable(ibma_studyset):
    nimare_stability.enable_workflows()
    nimare_stability.disable_workflows()
    result = IBMAWorkflow(estimator=Stouffers(), diagnostics=["jackknife"]).fit(ibma_studyset)
    assert any("Jackknife_tab-counts" in name for name in result.tables)


# A fixed- and a random-effects estimator by name (Fishers' stability is checked against
# NiMARE refits in test_stability_api.py; every estimator fits the simulated set in
# test_simulated_ibma.py).
@pytest.mark.parametrize("estimator", [Stouffers, DerSimonianLaird])
def test_ibma_workflow_by_name(enabled, ibma_studyset, estimator):
    workflow = IBMAWorkflow(
        estimator=estimator(groupby=False),
        diagnostics=[
            "jackknife",
            ResampledStability(
                resampling_policy="leave_group_out", groups="study", random_state=0, progress=False
            ),
        ],
    )
    result = workflow.fit(ibma_studyset)
    maps = [name for name in result.maps if name.endswith("_diag-ResampledStability")]
    assert maps
    stability = result.maps[maps[0]]
    assert (stability > 0).any() and (stability < 0).any()  # both planted blobs, signs kept


@pytest.mark.parametrize(
    "estimator",
    [lambda n: ALESubtraction(n_iters=n, random_state=0), lambda n: MKDAChi2()],
)
def test_pairwise_workflow_produces_stability_maps(enabled, sleuth_pair, estimator, n_iters):
    workflow = PairwiseCBMAWorkflow(
        estimator=estimator(n_iters),
        corrector="fdr",
        diagnostics=[
            ResampledStability(
                resampling_policy="subsample",
                target_n=0.8,
                n_resamples=2,
                random_state=0,
                progress=False,
            )
        ],
    )
    result = workflow.fit(*sleuth_pair)
    names = [name for name in result.maps if name.endswith("_diag-ResampledStability")]
    assert any("group1" in name for name in names)
    summary = result.tables[f"{names[0]}_tab-summary"].iloc[0]
    assert summary["n_resamples"] == 2


def test_pairwise_difference_map_is_signed_and_resamples_both_groups(sleuth_pair, n_iters):
    result = ALESubtraction(n_iters=n_iters, random_state=0).fit(*sleuth_pair)
    target = "z_desc-group1MinusGroup2"
    out = ResampledStability(
        target_image=target,
        resampling_policy="subsample",
        target_n=0.8,
        n_resamples=2,
        random_state=0,
        progress=False,
    ).transform(result)
    stability = out.maps[f"{target}_diag-ResampledStability"]
    baseline = np.sign(result.maps[target]) * (result.maps["p_desc-group1MinusGroup2"] < 0.05)
    assert (baseline > 0).any() and (baseline < 0).any()
    assert (stability > 0).any() and (stability < 0).any()
    assert np.all(stability[baseline > 0] >= 0) and np.all(stability[baseline < 0] <= 0)
    replicates = out.tables[f"{target}_diag-ResampledStability_tab-replicates"]
    group1 = set(result.estimator.inputs_["id1"])
    for retained in replicates["retained"]:  # 80% of each group: 17 of 21, 13 of 16
        kept = retained.split(";")
        assert (sum(i in group1 for i in kept), sum(i not in group1 for i in kept)) == (17, 13)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A third-party package announcing a policy and diagnostics through entry points."""
    (tmp_path / "fake_stability_plugin.py").write_text(
        textwrap.dedent("""
        import numpy as np
        from nimare.diagnostics import Diagnostics

        class EveryOther:
            def split(self, ids, groups=None, strata=None, rng=None):
                n = len(ids)
                yield np.arange(0, n, 2)
                yield np.arange(1, n, 2)

            def get_n_splits(self, ids, groups=None, strata=None):
                return 2

        class NullDiagnostic(Diagnostics):
            def _transform(self, *args, **kwargs):
                return None
    """)
    )
    info = tmp_path / "fake_stability_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-stability-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""
        [nimare_stability.policies]
        every_other = fake_stability_plugin:EveryOther

        [nimare.diagnostics]
        nulldiagnostic = fake_stability_plugin:NullDiagnostic
        broken = fake_stability_plugin_missing:Nope
        jackknife = fake_stability_plugin:NullDiagnostic
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    nimare_stability.disable_workflows()


def test_third_party_policy_is_usable_by_name(plugin, pain_ale):
    assert "every_other" in policies.available_policies()
    out = ResampledStability(
        target_image="z", resampling_policy="every_other", random_state=0, progress=False
    ).transform(pain_ale)
    replicates = out.tables["z_diag-ResampledStability_tab-replicates"]
    assert [len(r.split(";")) for r in replicates["retained"]] == [11, 10]


def test_third_party_diagnostic_by_name_broken_and_clashing_ones_warn(plugin):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        added = nimare_stability.enable_workflows()
    messages = " ".join(str(w.message) for w in caught)
    assert "nulldiagnostic" in added and "broken" not in added
    assert "'broken'" in messages and "could not be loaded" in messages
    assert "clashes with NiMARE's own 'jackknife'" in messages
    assert workflow_base.STR_TO_CLASS["jackknife"].__module__ == "nimare.diagnostics"
    workflow = CBMAWorkflow(diagnostics=["nulldiagnostic"])
    assert type(workflow.diagnostics[0]).__name__ == "NullDiagnostic"


@pytest.fixture(scope="module")
def one_analysis_studyset():
    """Two planted foci in every analysis, plus 15 foci of analysis 0 alone at one spot."""
    _, studyset = create_coordinate_studyset(
        foci=2,
        foci_percentage="100%",
        fwhm=10,
        sample_size=30,
        n_studies=20,
        n_noise_foci=2,
        seed=1,
    )
    lone = np.array([-40.0, 30.0, 10.0]) + np.random.default_rng(0).normal(0, 2, (15, 3))
    return studyset.with_points(np.zeros(15, dtype=int), lone, space="MNI")


def test_verdict_calls_lone_cluster_fragile_and_never_robust_without_fragility(
    enabled, one_analysis_studyset, n_iters
):
    workflow = CBMAWorkflow(
        estimator=KDA(),
        corrector=FWECorrector(method="montecarlo", n_iters=n_iters),
        diagnostics=["jackknife", "resampledstability", "robustness"],
    )
    result = workflow.fit(one_analysis_studyset)
    stem = f"{MASS}_diag-ResampledStability"
    clusters = result.tables[f"{stem}_tab-clusters"]
    peaks = clusters[["peak_x", "peak_y", "peak_z"]].to_numpy()
    planted = [(8, -78, -48), (48, -58, -38)]
    lone = (-40, 30, 10)
    near = lambda xyz: np.linalg.norm(peaks - np.asarray(xyz), axis=1).min() < 12  # noqa: E731
    assert all(near(xyz) for xyz in [*planted, lone]), "fixture clusters must exist"

    verdicts = result.tables[f"{MASS}_tab-robustness"]
    assert list(verdicts.columns) == [
        "cluster_id",
        "tail",
        "peak_x",
        "peak_y",
        "peak_z",
        "peak_label",
        "overlap_label",
        "mean_stability",
        "detection_rate",
        "vanishes_without",
        "top_analysis",
        "top_contribution",
        "evidence",
        "verdict",
        "reason",
    ]
    assert set(verdicts["evidence"]) == {"ResampledStability (leave_1_out), Jackknife"}
    influence = result.tables[f"{stem}_tab-influence"].set_index("id")
    for _, row in verdicts.iterrows():
        peak = clusters.loc[
            clusters["cluster_id"] == row["cluster_id"], ["peak_x", "peak_y", "peak_z"]
        ].to_numpy()
        sinks = influence.index[influence[f"PositiveTail {row['cluster_id']}"] == 1]
        assert row["vanishes_without"] == ";".join(sinks)
        if np.linalg.norm(peak - lone) < 12:
            assert row["verdict"] == "fragile" and row["vanishes_without"] == "study-0-1"
            assert row["reason"].startswith("vanishes without study-0-1 (1 of 20 analyses)")
            assert row["top_analysis"] == "study-0-1" and row["top_contribution"] > 0.8
        elif any(np.linalg.norm(peak - xyz) < 12 for xyz in planted):
            # Surviving single removals does not show a fragility of 4 or more.
            assert row["verdict"] == "undetermined", row["reason"]
            assert row["reason"].startswith("survives removing any one analysis")
            assert "add Fragility" in row["reason"] and "add FailSafeN" in row["reason"]
    assert "robust" not in set(verdicts["verdict"])


def test_pairwise_subsample_sizes_apply_within_each_group(sleuth_pair):
    result = MKDAChi2().fit(*sleuth_pair)
    target = "z_desc-association"
    out = ResampledStability(
        target_image=target,
        resampling_policy="subsample",
        target_n=10,
        n_resamples=3,
        random_state=0,
        progress=False,
    ).transform(result)
    replicates = out.tables[f"{target}_diag-ResampledStability_tab-replicates"]
    group1 = set(result.estimator.inputs_["id1"])
    for retained in replicates["retained"]:
        kept = retained.split(";")
        assert sum(i in group1 for i in kept) == 10 and len(kept) == 20


def test_fragility_and_failsafen_run_by_name_and_join_the_verdict(
    enabled, one_analysis_studyset, n_iters, tmp_path
):
    workflow = CBMAWorkflow(
        estimator=KDA(),
        corrector=FWECorrector(method="montecarlo", n_iters=n_iters),
        diagnostics=["fragility", "failsafen", "robustness"],
        output_dir=tmp_path,
    )
    result = workflow.fit(one_analysis_studyset)
    names = [type(d).__name__ for d in result.diagnostics]
    assert names == ["Fragility", "FailSafeN", "RobustnessVerdict"]
    fragility = result.tables[f"{MASS}_diag-Fragility_tab-clusters"]
    failsafe = result.tables[f"{MASS}_diag-FailSafeN_tab-clusters"]
    # The workflow's thresholds reach our diagnostics: nilearn's (and Jackknife's) clusters.
    assert all(d.target_threshold == 1.65 for d in result.diagnostics[:2])
    _, label_maps = get_clusters_table(
        result.get_map(MASS), 1.65, 10, two_sided=False, return_label_maps=True
    )
    labels = np.asanyarray(label_maps[0].dataobj)
    expected = sorted(np.unique(labels[labels > 0]).astype(int))
    assert sorted(fragility["cluster_id"]) == sorted(failsafe["cluster_id"]) == expected
    verdicts = result.tables[f"{MASS}_tab-robustness"]
    assert {"fragility", "fsn_mean", "verdict", "reason"} <= set(verdicts.columns)
    lone = fragility.loc[fragility["removed"] == "study-0-1"]
    assert len(lone) == 1 and lone["fragility"].iloc[0] == 1
    verdict = verdicts.set_index("cluster_id").loc[lone["cluster_id"].iloc[0]]
    assert verdict["verdict"] == "fragile"
    assert (tmp_path / f"{MASS}_diag-FailSafeN_tab-clusters.tsv").exists()
    assert "fail-safe N" in (tmp_path / "boilerplate.txt").read_text()
    assert "acar2018assessing" in (tmp_path / "references.bib").read_text()
