"""Every private NiMARE name listed in ``nimare_stability.core._nimare_private`` still behaves as
this package relies on it: an upgrade of NiMARE that changes one fails here."""

import os

import numpy as np
import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.meta.ibma import Stouffers
from nimare.workflows.cbma import CBMAWorkflow, PairwiseCBMAWorkflow
from nimare.workflows.ibma import IBMAWorkflow

from nimare_stability.core import _nimare_private as private


def test_mask_img_to_bool_marks_the_nonzero_voxels(pain_ale):
    mask_img = pain_ale.masker.mask_img_
    expected = np.asanyarray(mask_img.dataobj) != 0
    mask = private._mask_img_to_bool(mask_img)
    assert mask.dtype == bool and mask.shape == mask_img.shape
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == pain_ale.maps["z"].size


def test_null_ijk_of_the_brain_coverage_are_the_mask_voxels(pain_ale):
    ijk = private._mask_coverage_to_null_ijk(pain_ale.masker, mask_coverage="brain")
    expected = np.argwhere(np.asanyarray(pain_ale.masker.mask_img.dataobj) > 0)
    np.testing.assert_array_equal(np.asarray(ijk), expected)


def test_p_and_natural_log_p_convert_to_minus_log10_p():
    p = np.array([0.5, 0.05, 1e-3, 1.0])
    np.testing.assert_allclose(private._p_to_logp_values(p), -np.log10(p), rtol=1e-6)
    np.testing.assert_allclose(private._nlogp_to_logp_values(np.log(p)), -np.log10(p), rtol=1e-6)


def test_check_n_cores_maps_non_positive_to_every_core():
    assert private.check_n_cores(-1) == os.cpu_count()
    assert private.check_n_cores(1) == 1


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


@pytest.mark.parametrize("estimator", [ALE, MKDADensity, KDA])
@pytest.mark.parametrize("method", private.KERNEL_ESTIMATOR_METHODS)
def test_kernel_estimators_keep_the_methods_the_fast_engine_calls(estimator, method):
    assert callable(getattr(estimator, method, None))


def test_ibma_estimators_declare_their_minimum():
    assert private.estimator_min_analyses(Stouffers()) == 2
    assert private.estimator_min_analyses(ALE()) is None


def test_mkda_density_keeps_raw_weights():
    assert hasattr(MKDADensity(), private.RAW_WEIGHTS_ATTR)


@pytest.mark.parametrize("workflow", [CBMAWorkflow, PairwiseCBMAWorkflow, IBMAWorkflow])
def test_workflows_list_their_diagnostic_names(workflow):
    assert "jackknife" in workflow.__dict__[private.DIAG_OPTIONS_ATTR]


def test_report_configuration_has_the_diagnostics_section_our_heatmaps_join():
    from importlib.resources import files

    import yaml
    from nimare.reports.base import Report

    assert callable(Report.__dict__[private.REPORT_INDEX_ATTR])
    config = yaml.safe_load((files("nimare") / "reports" / "default.yml").read_text())
    names = [section["name"] for section in config["sections"]]
    assert private.REPORT_DIAGNOSTICS_SECTION in names
    section = config["sections"][names.index(private.REPORT_DIAGNOSTICS_SECTION)]
    assert any(r["bids"].get("diag") == "Jackknife" for r in section["reportlets"])


def test_jackknife_hooks_receive_the_tail_contexts_we_read(pain_montecarlo):
    from nimare.diagnostics import Jackknife

    seen = []

    class Spy(Jackknife):
        def _batch_tail_contexts(self, tail_contexts):
            seen.extend(tail_contexts)
            raise StopIteration  # the contexts are all this test needs

    for hook in private.JACKKNIFE_HOOKS:
        assert callable(getattr(Jackknife, hook))
    with pytest.raises(StopIteration):
        Spy(
            target_image="z_desc-size_level-cluster_corr-FWE_method-montecarlo",
            target_threshold=1.65,
        ).transform(pain_montecarlo)
    context_keys, summary_keys = private.JACKKNIFE_CONTEXT_KEYS
    assert seen and all(set(context_keys) <= set(context) for context in seen)
    assert all(set(summary_keys) <= set(c["cluster_summary_context"]) for c in seen)
