"""The baseline: the support rule of a run, the target's support and its clusters."""

import warnings

import numpy as np

from nimare_stability.core import clusters, targets
from nimare_stability.core.support import SupportRule
from nimare_stability.core.volumes import mask_array


def support_rule(result, diagnostic):
    """Return the :class:`~nimare_stability.core.support.SupportRule` a diagnostic applies.

    Parameters
    ----------
    result : :obj:`~nimare.results.MetaResult`
    diagnostic : object
        With ``target_image``, ``alpha``, ``target_threshold`` and ``cluster_threshold``.
    """
    return SupportRule(
        diagnostic.target_image,
        targets.z_tail(diagnostic.target_image, result.estimator),
        mask_array(result.masker),
        diagnostic.alpha,
        diagnostic.target_threshold,
        diagnostic.cluster_threshold,
        np.isnan(np.asarray(result.maps[diagnostic.target_image], dtype=np.float64)),
    )


def baseline(result, rule):
    """Return the baseline support of ``result`` and its clusters.

    Returns
    -------
    support : :class:`~nimare_stability.core.support.Support`
    clusters : :obj:`list` of :class:`~nimare_stability.core.clusters.Cluster`
    """
    support = rule(result.maps)
    return support, clusters.baseline_clusters(result, rule.target_image, support, rule.mask)


def check_target_values(result, target_image):
    """Refuse an all-NaN target; warn about NaN voxels, which are never supported."""
    values = np.asarray(result.maps[target_image], dtype=np.float64)
    n_nan = int(np.isnan(values).sum())
    if n_nan == values.size:
        raise ValueError(
            f"target_image={target_image!r} is NaN in all {values.size} voxels; accepted: a "
            "map with finite values (check the estimator's inputs)."
        )
    if n_nan:
        warnings.warn(
            f"target_image={target_image!r} is NaN in {n_nan} of {values.size} voxels; they "
            "count as not significant in the baseline and in every replicate.",
            UserWarning,
            stacklevel=4,
        )


def warn_empty_support(support, rule):
    """Warn when the baseline has no support: the cluster tables will be empty."""
    if np.any(support.signs):
        return
    how = (
        f"|z| > {rule.target_threshold}"
        if rule.target_threshold is not None
        else f"p < {rule.alpha}"
    )
    warnings.warn(
        f"target_image={rule.target_image!r} has no support (no voxel with {how}"
        f"{f' in a cluster of {rule.cluster_threshold}+ voxels' if rule.cluster_threshold else ''}"
        "): there are no clusters to judge (their tables are empty).",
        UserWarning,
        stacklevel=4,
    )
