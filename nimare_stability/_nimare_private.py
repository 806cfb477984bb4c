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

#: Private functions, re-exported above.
FUNCTIONS = (
    _check_ncores,
    _mask_coverage_to_null_ijk,
    _mask_img_to_bool,
    _nlogp_to_logp_values,
    _p_to_logp_values,
)

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

#: Estimator attribute holding the fewest analyses it will fit (IBMA estimators set it).
MIN_ANALYSES_ATTR = "_min_analyses"
#: MKDADensity's fitted raw study weights, before normalisation.
RAW_WEIGHTS_ATTR = "_raw_weights_"
#: Workflow class attribute listing the diagnostic names it accepts.
DIAG_OPTIONS_ATTR = "_diag_options"


def estimator_min_analyses(estimator):
    """Return the fewest analyses ``estimator`` fits, or None when it declares no floor."""
    return getattr(estimator, MIN_ANALYSES_ATTR, None)


def check_n_cores(n_cores):
    """Resolve ``n_cores`` as NiMARE does (``<= 0`` means every core)."""
    return _check_ncores(n_cores)
