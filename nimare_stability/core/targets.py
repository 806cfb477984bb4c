"""What a target map is: where its p values live, its tail, and the corrector that made it.

NiMARE names maps ``<kind>[_desc-…][_level-…][_corr-<TYPE>_method-<method>]`` with ``kind``
one of ``z``, ``p`` or ``logp`` (−log10 p). The support rule reads p from the target's own
family: the ``p_`` sibling if present, else ``logp_``, else the z map with the tail NiMARE
used to make it.
"""

import copy
import warnings

import numpy as np
from nimare.correct import FWECorrector
from nimare.meta.cbma.base import PairwiseCBMAEstimator
from nimare.meta.ibma import IBMAEstimator
from scipy import stats

from nimare_stability.core import names
from nimare_stability.core._nimare_private import (
    corrector_parameter,
    corrector_suffix,
    set_corrector_parameter,
)


def z_tail(target_image, estimator):
    """Return the tail (``"one"`` or ``"two"``) of the p values behind the target's z map."""
    corr = names.correction(target_image)
    if isinstance(estimator, PairwiseCBMAEstimator):
        return "two"
    if corr is not None:
        return "one" if corr[1] == "montecarlo" else "two"
    return "two" if isinstance(estimator, IBMAEstimator) else "one"


def check_target(result, target_image):
    """Raise a ValueError when ``target_image`` is not a map of ``result``."""
    if not isinstance(target_image, str):
        raise TypeError(f"target_image={target_image!r} must be a str naming a map of the result.")
    if target_image not in result.maps:
        raise ValueError(
            f"target_image={target_image!r} is not a map of this result; available maps: "
            f"{', '.join(sorted(result.maps))}."
        )
    names.split_kind(target_image)


def p_values(maps, target_image, tail):
    """Return the p values behind ``target_image`` as float64, NaN where they are NaN.

    Read from the ``p_`` sibling if present, else ``logp_`` (−log10 p), else derived from
    the z map with ``tail`` (``"one"`` or ``"two"``, see :func:`z_tail`).
    """
    for kind in (names.P, names.LOGP):
        name = names.sibling(target_image, kind)
        if name in maps:
            values = np.asarray(maps[name], dtype=np.float64)
            return values if kind == names.P else 10.0**-values
    z = np.asarray(maps[names.sibling(target_image, names.Z)], dtype=np.float64)
    if tail == "two":
        return 2 * stats.norm.sf(np.abs(z))
    return stats.norm.sf(z)


def corrector_for(result, target_image, n_iters=None):
    """Return a deep copy of the corrector that made ``target_image``, or None if uncorrected.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
    target_image : str
    n_iters : int or None
        Overrides the Monte Carlo iteration count (through ``.parameters``, which is where
        NiMARE reads it; ``set_params`` would be ignored).

    Returns
    -------
    :class:`~nimare.correct.Corrector` or None
    """
    corr = names.correction(target_image)
    if corr is None:
        if n_iters is not None:
            raise ValueError(
                f"n_iters={n_iters} applies to Monte Carlo corrected targets only; "
                f"target_image={target_image!r} is uncorrected. Accepted: None."
            )
        return None
    corrector = result.corrector
    suffix = names.correction_suffix(target_image)
    if corrector is None or corrector_suffix(corrector) != suffix:
        made_by = "no corrector" if corrector is None else f"{type(corrector).__name__}"
        made_by += "" if corrector is None else f" ({corrector_suffix(corrector).lstrip('_')})"
        raise ValueError(
            f"target_image={target_image!r} was made by a '{suffix.lstrip('_')}' corrector, but "
            f"the result's corrector is {made_by}. Run ResampledStability on the result that "
            "corrector returned, or pick a target it made."
        )
    corrector = copy.deepcopy(corrector)
    if n_iters is not None:
        if corr[1] != "montecarlo":
            raise ValueError(
                f"n_iters={n_iters} applies to Monte Carlo corrected targets only; "
                f"target_image={target_image!r} is corrected by {corr[1]}. Accepted: None."
            )
        set_corrector_parameter(corrector, "n_iters", n_iters)
    return corrector


def monte_carlo_iterations(result, corrector):
    """Return the Monte Carlo iterations a replicate's correction will run, or None."""
    if not isinstance(corrector, FWECorrector) or corrector.method != "montecarlo":
        return None
    if corrector_parameter(corrector, "n_iters") is not None:
        return int(corrector_parameter(corrector, "n_iters"))
    nulls = getattr(result.estimator, "null_distributions_", {})
    for name, values in nulls.items():
        if names.is_montecarlo_null(name):
            return len(values)
    return None


def warn_unreachable_alpha(n_iters, alpha):
    """Warn when no Monte Carlo p value can fall below ``alpha``."""
    if n_iters is not None and n_iters * alpha <= 1:
        warnings.warn(
            f"n_iters={n_iters} with alpha={alpha}: the smallest Monte Carlo p value is "
            f"1/{n_iters} >= alpha, so no voxel can be supported. Use n_iters > {1 / alpha:g}.",
            UserWarning,
            stacklevel=4,
        )
