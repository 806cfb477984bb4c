"""Monte Carlo FWE-corrected maps of a replicate from given null maxima.

The maps ``CBMAEstimator.correct_fwe_montecarlo`` makes once its null is drawn: voxel-level
p from the null of maximum statistics, cluster-level p from the nulls of maximum cluster
size and mass, clusters being face-connected voxels whose statistic exceeds the
cluster-forming threshold (mass: the sum of statistic minus threshold).
"""

import numpy as np
from nimare.stats import null_to_p
from nimare.transforms import p_to_z
from nimare.utils import DEFAULT_FLOAT_DTYPE

from nimare_stability.core import names
from nimare_stability.core._nimare_private import p_to_logp
from nimare_stability.core.volumes import label_faces, to_volume

LEVELS = names.MONTECARLO_LEVELS


def montecarlo_maps(
    stat,
    stat_threshold,
    null_max_stat,
    null_max_size,
    null_max_mass,
    mask,
    levels=LEVELS,
    suffix="",
):
    """Corrected maps of one replicate, as ``FWECorrector(method="montecarlo")`` names them.

    Parameters
    ----------
    stat : ndarray, shape (n_voxels,)
        Masked summary statistic map. Cast to float32, as a ``MetaResult`` stores it.
    stat_threshold : float
        Cluster-forming statistic value (see ``KernelReplicates.stat_threshold``).
    null_max_stat, null_max_size, null_max_mass : ndarray, shape (n_iters,)
        Per-iteration maxima of the statistic, cluster size and cluster mass. With
        ``null_max_size`` and ``null_max_mass`` None, only the voxel-level maps are made.
    mask : ndarray of bool, shape (nx, ny, nz)
        The volume ``stat`` is masked from (its True voxels, C order).
    levels : sequence of str, default=LEVELS
        Which of the maps to make (``"level-voxel"``, ``"desc-size_level-cluster"``,
        ``"desc-mass_level-cluster"``); a replicate judged on one target needs one.
    suffix : str, default=""
        Appended to every map name (``"_corr-FWE_method-montecarlo"``: NiMARE's names).

    Returns
    -------
    dict of str to ndarray of float32, shape (n_voxels,)
        ``logp_level-voxel``, ``z_level-voxel`` and, unless voxel-level only,
        ``logp_desc-size_level-cluster``, ``z_desc-size_level-cluster``,
        ``logp_desc-mass_level-cluster``, ``z_desc-mass_level-cluster``, of the ``levels``
        asked for. One-tailed z.
    """
    stat = np.asarray(stat, dtype=DEFAULT_FLOAT_DTYPE)
    maps = {}
    voxel_level, size_level, mass_level = names.MONTECARLO_LEVELS
    if voxel_level in levels:
        maps = _maps_from_p(voxel_level, null_to_p(stat, null_max_stat, tail="upper"), suffix)
    if null_max_size is None and null_max_mass is None:
        return maps
    threshold = np.float64(stat_threshold)
    labels = _cluster_labels(stat, threshold, mask)
    inside = labels > 0
    sizes = np.bincount(labels, minlength=1)
    masses = np.bincount(labels[inside], weights=stat[inside] - threshold, minlength=sizes.size)
    # Background (label 0) is no cluster: size and mass 0 give p = 1 - 1/n_iters, as in NiMARE.
    sizes[0], masses[0] = 0, 0.0
    for level, values, null in (
        (size_level, sizes, null_max_size),
        (mass_level, masses, null_max_mass),
    ):
        if level in levels:
            # NiMARE reads the cluster p values back through its masker, as float32.
            p = null_to_p(values, null, tail="upper").astype(DEFAULT_FLOAT_DTYPE)
            per_cluster = _maps_from_p(level, p, suffix)
            maps.update({key: value[labels] for key, value in per_cluster.items()})
    return maps


def _cluster_labels(stat, threshold, mask):
    """Cluster label of each masked voxel (0: at or below ``threshold``)."""
    labels, _ = label_faces(to_volume(stat > threshold, mask))
    return labels[mask]


def _maps_from_p(level, p, suffix):
    return {
        names.level_map(names.LOGP, level, suffix): p_to_logp(p),
        names.level_map(names.Z, level, suffix): p_to_z(p, tail="one").astype(DEFAULT_FLOAT_DTYPE),
    }
