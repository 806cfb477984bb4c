"""Every private NiMARE name this package relies on, in one place.

NiMARE does not promise these across releases; ``tests/test_nimare_private.py`` checks each
one, so that an upgrade fails loudly there rather than quietly somewhere else.
"""

from nimare.utils import _check_ncores

#: Estimator attribute holding the fewest analyses it will fit (IBMA estimators set it).
MIN_ANALYSES_ATTR = "_min_analyses"


def estimator_min_analyses(estimator):
    """Return the fewest analyses ``estimator`` fits, or None when it declares no floor."""
    return getattr(estimator, MIN_ANALYSES_ATTR, None)


def check_n_cores(n_cores):
    """Resolve ``n_cores`` as NiMARE does (``<= 0`` means every core)."""
    return _check_ncores(n_cores)
