"""Every private NiMARE and joblib name behind ``nimare_stability.core._nimare_private`` still
behaves as this package relies on it: an upgrade that changes one fails its test here."""

import copy
import os

import numpy as np
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.diagnostics import Jackknife
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.meta.cbma.weights import StudyWeights
from nimare.meta.ibma import Stouffers
from nimare.results import MetaResult
from nimare.workflows.cbma import CBMAWorkflow, PairwiseCBMAWorkflow
from nimare.workflows.ibma import IBMAWorkflow
from scipy import sparse

from nimare_stability.core import _nimare_private as private
from nimare_stability.engines.kernels import collect_ma_maps

MC = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _dense(ma_maps):
    return sparse.csr_matrix(ma_maps).toarray()


def _sorted_ids(estimator):
    return np.unique(estimator.inputs_["coordinates"]["id"].astype(str))


# ------------------------------------------------------------------------------- maps


def test_mask_to_bool_marks_the_nonzero_voxels(pain_ale):
    mask_img = pain_ale.masker.mask_img_
    expected = np.asanyarray(mask_img.dataobj) != 0
    mask = private.mask_to_bool(mask_img)
    assert mask.dtype == bool and mask.shape == mask_img.shape
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == pain_ale.maps["z"].size


def test_p_and_natural_log_p_convert_to_minus_log10_p():
    p = np.array([0.5, 0.05, 1e-3, 1.0])
    np.testing.assert_allclose(private.p_to_logp(p), -np.log10(p), rtol=1e-6)
    np.testing.assert_allclose(private.nlogp_to_logp(np.log(p)), -np.log10(p), rtol=1e-6)
    assert private.p_to_logp(p).dtype == np.float32


def test_check_n_cores_maps_non_positive_to_every_core():
    assert private.check_n_cores(-1) == os.cpu_count()
    assert private.check_n_cores(1) == 1


# ------------------------------------------------------------------------- estimators


def test_null_voxels_of_the_brain_coverage_are_the_mask_voxels(pain_ale):
    assert pain_ale.estimator.mask_coverage == "brain"
    ijk = private.null_voxels(pain_ale.estimator)
    expected = np.argwhere(np.asanyarray(pain_ale.masker.mask_img.dataobj) > 0)
    np.testing.assert_array_equal(np.asarray(ijk), expected)


@pytest.mark.parametrize("estimator", [ALE, MKDADensity, KDA])
@pytest.mark.parametrize("method", private.KERNEL_ESTIMATOR_METHODS)
def test_kernel_estimators_keep_the_methods_called_on_them(estimator, method):
    assert callable(getattr(estimator, method, None))


def test_ma_maps_in_sorted_id_order_give_the_fits_statistic(pain_ale):
    estimator = copy.deepcopy(pain_ale.estimator)
    estimator.inputs_["ma_maps"] = "stale"  # a fit's kept maps are dropped, then rebuilt
    ma_maps = _dense(private.collect_ma_maps(estimator))
    assert ma_maps.shape == (21, pain_ale.maps["stat"].size)
    stat = private.summary_statistic(estimator, ma_maps)
    np.testing.assert_allclose(stat, pain_ale.maps["stat"], rtol=1e-5, atol=1e-6)
    # One row per analysis in sorted-id order: the sum without the first is its refit's.
    first = _sorted_ids(estimator)[0]
    refit = ALE().fit(estimator.dataset.slice([i for i in estimator.inputs_["id"] if i != first]))
    without = private.summary_statistic(estimator, ma_maps[1:])
    np.testing.assert_allclose(without, refit.maps["stat"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("estimator", [ALE, MKDADensity])
def test_a_prepared_copy_holds_the_inputs_of_a_fit_and_its_ma_maps(pain, estimator):
    half = pain.slice(list(pain.ids[:10]))
    fitted = estimator().fit(half)
    prepared = private.prepared_copy(fitted.estimator, pain)
    refit = estimator().fit(pain).estimator
    assert prepared.dataset is pain and prepared.null_distributions_ == {}
    np.testing.assert_array_equal(prepared.inputs_["id"], refit.inputs_["id"])
    columns = ["id", "i", "j", "k", "sample_size"]
    ours, theirs = (e.inputs_["coordinates"] for e in (prepared, refit))
    columns = [c for c in columns if c in theirs]
    assert ours[columns].equals(theirs[columns])
    np.testing.assert_array_equal(
        _dense(private.collect_ma_maps(prepared)), _dense(collect_ma_maps(refit)[1])
    )
    assert len(fitted.estimator.inputs_["id"]) == 10  # the fitted estimator is not touched


def test_a_subset_copy_computes_the_p_values_and_threshold_of_its_refit(pain, pain_ale):
    estimator = pain_ale.estimator
    ids = _sorted_ids(estimator)[:10]
    ma_maps = sparse.csr_matrix(private.collect_ma_maps(copy.deepcopy(estimator)))[:10]
    coordinates = estimator.inputs_["coordinates"]
    subset = private.subset_copy(estimator, ids, coordinates[coordinates["id"].isin(ids)], ma_maps)
    assert subset.inputs_["id"] is ids and estimator.inputs_["id"] is not ids
    subset = private.null_histogram(subset, ma_maps)
    assert private.null_histogram(subset, None) is subset  # built once
    refit = ALE()
    result = refit.fit(pain.slice(list(ids)))
    p, _ = private.stat_to_p(subset, private.summary_statistic(subset, ma_maps), "approximate")
    np.testing.assert_allclose(p, result.maps["p"], rtol=1e-6, atol=1e-12)
    threshold = private.p_to_stat(subset, 0.001, "approximate")
    assert threshold == refit._p_to_summarystat(0.001)


def test_mkda_weights_are_readable_and_scale_its_statistic(pain):
    raw = {analysis: float(i + 1) for i, analysis in enumerate(pain.ids)}
    weighting = StudyWeights(source=raw)
    estimator = MKDADensity(weighting=weighting).fit(pain).estimator
    by_id = dict(zip(estimator.inputs_["id"], private.raw_weights(estimator)))
    assert by_id == {analysis: raw[analysis] for analysis in estimator.inputs_["id"]}
    assert private.raw_weights(MKDADensity().fit(pain).estimator) is None
    weights = private.fitted_weights(estimator)
    assert weights.shape == (21, 1)
    ma_maps = _dense(private.collect_ma_maps(copy.deepcopy(estimator)))
    stat = private.summary_statistic(estimator, ma_maps)
    doubled = copy.copy(estimator)
    private.set_fitted_weights(doubled, 2 * weights)
    np.testing.assert_allclose(private.summary_statistic(doubled, ma_maps), 2 * stat)
    np.testing.assert_array_equal(private.fitted_weights(estimator), weights)
    assert private.fitted_weights(ALE()) is None


def test_correction_rng_is_fresh_on_each_call_and_seeded_by_the_estimator(pain_ale):
    """``tests/test_corrector.py`` feeds its draws to the engine: NiMARE's corrected maps."""
    estimator = pain_ale.estimator
    first, again = (private.correction_rng(estimator).integers(2**63) for _ in range(2))
    assert first == again
    reseeded = copy.copy(estimator)
    reseeded.random_state = estimator.random_state + 1
    assert private.correction_rng(reseeded).integers(2**63) != first


def test_null_distributions_added_join_the_fits(pain_ale):
    estimator = copy.deepcopy(pain_ale.estimator)
    fitted = list(estimator.null_distributions_)
    private.add_null_distributions(estimator, {"values_added": np.zeros(3)})
    assert list(estimator.null_distributions_) == [*fitted, "values_added"]
    assert list(pain_ale.estimator.null_distributions_) == fitted


def test_a_dataless_copy_still_lets_fdr_correct_its_maps(pain_ale):
    shell = private.dataless_copy(pain_ale.estimator)
    assert shell.inputs_ == {} and shell.dataset is None
    assert pain_ale.estimator.inputs_ and pain_ale.estimator.dataset is not None
    result = MetaResult(shell, mask=pain_ale.masker, maps=dict(pain_ale.maps))
    corrected = FDRCorrector(method="indep", alpha=0.05).transform(result)
    expected = FDRCorrector(method="indep", alpha=0.05).transform(pain_ale)
    name = "z_corr-FDR_method-indep"
    np.testing.assert_array_equal(corrected.maps[name], expected.maps[name])


def test_ibma_estimators_declare_their_minimum():
    assert private.estimator_min_analyses(Stouffers()) == 2
    assert private.estimator_min_analyses(ALE()) is None


# ------------------------------------------------------------------------- correctors


@pytest.mark.parametrize(
    "corrector, suffix",
    [
        (FDRCorrector(method="indep"), "_corr-FDR_method-indep"),
        (FWECorrector(method="montecarlo"), "_corr-FWE_method-montecarlo"),
        (FWECorrector(method="bonferroni"), "_corr-FWE_method-bonferroni"),
    ],
)
def test_corrector_suffix_names_the_maps_it_writes(corrector, suffix):
    assert private.corrector_suffix(corrector) == suffix


def test_estimator_correction_kwargs_are_the_parameters_nimare_checks(pain_ale):
    method = pain_ale.estimator.correct_fwe_montecarlo
    corrector = FWECorrector(method="montecarlo", n_iters=5, voxel_thresh=0.01)
    kwargs = private.estimator_correction_kwargs(corrector, method)
    assert kwargs == {"n_iters": 5, "n_cores": 1, "voxel_thresh": 0.01}
    with pytest.raises(TypeError, match="'alpha'.*Accepted keyword arguments: voxel_thresh"):
        private.estimator_correction_kwargs(FWECorrector(method="montecarlo", alpha=0.1), method)


def test_a_correctors_iterations_live_in_its_parameters(pain_ale):
    corrector = FWECorrector(method="montecarlo", n_iters=7)
    assert corrector.get_params()["n_iters"] is None  # hidden from get_params
    assert private.corrector_parameter(corrector, "n_iters") == 7
    assert private.corrector_parameters(corrector)["n_iters"] == 7
    assert private.corrector_parameter(corrector, "absent", "default") == "default"
    private.set_corrector_parameter(corrector, "n_iters", 3)
    result = corrector.transform(pain_ale)
    nulls = result.estimator.null_distributions_
    assert {len(v) for k, v in nulls.items() if k.endswith("_method-montecarlo")} == {3}


# -------------------------------------------------------------------------- Jackknife


def test_jackknife_hooks_receive_each_tails_clusters(pain_montecarlo):
    seen = []

    class Spy(private.JackknifeHooks, Jackknife):
        def _leave_out(self, tails):
            seen.extend(tails)
            raise StopIteration  # the clusters are all this test needs

    for hook in private.JACKKNIFE_HOOKS:
        assert callable(getattr(Jackknife, hook))
    with pytest.raises(StopIteration):
        Spy(target_image=MC, target_threshold=1.65).transform(copy.deepcopy(pain_montecarlo))
    assert seen and all(tail.label == "PositiveTail" for tail in seen)
    for tail in seen:
        assert len(tail.cluster_ids) == len(tail.voxels) > 0
        assert all(v.ndim == 1 and v.size for v in tail.voxels)


def test_nimare_jackknife_transform_fills_the_result_without_recording_itself(
    pain_montecarlo,
):
    no_clusters = Jackknife(target_image=MC, target_threshold=1e6)
    filled = Jackknife.transform(no_clusters, copy.deepcopy(pain_montecarlo))
    assert filled.diagnostics[-1] is no_clusters  # what the wrapper undoes
    given = copy.deepcopy(pain_montecarlo)
    before = list(given.diagnostics)
    new = private.nimare_jackknife_transform(no_clusters, given)
    assert new is given and new.diagnostics == before
    assert f"{MC}_tab-clust" in new.tables


# -------------------------------------------------------------------------- workflows


@pytest.mark.parametrize("workflow", [CBMAWorkflow, PairwiseCBMAWorkflow, IBMAWorkflow])
def test_workflows_list_their_diagnostic_names(workflow):
    assert workflow in private.workflow_classes()
    assert "jackknife" in workflow.__dict__[private.DIAG_OPTIONS_ATTR]


def test_workflows_resolve_their_diagnostics_in_one_inherited_method(monkeypatch):
    base = private.workflow_base_class()
    for workflow in private.workflow_classes():
        assert issubclass(workflow, base) and private.WORKFLOW_RESOLVE_ATTR not in vars(workflow)
    resolve = base.__dict__[private.WORKFLOW_RESOLVE_ATTR]
    resolved = []

    def spy(workflow, *args, **kwargs):
        resolve(workflow, *args, **kwargs)
        resolved.append(list(workflow.diagnostics))

    monkeypatch.setattr(base, private.WORKFLOW_RESOLVE_ATTR, spy)
    CBMAWorkflow(diagnostics=["jackknife"])
    ((diagnostic,),) = resolved
    assert type(diagnostic) is Jackknife


def test_workflows_resolve_diagnostic_names_through_one_dict():
    assert private.workflow_names()["jackknife"] is Jackknife


def test_report_configuration_has_the_diagnostics_section_our_heatmaps_join():
    from importlib.resources import files

    import yaml

    assert callable(private.report_class().__dict__[private.REPORT_INDEX_ATTR])
    config = yaml.safe_load((files("nimare") / "reports" / "default.yml").read_text())
    names = [section["name"] for section in config["sections"]]
    assert private.REPORT_DIAGNOSTICS_SECTION in names
    section = config["sections"][names.index(private.REPORT_DIAGNOSTICS_SECTION)]
    assert any(r["bids"].get("diag") == "Jackknife" for r in section["reportlets"])


# ----------------------------------------------------------------------------- joblib


def test_dask_client_is_the_one_joblib_runs_on():
    from distributed import Client
    from joblib import parallel_config

    assert private.dask_client() is None
    with Client(processes=False, n_workers=1, dashboard_address=None) as client:
        with parallel_config(backend="dask"):
            assert private.dask_client() is client
        assert private.dask_client() is None


def test_histogram_bins_are_those_of_the_fit(pain_ale):
    estimator, ma_maps, _, _ = collect_ma_maps(pain_ale.estimator)
    before = estimator.null_distributions_["histogram_bins"]
    row_max = np.asarray(ma_maps.max(axis=1).toarray()).ravel().astype(np.float32)
    bins = private.histogram_bins(estimator, row_max, ma_maps.shape[1])
    np.testing.assert_array_equal(bins, before)
    assert estimator.null_distributions_["histogram_bins"] is before  # not modified


def test_a_null_histogram_set_on_a_subset_copy_gives_its_p_values(pain_ale):
    estimator, ma_maps, kernel_ids, _ = collect_ma_maps(pain_ale.estimator)
    coordinates = estimator.inputs_["coordinates"]
    subset = private.subset_copy(estimator, kernel_ids, coordinates, ma_maps)
    fitted = pain_ale.estimator.null_distributions_
    private.set_null_histogram(
        subset, fitted["histogram_bins"], fitted["histweights_corr-none_method-approximate"]
    )
    stat = pain_ale.maps["stat"]
    p = private.stat_to_p(subset, stat, "approximate")[0]
    np.testing.assert_array_equal(p.astype(np.float32), pain_ale.maps["p"])


def test_subtraction_hooks_see_nimares_permutations_and_cluster_null(pain):
    """NiMARE's fit calls both hooks, with its own permutations and the MA maps it built."""
    import inspect

    from nimare.meta.cbma.ale import ALESubtraction

    from nimare_stability.core._nimare_private import pairwise

    for hook in pairwise.SUBTRACTION_HOOKS:
        assert callable(getattr(ALESubtraction, hook))
    assert list(inspect.signature(ALESubtraction._run_null_permutations).parameters)[1:] == [
        "ma_store",
        "n_iters",
        "n_cores",
        "diff_ale_values",
        "iter_diff_values",
        "group1_mask",
        "group2_mask",
    ]
    seen = {}

    class Spy(pairwise.SubtractionHooks, ALESubtraction):
        def permutation_null(self, group1, group2, observed, rows, n_iters, n_cores, thresh):
            seen.update(shapes=(group1.shape, group2.shape), rows=[rows(i) for i in range(3)])
            seen.update(observed=observed, thresh=thresh)
            n_voxels = observed.shape[0]
            counts = np.full(n_voxels, n_iters, np.uint32)

            def cluster_null(voxel_flat, shape, asked_thresh):
                seen.update(voxel_flat=voxel_flat, shape=shape, asked_thresh=asked_thresh)
                return np.float32(0.5), np.ones(n_iters, np.float32), np.ones(n_iters, np.float32)

            return np.zeros(n_iters), counts, counts, cluster_null

    ids = sorted(pain.ids)
    halves = pain.slice(ids[:10]), pain.slice(ids[10:])
    result = Spy(n_iters=3, random_state=0, vfwe_only=False).fit(*halves)
    assert seen["shapes"][0][0] == 10 and seen["shapes"][1][0] == 11
    assert seen["thresh"] == 0.001
    # NiMARE's permutations: a shuffle of the pooled rows, group 1's share first.
    assert all(sorted(rows) == sorted(set(rows)) and len(rows) == 10 for rows in seen["rows"])
    reference = ALESubtraction(n_iters=3, random_state=0)
    seeds = reference._iteration_seeds(3, stream=pairwise.PERMUTATION_STREAM)
    for i, rows in enumerate(seen["rows"]):
        expected = reference._permute_pairwise_group_indices(21, 10, seeds[i])[0]
        np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(seen["observed"], result.maps["stat_desc-group1MinusGroup2"])
    mask = private.mask_to_bool(result.estimator.masker.mask_img)
    assert seen["shape"] == mask.shape and seen["asked_thresh"] == 0.001
    np.testing.assert_array_equal(seen["voxel_flat"], np.flatnonzero(mask))
    nulls = result.estimator.null_distributions_
    assert nulls["summary_stat_thresh_level-voxel_corr-fwe_method-montecarlo"] == 0.5
    assert nulls["values_desc-size_level-cluster_corr-fwe_method-montecarlo"].tolist() == [1] * 3


def test_subtraction_jackknife_hook_is_asked_each_groups_left_out_statistic(pain):
    """NiMARE's Jackknife of a subtraction asks once per analysis: group 1's, then group 2's."""
    from nimare.meta.cbma.ale import ALESubtraction

    from nimare_stability.core._nimare_private import pairwise

    assert callable(getattr(Jackknife, pairwise.SUBTRACTION_JACKKNIFE_HOOK))
    ids = sorted(pain.ids)
    result = ALESubtraction(n_iters=100, random_state=0).fit(
        pain.slice(ids[:10]), pain.slice(ids[10:])
    )
    asked = []

    class Spy(pairwise.SubtractionJackknifeHooks, Jackknife):
        def _left_out_statistic(self, analysis_id, group):
            asked.append((analysis_id, group))
            return result.maps["stat_desc-group1MinusGroup2"]  # nothing changes: values 0

    spy = Spy(
        target_image="z_desc-group1MinusGroup2",
        target_threshold=1.96,
        cluster_threshold=20,
        display_second_group=True,
    )
    out = spy.transform(copy.deepcopy(result))
    expected = [(i, 1) for i in result.estimator.inputs_["id1"]]
    expected += [(i, 2) for i in result.estimator.inputs_["id2"]]
    assert sorted(asked) == sorted(expected)
    counts = out.tables["z_desc-group1MinusGroup2_diag-Spy_tab-counts_tail-positive"]
    assert (counts.drop(columns="id").to_numpy(dtype=float) == 0).all()


def test_mkdachi2_fits_from_given_maps_and_corrects_from_given_maxima_as_nimare(pain):
    """A fit from the cached binary maps and a correction fed each permutation's maxima."""
    from nimare.meta.cbma import MKDAChi2
    from scipy import ndimage
    from scipy.stats import chi2

    from nimare_stability.core._nimare_private import chi2 as private_chi2
    from nimare_stability.core._nimare_private import pairwise

    ids = sorted(pain.ids)
    result = MKDAChi2(random_state=2).fit(pain.slice(ids[:10]), pain.slice(ids[10:]))
    estimator = result.estimator
    maps = private_chi2.chi2_ma_maps(estimator)
    row_ids = pairwise.ma_row_ids(estimator)
    assert [m.shape[0] for m in maps] == [10, 11] and maps[0].dtype == np.int32
    shell, fitted = private_chi2.chi2_fit(estimator, row_ids, maps)
    assert sorted(fitted) == sorted(result.maps)
    for name, values in result.maps.items():
        np.testing.assert_array_equal(fitted[name], values, err_msg=name)
    # NiMARE's permutations, from its stream, give the maxima its correction reads.
    pooled = sparse.vstack(maps, format="csr").astype(np.float32)
    seeds = estimator._iteration_seeds(4, stream=private_chi2.CHI2_PERMUTATION_STREAM)
    conn = ndimage.generate_binary_structure(3, 1)
    maxima = np.array(
        [
            estimator._run_label_perm_fwe_permutation(
                i, pooled, 10, 11, conn, chi2.isf(0.001, 1), seed=seeds[i]
            )
            for i in range(4)
        ]
    )
    corrector = FWECorrector(method="montecarlo", n_iters=4)
    expected = corrector.transform(result)
    corrected = private_chi2.corrected_chi2(
        private_chi2.chi2_result(shell, fitted), corrector, maxima
    )
    for name, values in expected.maps.items():
        np.testing.assert_array_equal(corrected.maps[name], values, err_msg=name)
    assert type(corrected.estimator.kernel_transformer) is type(estimator.kernel_transformer)
