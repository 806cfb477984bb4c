"""Every private NiMARE name this package relies on, in one place.

NiMARE does not promise these across releases; ``tests/test_nimare_private.py`` checks each
one, so that an upgrade fails loudly there rather than quietly somewhere else. Modules of
this package import private NiMARE functions from here, never from NiMARE directly.
"""

from nimare.utils import (
    _check_ncores,
    _mask_coverage_to_null_ijk,
    _mask_img_to_bool,
    _nlogp_to_logp_values,
    _p_to_logp_values,
)

__all__ = [
    "DIAG_OPTIONS_ATTR",
    "JACKKNIFE_HOOKS",
    "JACKKNIFE_CONTEXT_KEYS",
    "KERNEL_ESTIMATOR_METHODS",
    "MIN_ANALYSES_ATTR",
    "NAME_SUFFIX_ATTR",
    "REPORT_DIAGNOSTICS_SECTION",
    "REPORT_INDEX_ATTR",
    "RAW_WEIGHTS_ATTR",
    "_check_ncores",
    "_mask_coverage_to_null_ijk",
    "_mask_img_to_bool",
    "_nlogp_to_logp_values",
    "_p_to_logp_values",
    "check_n_cores",
    "corrector_suffix",
    "estimator_min_analyses",
]

#: Private methods the fast engine calls on fitted ALE, MKDADensity and KDA estimators.
KERNEL_ESTIMATOR_METHODS = (
    "_collect_ma_maps",
    "_prepare_subsample_null",
    "_compute_summarystat_est",
    "_determine_histogram_bins",
    "_compute_null_approximate",
    "_summarystat_to_p",
    "_p_to_summarystat",
)

#: ``nimare.diagnostics.Jackknife`` methods our Jackknife overrides: NiMARE's
#: ``Diagnostics.transform`` hands them the clusters of each tail (batch) and asks them for
#: one left-out analysis's per-cluster values.
JACKKNIFE_HOOKS = ("_batch_tail_contexts", "_transform_batch")
#: Keys of those tail contexts our Jackknife reads or sets, and of their
#: ``"cluster_summary_context"``.
JACKKNIFE_CONTEXT_KEYS = (
    ("meta_ids", "cluster_summary_context", "cluster_ids", "sign"),
    ("mode", "cluster_indices"),
)
#: Estimator attribute holding the fewest analyses it will fit (IBMA estimators set it).
MIN_ANALYSES_ATTR = "_min_analyses"
#: MKDADensity's fitted raw study weights, before normalisation.
RAW_WEIGHTS_ATTR = "_raw_weights_"
#: Workflow class attribute listing the diagnostic names it accepts.
DIAG_OPTIONS_ATTR = "_diag_options"
#: ``nimare.reports.base.Report`` method that turns the report configuration (a list of
#: sections, each ``{"name": ..., "reportlets": [...]}``) into the report's sections.
REPORT_INDEX_ATTR = "index"
#: The name of the section of NiMARE's report configuration that holds the diagnostics.
REPORT_DIAGNOSTICS_SECTION = "Diagnostics"
#: Corrector attribute holding the ``_corr-…_method-…`` suffix of the maps it writes.
NAME_SUFFIX_ATTR = "_name_suffix"


def corrector_suffix(corrector):
    """Return the ``_corr-…_method-…`` suffix of the maps ``corrector`` writes."""
    return getattr(corrector, NAME_SUFFIX_ATTR, None)


def estimator_min_analyses(estimator):
    """Return the fewest analyses ``estimator`` fits, or None when it declares no floor."""
    return getattr(estimator, MIN_ANALYSES_ATTR, None)


def check_n_cores(n_cores):
    """Resolve ``n_cores`` as NiMARE does (``<= 0`` means every core)."""
    return _check_ncores(n_cores)
