"""Every private NiMARE and joblib name this package relies on, in one place.

Neither promises these across releases. No other module of this package calls a private
NiMARE or joblib function or method, sets a fitted attribute of a NiMARE object, overrides
a NiMARE hook or reads NiMARE's internal registries: they call the functions here.
``tests/test_nimare_private.py`` checks the behaviour relied on, one named test per name,
so that an upgrade that changes one fails there rather than quietly somewhere else.
"""

import copy
from typing import NamedTuple

from joblib.parallel import get_active_backend
from nimare.diagnostics import Jackknife
from nimare.utils import (
    _check_ncores,
    _mask_coverage_to_null_ijk,
    _mask_img_to_bool,
    _nlogp_to_logp_values,
    _p_to_logp_values,
)
from scipy import sparse

from nimare_stability.core import names

__all__ = [
    "DIAG_OPTIONS_ATTR",
    "JACKKNIFE_HOOKS",
    "KERNEL_ESTIMATOR_METHODS",
    "REPORT_DIAGNOSTICS_SECTION",
    "REPORT_INDEX_ATTR",
    "JackknifeHooks",
    "WORKFLOW_RESOLVE_ATTR",
    "TailClusters",
    "add_null_distributions",
    "check_n_cores",
    "collect_ma_maps",
    "corrector_parameter",
    "corrector_parameters",
    "corrector_suffix",
    "correction_rng",
    "dask_client",
    "dataless_copy",
    "estimator_correction_kwargs",
    "estimator_min_analyses",
    "fitted_weights",
    "histogram_bins",
    "mask_to_bool",
    "nimare_jackknife_transform",
    "nlogp_to_logp",
    "null_histogram",
    "null_voxels",
    "p_to_logp",
    "p_to_stat",
    "prepared_copy",
    "raw_weights",
    "report_class",
    "set_corrector_parameter",
    "set_fitted_weights",
    "set_null_histogram",
    "stat_to_p",
    "subset_copy",
    "summary_statistic",
    "workflow_base_class",
    "workflow_classes",
    "workflow_names",
]

# ----------------------------------------------------------------------------- estimators

#: Private methods of fitted ALE, MKDADensity and KDA estimators called below.
KERNEL_ESTIMATOR_METHODS = (
    "_collect_inputs",
    "_preprocess_input",
    "_collect_ma_maps",
    "_prepare_subsample_null",
    "_compute_summarystat_est",
    "_determine_histogram_bins",
    "_compute_null_approximate",
    "_summarystat_to_p",
    "_p_to_summarystat",
    "_get_rng",
)
_STUDY_MAX_MA_ATTR = "_study_max_ma_values"  # ALE's: each analysis's largest MA value
#: Estimator attribute holding the fewest analyses it will fit (IBMA estimators set it).
_MIN_ANALYSES_ATTR = "_min_analyses"
#: The random stream of an estimator's ``correct_fwe_montecarlo``.
_FWE_MONTECARLO_STREAM = "correct_fwe_montecarlo"
#: MKDADensity's fitted raw study weights, before normalisation.
_RAW_WEIGHTS_ATTR = "_raw_weights_"


def collect_ma_maps(estimator):
    """Return a CBMA estimator's MA maps, one row per analysis in sorted-id order.

    Rebuilt from the coordinates (``inputs_``' maps are dropped: pass a copy).
    """
    estimator.inputs_.pop("ma_maps", None)
    return estimator._collect_ma_maps()


def prepared_copy(estimator, dataset):
    """Return a deep copy of a CBMA estimator holding what ``fit(dataset)`` prepares, unfit.

    Its ``inputs_`` (voxel indices, sample sizes), masker and ``dataset``; an empty null.
    """
    prepared = copy.deepcopy(estimator)
    prepared._collect_inputs(dataset, drop_invalid=getattr(estimator, "_drop_invalid", True))
    prepared._preprocess_input(dataset)
    prepared.dataset = dataset
    prepared.null_distributions_ = {}
    return prepared


def summary_statistic(estimator, ma_maps):
    """Return the summary statistic (the ``stat`` map) of ``ma_maps``' analyses."""
    return estimator._compute_summarystat_est(ma_maps)


def subset_copy(estimator, ids, coordinates, ma_maps):
    """Return a shallow copy of a fitted kernel estimator prepared for a subset of analyses.

    Its ``inputs_`` hold only ``ids`` and their ``coordinates``, its null is empty, and
    ``ma_maps`` (their rows) prepared it as NiMARE prepares a subsample's null.
    """
    subset = copy.copy(estimator)
    subset.inputs_ = {"id": ids, "coordinates": coordinates}
    subset.null_distributions_ = {}
    subset._prepare_subsample_null(ma_maps, ids)
    return subset


def null_histogram(estimator, ma_maps):
    """Build a :func:`subset_copy`'s approximate null from ``ma_maps`` unless it has one."""
    if not estimator.null_distributions_:
        estimator._determine_histogram_bins(ma_maps)
        estimator._compute_null_approximate(ma_maps)
    return estimator


def histogram_bins(estimator, row_max, n_voxels):
    """Return the ALE null's bin centres of analyses with largest MA values ``row_max``.

    As a fit on ``n_voxels`` voxels derives them; ``estimator`` is not modified.
    """
    probe = copy.copy(estimator)
    probe.null_distributions_ = {}
    setattr(probe, _STUDY_MAX_MA_ATTR, row_max)
    probe._determine_histogram_bins(sparse.csr_matrix((row_max.shape[0], n_voxels)))
    return probe.null_distributions_[names.HISTOGRAM_BINS]


def set_null_histogram(estimator, bins, weights):
    """Store an approximate-null histogram (bin centres, weights) in a :func:`subset_copy`."""
    estimator.null_distributions_[names.HISTOGRAM_BINS] = bins
    estimator.null_distributions_[names.APPROXIMATE_HISTOGRAM] = weights


def stat_to_p(estimator, stat, null_method):
    """Return ``(p, z)`` of summary statistics under ``estimator``'s ``null_method`` null."""
    return estimator._summarystat_to_p(stat, null_method=null_method)


def p_to_stat(estimator, p, null_method):
    """Return the summary statistic whose p under ``estimator``'s null is ``p``."""
    return estimator._p_to_summarystat(p, null_method=null_method)


def correction_rng(estimator):
    """Return a fresh generator of the foci ``estimator.correct_fwe_montecarlo`` draws.

    Seeded by the estimator's ``random_state`` (fresh entropy for None).
    """
    return estimator._get_rng(_FWE_MONTECARLO_STREAM)


def add_null_distributions(estimator, nulls):
    """Add ``nulls`` (key -> values) to a copied estimator's ``null_distributions_``."""
    estimator.null_distributions_.update(nulls)


def fitted_weights(estimator):
    """Return MKDADensity's per-analysis weights of its fit (MA-row order), else None."""
    return getattr(estimator, "weight_vec_", None)


def set_fitted_weights(estimator, weights):
    """Set the per-analysis weights a copy's statistic uses (shape (n_analyses, 1))."""
    estimator.weight_vec_ = weights


def raw_weights(estimator):
    """Return MKDADensity's raw (unnormalised) analysis weights, or None."""
    return getattr(estimator, _RAW_WEIGHTS_ATTR, None)


def dataless_copy(estimator):
    """Return a shallow copy of ``estimator`` that holds no data (no inputs, no dataset)."""
    shell = copy.copy(estimator)
    shell.inputs_, shell.dataset = {}, None
    return shell


def null_voxels(estimator):
    """Return the voxel indices (n, 3) Monte Carlo foci are drawn from (its mask coverage)."""
    return _mask_coverage_to_null_ijk(estimator.masker, mask_coverage=estimator.mask_coverage)


def estimator_min_analyses(estimator):
    """Return the fewest analyses ``estimator`` fits, or None when it declares no floor."""
    return getattr(estimator, _MIN_ANALYSES_ATTR, None)


# ----------------------------------------------------------------------------- maps


def mask_to_bool(mask_img):
    """Return a mask image's nonzero voxels as a 3D bool array."""
    return _mask_img_to_bool(mask_img)


def p_to_logp(p):
    """Return −log10 ``p`` as NiMARE stores it in ``logp_`` maps (float32, clipped)."""
    return _p_to_logp_values(p)


def nlogp_to_logp(nlogp):
    """Return −log10 p from natural-log p values, as NiMARE computes it."""
    return _nlogp_to_logp_values(nlogp)


# ----------------------------------------------------------------------------- correctors

#: Corrector attribute holding the ``_corr-…_method-…`` suffix of the maps it writes.
_NAME_SUFFIX_ATTR = "_name_suffix"


def corrector_suffix(corrector):
    """Return the ``_corr-…_method-…`` suffix of the maps ``corrector`` writes."""
    return getattr(corrector, _NAME_SUFFIX_ATTR, None)


def estimator_correction_kwargs(corrector, method):
    """Return the keywords ``corrector`` passes to an estimator's correction ``method``.

    Checked as its ``transform`` checks them (a TypeError names those not accepted).
    """
    kwargs = corrector._estimator_kwargs()
    corrector._validate_parameters(method, kwargs)
    return kwargs


def corrector_parameters(corrector):
    """Return the parameters a corrector runs with (``get_params`` hides some of them)."""
    return corrector.parameters


def corrector_parameter(corrector, name, default=None):
    """Return one of the parameters a corrector runs with, or ``default``."""
    return corrector.parameters.get(name, default)


def set_corrector_parameter(corrector, name, value):
    """Set a parameter a corrector (a private copy) runs with (``set_params`` ignores it)."""
    corrector.parameters[name] = value


# ----------------------------------------------------------------------------- Jackknife

#: ``nimare.diagnostics.Jackknife`` hooks :class:`JackknifeHooks` overrides.
JACKKNIFE_HOOKS = ("_batch_tail_contexts", "_transform_batch")


class TailClusters(NamedTuple):
    """One tail's clusters, as NiMARE's ``Diagnostics.transform`` hands them to its hooks.

    Attributes
    ----------
    label : str
        ``"PositiveTail"`` or ``"NegativeTail"``: the prefix of the contribution columns.
    cluster_ids : list of int
    voxels : list of ndarray or None
        Each cluster's masked voxel indices; None when the masker maps no masked voxels.
    """

    label: str
    cluster_ids: list
    voxels: list


class JackknifeHooks:
    """Mixin routing NiMARE's Jackknife hooks to leave-one-out values a subclass caches.

    Put it before :class:`nimare.diagnostics.Jackknife` in the bases: NiMARE's
    ``Diagnostics.transform`` hands ``_batch_tail_contexts`` every tail's clusters, then asks
    ``_transform_batch`` for each left-out analysis's values. The subclass defines:

    - ``_leave_out(tails)``: given each tail's :class:`TailClusters`, compute every left-out
      unit's values and return the units' labels (the table's rows), or None to let
      NiMARE refit;
    - ``_left_out_values(label)``: one unit's values, one array per tail (None: NiMARE's);
    - ``_only_tail(tail)``: called instead of NiMARE's loop when one tail has clusters
      (the subclass writes that tail's table).
    """

    def _batch_tail_contexts(self, tail_contexts):
        tails = [_tail_clusters(context) for context in tail_contexts]
        labels = self._leave_out(tails)
        if labels is None:
            return super()._batch_tail_contexts(tail_contexts)
        for context in tail_contexts:
            context["meta_ids"] = list(labels)
        if len(tails) == 1:
            self._only_tail(tails[0])
            return []
        return super()._batch_tail_contexts(tail_contexts)

    def _transform_batch(
        self, expid, tail_contexts, result, target_value_map=None, image_cache=None
    ):
        values = self._left_out_values(expid)
        if values is None:
            return super()._transform_batch(
                expid, tail_contexts, result, target_value_map, image_cache
            )
        return values


def _tail_clusters(context):
    summary = context["cluster_summary_context"]
    masked = summary is not None and summary["mode"] == "masked_array"
    voxels = list(summary["cluster_indices"]) if masked else None
    return TailClusters(context["sign"], list(context["cluster_ids"]), voxels)


def nimare_jackknife_transform(jackknife, result):
    """Run NiMARE's ``Jackknife.transform`` as ``jackknife``; return the result it fills.

    NiMARE adds its outputs to ``result`` itself (pass a copy) and appends ``jackknife`` to
    ``result.diagnostics``; that entry is removed, so the caller records what it wants.
    """
    new = Jackknife.transform(jackknife, result)
    new.diagnostics.pop()
    return new


# ----------------------------------------------------------------------------- workflows

#: Workflow class attribute listing the diagnostic names it accepts.
DIAG_OPTIONS_ATTR = "_diag_options"
#: ``nimare.reports.base.Report`` method that turns the report configuration into sections.
REPORT_INDEX_ATTR = "index"
#: The name of the section of NiMARE's report configuration that holds the diagnostics.
REPORT_DIAGNOSTICS_SECTION = "Diagnostics"
#: Method of NiMARE's workflow base class that resolves the estimator, corrector and
#: diagnostics (names or objects) into objects, before anything runs.
WORKFLOW_RESOLVE_ATTR = "_preprocess_input"


def workflow_classes():
    """Return NiMARE's workflow classes that take ``diagnostics`` by name."""
    from nimare.workflows.cbma import CBMAWorkflow, PairwiseCBMAWorkflow
    from nimare.workflows.ibma import IBMAWorkflow

    return (CBMAWorkflow, PairwiseCBMAWorkflow, IBMAWorkflow)


def workflow_base_class():
    """Return the base class of NiMARE's workflows (it defines ``WORKFLOW_RESOLVE_ATTR``)."""
    from nimare.workflows.base import Workflow

    return Workflow


def workflow_names():
    """Return the dict through which NiMARE's workflows resolve diagnostic names."""
    from nimare.workflows import base

    return base.STR_TO_CLASS


def report_class():
    """Return NiMARE's report class (``nimare.reports.run_reports`` builds one)."""
    from nimare.reports.base import Report

    return Report


# ----------------------------------------------------------------------------- joblib


def dask_client():
    """Return the ``distributed.Client`` of joblib's active Dask backend, or None."""
    backend, _ = get_active_backend()
    return getattr(backend, "client", None)


def check_n_cores(n_cores):
    """Resolve ``n_cores`` as NiMARE does (``<= 0`` means every core)."""
    return _check_ncores(n_cores)
