"""Our Jackknife: NiMARE's tables and maps from cached MA maps, by analysis or by group."""

import copy
import re

import numpy as np
import pandas as pd
import pytest
from conftest import MASS
from nimare import diagnostics
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta import ibma
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.meta.cbma.weights import StudyWeights
from nimare.reports import run_reports
from nimare.workflows import CBMAWorkflow

import nimare_stability
from nimare_stability import Jackknife, robustness_table
from nimare_stability.diagnostics.jackknife_evidence import has_jackknife

FDR = "z_corr-FDR_method-indep"


def _counts(result, target, tail="positive"):
    return result.tables[f"{target}_diag-Jackknife_tab-counts_tail-{tail}"]


def _new_outputs(result, base):
    """Maps and tables a diagnostic added to ``base``."""
    maps = {k: v for k, v in result.maps.items() if k not in base.maps}
    tables = {k: v for k, v in result.tables.items() if k not in base.tables}
    return maps, tables


def _assert_same_outputs(ours, theirs, base):
    """Same keys; label maps and cluster tables identical; contributions equal to 1e-6."""
    our_maps, our_tables = _new_outputs(ours, base)
    their_maps, their_tables = _new_outputs(theirs, base)
    assert set(our_maps) == set(their_maps) and set(our_tables) == set(their_tables)
    assert any("_tab-counts" in k for k in our_tables)
    for name, label_map in their_maps.items():
        np.testing.assert_array_equal(our_maps[name], label_map)
    for name, table in their_tables.items():
        if "_tab-counts" in name:
            assert table.shape[0] > 1 and table.shape[1] > 1
            pd.testing.assert_frame_equal(
                our_tables[name], table, check_exact=False, rtol=0, atol=1e-6
            )
        else:
            pd.testing.assert_frame_equal(our_tables[name], table)


def _nimare(result, target, threshold=1.65, **kwargs):
    """NiMARE's Jackknife on a copy (it adds its outputs to the result it is given)."""
    return diagnostics.Jackknife(
        target_image=target, target_threshold=threshold, **kwargs
    ).transform(copy.deepcopy(result))


def _ours(result, target, threshold=1.65, **kwargs):
    kwargs = {"progress": False, **kwargs}
    return Jackknife(target_image=target, target_threshold=threshold, **kwargs).transform(result)


def test_ale_cluster_level_montecarlo_equals_nimare(pain_montecarlo, pain_jackknife):
    ours = _ours(pain_montecarlo, MASS)
    _assert_same_outputs(ours, pain_jackknife, pain_montecarlo)
    assert [type(d) for d in ours.diagnostics] == [Jackknife]


def test_ale_fdr_equals_nimare(pain_fdr):
    _assert_same_outputs(_ours(pain_fdr, FDR), _nimare(pain_fdr, FDR), pain_fdr)


@pytest.mark.parametrize(
    "estimator",
    [lambda: MKDADensity(weighting="sample_size"), KDA],
    ids=["MKDADensity-weighted", "KDA"],
)
def test_mkda_and_kda_equal_nimare(pain, estimator):
    result = FDRCorrector(method="indep", alpha=0.05).transform(estimator().fit(pain))
    _assert_same_outputs(_ours(result, FDR), _nimare(result, FDR), result)


def test_two_tailed_target_equals_nimare(pain_ale):
    """A hand-made map with both signs: NiMARE merges both tails into one table."""
    z = pain_ale.maps["z"].copy()
    z[: z.size // 2] *= -1  # clusters in the first half of the mask become negative
    result = copy.copy(pain_ale)
    result.maps = {**pain_ale.maps, "z_custom": z}
    ours = _ours(result, "z_custom", threshold=3.0)
    assert "z_custom_diag-Jackknife_tab-counts" in ours.tables
    assert {"PositiveTail 1", "NegativeTail 1"} <= set(
        ours.tables["z_custom_diag-Jackknife_tab-counts"]
    )
    _assert_same_outputs(ours, _nimare(result, "z_custom", threshold=3.0), result)


def test_kernel_estimators_never_refit(pain_fdr, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("refit")

    monkeypatch.setattr(ALE, "fit", refuse)
    assert not _counts(_ours(pain_fdr, FDR), FDR).empty


def _brute_force(result, target, groups):
    """Refit without each group with NiMARE; NiMARE's per-cluster mean of 1 - stat_loo/stat."""
    estimator = result.estimator
    ids = list(estimator.inputs_["id"])
    labels = result.maps[f"label{target[1:]}_tail-positive"]
    clusters = np.unique(labels[labels > 0])
    rows = {}
    for group in dict.fromkeys(groups[id_] for id_ in ids):
        others = [id_ for id_ in ids if groups[id_] != group]
        loo = copy.deepcopy(estimator).fit(estimator.dataset.slice(others)).maps["stat"]
        with np.errstate(divide="ignore", invalid="ignore"):
            values = 1 - np.nan_to_num(loo / result.maps["stat"])
        rows[group] = [values[labels == c].mean() for c in clusters]
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.mark.parametrize(
    "estimator",
    [ALE, "imputed"],
    ids=["ALE", "MKDADensity-imputed-weights"],
)
def test_groups_equal_refitting_without_each_group(pain, estimator):
    ids = list(pain.ids)
    if estimator == "imputed":
        # Every fourth weight missing: a refit imputes the mean of the analyses it keeps.
        weights = {id_: np.nan if k % 4 == 0 else float(k) for k, id_ in enumerate(ids, 1)}
        weighting = StudyWeights(source=weights, on_missing="impute")
        estimator = lambda: MKDADensity(weighting=weighting)  # noqa: E731
    result = FDRCorrector(method="indep", alpha=0.05).transform(estimator().fit(pain))
    groups = {id_: f"lab{k // 3}" for k, id_ in enumerate(ids)}
    ours = _ours(result, FDR, groups=groups)
    counts = _counts(ours, FDR)

    expected = _brute_force(ours, FDR, groups)
    assert list(counts["id"]) == [f"lab{k}" for k in range(7)] == list(expected.index)
    np.testing.assert_allclose(counts.iloc[:, 1:].to_numpy(float), expected, rtol=0, atol=1e-6)
    assert counts.iloc[:, 1:].to_numpy(float).max() > 0.1


def test_study_groups_label_rows_by_study(pain_fdr):
    """Pain has one analysis per study: leave-one-study-out is leave-one-out, rows by study."""
    by_study = _counts(_ours(pain_fdr, FDR, groups="study"), FDR)
    by_analysis = _counts(_ours(pain_fdr, FDR), FDR)
    studies = pain_fdr.estimator.inputs_["coordinates"].drop_duplicates("id")["study_id"]
    assert list(by_study["id"]) == list(studies)
    pd.testing.assert_frame_equal(by_study.iloc[:, 1:], by_analysis.iloc[:, 1:])


def test_callers_result_is_not_modified(pain_fdr):
    maps = {k: v.copy() for k, v in pain_fdr.maps.items()}
    tables = dict(pain_fdr.tables)
    diagnostics_before = list(pain_fdr.diagnostics)
    inputs = dict(pain_fdr.estimator.inputs_)

    new = _ours(pain_fdr, FDR, groups="study")

    assert new is not pain_fdr and new.maps is not pain_fdr.maps
    assert set(pain_fdr.maps) == set(maps) and set(pain_fdr.tables) == set(tables)
    for name, values in maps.items():
        np.testing.assert_array_equal(pain_fdr.maps[name], values)
    assert all(pain_fdr.tables[k] is v for k, v in tables.items())
    assert pain_fdr.diagnostics == diagnostics_before
    assert pain_fdr.estimator.inputs_.keys() == inputs.keys()
    assert all(pain_fdr.estimator.inputs_[k] is v for k, v in inputs.items())
    assert set(new.maps) > set(maps) and set(new.tables) > set(tables)


def test_by_name_in_cbma_workflow_and_nimare_report(pain, n_iters, tmp_path):
    nimare_stability.enable_workflows()
    try:
        result = CBMAWorkflow(
            estimator=ALE(random_state=0),
            corrector=FWECorrector(method="montecarlo", n_iters=n_iters),
            diagnostics=["fastjackknife"],
        ).fit(pain)
        run_reports(result, tmp_path)
    finally:
        nimare_stability.disable_workflows()

    (diagnostic,) = result.diagnostics
    assert isinstance(diagnostic, Jackknife) and diagnostic.target_image == MASS
    assert (diagnostic.target_threshold, diagnostic.cluster_threshold) == (1.65, 10)
    counts = _counts(result, MASS)
    assert list(counts["id"]) == list(result.estimator.inputs_["id"])
    heatmap = (
        tmp_path / "figures" / "diagnostics_diag-Jackknife_tab-counts_tail-positive_figure.html"
    )
    assert heatmap.is_file()
    # The robustness verdict reads our table as NiMARE's.
    assert has_jackknife(result, MASS)


def test_ours_refuses_a_result_holding_nimares_on_its_target(pain_jackknife):
    with pytest.raises(ValueError) as info:
        _ours(pain_jackknife, MASS)
    assert str(info.value) == (
        "diagnostics=['jackknife', 'fastjackknife'] is not accepted on one target; run one of "
        "them: they write the same tables and label maps, the later silently overwriting the "
        "earlier."
    )
    other = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
    no_clusters = _ours(pain_jackknife, other, threshold=1e6)  # another target: accepted
    assert [type(d) for d in no_clusters.diagnostics] == [diagnostics.Jackknife, Jackknife]


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["jackknife", "fastjackknife"], ["jackknife", "fastjackknife"]),
        (["fastjackknife", "resampledstability", "jackknife"], ["fastjackknife", "jackknife"]),
        ([Jackknife(), diagnostics.Jackknife()], ["fastjackknife", "jackknife"]),
    ],
    ids=["nimare-first", "ours-first", "objects"],
)
def test_workflows_refuse_both_jackknifes_when_built(given, named):
    nimare_stability.enable_workflows()
    try:
        with pytest.raises(ValueError, match=re.escape(f"diagnostics={named!r} is not accepted")):
            CBMAWorkflow(diagnostics=given)
        CBMAWorkflow(diagnostics=["fastjackknife", "resampledstability"])
    finally:
        nimare_stability.disable_workflows()
    CBMAWorkflow(diagnostics=[Jackknife(), diagnostics.Jackknife()])  # NiMARE's own, unchecked


def test_robustness_verdict_reads_our_table(pain_jackknife_stability):
    """The verdict's Jackknife columns, from our table instead of NiMARE's."""
    theirs = pain_jackknife_stability
    without = copy.copy(theirs)
    without.tables = {k: v for k, v in theirs.tables.items() if "_diag-Jackknife" not in k}
    without.diagnostics = [d for d in theirs.diagnostics if type(d) is not diagnostics.Jackknife]
    assert not has_jackknife(without, MASS)
    ours = _ours(without, MASS)

    columns = ["cluster_id", "top_analysis", "top_contribution"]
    expected = robustness_table(theirs, MASS)[columns]
    got = robustness_table(ours, MASS)[columns]
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=0, atol=1e-6)
    assert expected["top_analysis"].notna().all()


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"groups": 3}, TypeError, "groups=3 is not accepted"),
        ({"groups": "no_such_column"}, ValueError, "groups='no_such_column'.*available"),
        ({"groups": {"pain_01.nidm-1": "a"}}, ValueError, "no label for 20 analyses"),
        ({"progress": "yes"}, TypeError, "progress='yes'"),
        ({"cluster_threshold": -1}, ValueError, "cluster_threshold=-1"),
        ({"voxel_thresh": 2.0}, ValueError, "target_threshold=1.65 and voxel_thresh=2.0"),
    ],
)
def test_bad_inputs_name_the_parameter(pain_fdr, params, error, match):
    with pytest.raises(error, match=match):
        _ours(pain_fdr, FDR, **params)


def test_a_single_group_is_refused(pain_fdr):
    one_group = dict.fromkeys(pain_fdr.estimator.inputs_["id"], "all")
    with pytest.raises(ValueError, match="only 1 group.*at least 2"):
        _ours(pain_fdr, FDR, groups=one_group)


@pytest.fixture(scope="module")
def ibma_fdr(ibma_studyset):
    result = ibma.Stouffers().fit(ibma_studyset)
    return FDRCorrector(method="indep", alpha=0.05).transform(result)


def test_ibma_falls_back_to_nimare(ibma_fdr):
    # The planted blobs only: noise clusters at lower thresholds cost nilearn minutes.
    settings = {"threshold": 3.0, "cluster_threshold": 20}
    ours = _ours(ibma_fdr, FDR, **settings)
    _assert_same_outputs(ours, _nimare(ibma_fdr, FDR, **settings), ibma_fdr)
    assert f"{FDR}_diag-Jackknife_tab-counts" in ours.tables  # both tails, merged


def test_groups_need_a_kernel_estimator(ibma_fdr):
    with pytest.raises(ValueError, match="groups='study' needs ALE, MKDADensity or KDA"):
        _ours(ibma_fdr, FDR, groups="study")


def test_subtraction_equals_nimare_without_refitting(pain, monkeypatch):
    """A subtraction's left-out statistics come from its pooled MA maps: NiMARE's values.

    Both tails: group 1's analyses are left out for positive clusters, group 2's for
    negative ones.
    """
    from nimare.meta.cbma.ale import ALESubtraction

    ids = sorted(pain.ids)
    result = ALESubtraction(n_iters=30, random_state=0).fit(
        pain.slice(ids[:10]), pain.slice(ids[10:])
    )
    target = "z_desc-group1MinusGroup2"
    # |z| > 1.96 in clusters of 20 voxels: a few clusters per tail (nilearn's cluster table
    # of thousands of small ones would take minutes)
    options = {"threshold": 1.96, "cluster_threshold": 20}
    options["display_second_group"] = True
    theirs = _nimare(result, target, **options)
    monkeypatch.setattr(ALESubtraction, "fit", lambda *args, **kwargs: pytest.fail("refit"))
    ours = _ours(result, target, **options)
    _assert_same_outputs(ours, theirs, result)
    for tail, ids_ in zip(("positive", "negative"), ("id1", "id2")):
        counts = _counts(ours, target, tail)
        assert counts["id"].tolist() == list(result.estimator.inputs_[ids_])
        pd.testing.assert_frame_equal(counts, _counts(theirs, target, tail))  # value for value
