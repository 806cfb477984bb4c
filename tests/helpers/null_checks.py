"""A two-sided check that Monte Carlo null maxima follow a reference sample (NiMARE's)."""

import numpy as np
from scipy import stats

#: NiMARE's ``null_distributions_`` keys of the three Monte Carlo FWE nulls, in the order
#: of the engine's (max statistic, max cluster size, max cluster mass).
KEYS = (
    "values_level-voxel_corr-fwe_method-montecarlo",
    "values_desc-size_level-cluster_corr-fwe_method-montecarlo",
    "values_desc-mass_level-cluster_corr-fwe_method-montecarlo",
)
#: A null is rejected when the two-sample Kolmogorov-Smirnov p value of any of its three
#: maxima falls below this.
P_MIN = 1e-3


def ks_pvalues(ours, theirs):
    """Two-sample KS p value of each null: ``{key: p}``.

    Parameters
    ----------
    ours : sequence of three 1D arrays
        Per-iteration maximum statistic, cluster size and cluster mass.
    theirs : dict
        The same three, by :data:`KEYS` (as NiMARE's ``null_distributions_``).

    Notes
    -----
    KS is two-sided: a null too small fails as a null too large does. With ties (cluster
    sizes, MKDA's few distinct maxima) its p value is conservative.
    """
    return {
        key: stats.ks_2samp(np.ravel(values), np.ravel(theirs[key])).pvalue
        for key, values in zip(KEYS, ours)
    }


def shrunk(ours, factor=0.9):
    """``ours`` with every per-iteration maximum multiplied by ``factor`` (a null too small)."""
    return tuple(np.asarray(values) * factor for values in ours)
