"""Every private NiMARE name listed in ``nimare_stability._nimare_private`` still works."""

import os

import pytest
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.meta.ibma import Stouffers
from nimare.workflows.cbma import CBMAWorkflow, PairwiseCBMAWorkflow
from nimare.workflows.ibma import IBMAWorkflow

from nimare_stability import _nimare_private


@pytest.mark.parametrize("function", _nimare_private.FUNCTIONS, ids=lambda f: f.__name__)
def test_private_functions_are_callable(function):
    assert callable(function)


@pytest.mark.parametrize("estimator", [ALE, MKDADensity, KDA])
@pytest.mark.parametrize("method", _nimare_private.KERNEL_ESTIMATOR_METHODS)
def test_kernel_estimators_keep_the_methods_the_fast_engine_calls(estimator, method):
    assert callable(getattr(estimator, method))


def test_check_n_cores_maps_non_positive_to_every_core():
    assert _nimare_private.check_n_cores(-1) == os.cpu_count()
    assert _nimare_private.check_n_cores(1) == 1


def test_ibma_estimators_declare_their_minimum():
    assert hasattr(Stouffers, _nimare_private.MIN_ANALYSES_ATTR)
    assert _nimare_private.estimator_min_analyses(Stouffers()) == 2


def test_mkda_density_keeps_raw_weights():
    assert hasattr(MKDADensity(), _nimare_private.RAW_WEIGHTS_ATTR)


@pytest.mark.parametrize("workflow", [CBMAWorkflow, PairwiseCBMAWorkflow, IBMAWorkflow])
def test_workflows_list_their_diagnostic_names(workflow):
    assert "jackknife" in workflow.__dict__[_nimare_private.DIAG_OPTIONS_ATTR]
