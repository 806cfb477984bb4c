"""Compiled MKDA chi-square permutations: a batch of relabellings over binary MA maps.

NiMARE's ``MKDAChi2`` tests, at each voxel, how many analyses of each group activate it:
``a`` of group 1's ``n1`` and ``b`` of group 2's ``n2``. Its label-permutation null
relabels the pooled analyses and, per permutation, keeps the largest value and the
largest cluster size and mass of three chi-square maps: group 1's and group 2's one-way
(uniformity) tests and the two-way (association) test.

:func:`chi2_maxima` counts ``a`` for a batch of permutations at once (voxel by voxel, the
batch innermost) from the voxel-major binary maps; ``b`` is the voxel's total minus ``a``.
The statistics follow NiMARE's ``one_way`` and ``two_way_counts`` operation by operation
in float64 (the counts are integers, so every sum is exact), and the cluster measures its
``_calculate_cluster_measures(..., tail="two")`` on the float32 map: 6-connected voxels
above the threshold, a cluster's mass the float64 sum, in voxel order, of its float32
values minus the threshold. Every function is ``nogil``.
"""

import numpy as np
from numba import njit

from nimare_stability.engines._numba_kernels import _max_clusters

#: Maxima per permutation: (value, cluster size, cluster mass) for each test, in NiMARE's
#: order: group 1 uniformity (pAgF), group 2 uniformity (pAgU), association (pFgA).
N_MAXIMA = 9


@njit(cache=True, nogil=True)
def _one_way(count, mean, n, denominator):
    """NiMARE's ``one_way`` at one voxel (``denominator = mean * (n - mean)``)."""
    if denominator == 0:
        return 0.0
    deviation = count - mean
    return deviation * deviation * n / denominator


@njit(cache=True, nogil=True)
def _two_way(a, b, n1, n2):
    """NiMARE's ``two_way_counts`` at one voxel."""
    total = n1 + n2
    row0 = a + b
    row1 = total - row0
    difference = a * n2 - b * n1
    numerator = total * (difference * difference)
    denominator = row0 * row1 * n1 * n2
    if denominator == 0:
        return 2.0
    return numerator / denominator


@njit(cache=True, nogil=True)
def chi2_maxima(indptr, rows, labels, n1, n2, threshold, voxel_flat, shape):
    """Each permutation's largest chi-square values and clusters, for a batch.

    Parameters
    ----------
    indptr, rows : int arrays
        Voxel-major binary MA maps: voxel ``v`` is active in rows
        ``rows[indptr[v]:indptr[v + 1]]`` of the pooled analyses.
    labels : bool array, shape (n_rows, n_perm)
        True where a permutation puts a row in group 1.
    n1, n2 : int
        Group sizes.
    threshold : float
        The chi-square cluster-forming threshold.
    voxel_flat : int64 array, shape (n_voxels,)
        Each voxel's index in the flattened (C-order) grid, increasing.
    shape : int64 array, shape (3,)

    Returns
    -------
    float64 array, shape (n_perm, :data:`N_MAXIMA`)
    """
    n_voxels = indptr.shape[0] - 1
    n_perm = labels.shape[1]
    counts = np.zeros((n_perm, n_voxels), np.int32)
    acc = np.zeros(n_perm, np.int32)
    for v in range(n_voxels):
        acc[:] = 0
        for e in range(indptr[v], indptr[v + 1]):
            row = labels[rows[e]]
            for p in range(n_perm):
                acc[p] += row[p]
        for p in range(n_perm):
            counts[p, v] = acc[p]
    n_total_active = indptr[n_voxels] - indptr[0]
    slot = np.full(shape[0] * shape[1] * shape[2], -1, np.int32)
    stat = np.empty(n_voxels, np.float32)
    flat = np.empty(n_voxels, np.int64)
    label = np.empty(n_voxels, np.int32)
    stack = np.empty(n_voxels, np.int32)
    cluster_of = np.empty(n_voxels, np.int32)
    out = np.zeros((n_perm, N_MAXIMA))
    f1, f2 = float(n1), float(n2)
    for p in range(n_perm):
        mine = counts[p]
        sum1 = 0
        for v in range(n_voxels):
            sum1 += mine[v]
        mean1 = sum1 / n_voxels
        mean2 = (n_total_active - sum1) / n_voxels
        denominator1 = mean1 * (f1 - mean1)
        denominator2 = mean2 * (f2 - mean2)
        for test in range(3):
            top = 0.0
            n_cand = 0
            for v in range(n_voxels):
                a = float(mine[v])
                b = float(indptr[v + 1] - indptr[v]) - a
                if test == 0:
                    value = _one_way(a, mean1, f1, denominator1)
                elif test == 1:
                    value = _one_way(b, mean2, f2, denominator2)
                else:
                    value = _two_way(a, b, f1, f2)
                top = max(top, abs(value))
                single = np.float32(value)
                if abs(single) > threshold:
                    stat[n_cand] = abs(single)
                    flat[n_cand] = voxel_flat[v]
                    slot[flat[n_cand]] = n_cand
                    n_cand += 1
            size, mass = _max_clusters(
                stat, n_cand, threshold, flat, slot, shape, label, stack, cluster_of
            )
            for c in range(n_cand):
                slot[flat[c]] = -1
            out[p, 3 * test] = top
            out[p, 3 * test + 1] = size
            out[p, 3 * test + 2] = mass
    return out
