"""Compiled ALE-difference permutations: a batch of relabellings over cached MA maps.

A permutation assigns each analysis of the pooled groups to group 1 or group 2. At a
voxel, group 1's ALE is ``1 - exp(l1)``, ``l1`` the sum of ``log1p(-MA)`` over its
analyses' entries there, and group 2's is ``1 - exp(lt - l1)``, ``lt`` the sum over every
analysis. :func:`permute_batch` sums ``l1`` for a batch of permutations at once (voxel by
voxel, the batch in the innermost loop, where the compiler vectorises it) and streams,
with :func:`~nimare_stability.engines.permutations.stream_batch`, what NiMARE's
``ALESubtraction`` keeps of each permutation's difference map ``d``:

- ``upper[v] += d >= observed[v]`` and ``lower[v] += d <= observed[v]``;
- the largest ``|d|`` per permutation;
- optionally, every ``|d|`` above a level, with its permutation and voxel, from which
  :func:`cluster_maxima` finds each permutation's largest cluster (cluster-level nulls).

``d`` falls as ``l1`` grows, so each voxel's comparisons are decided by ``l1`` against the
root ``a`` of ``d(a) = observed`` (:func:`roots`), outside a margin that bounds rounding;
inside it, and wherever ``|d|`` may reach the running maximum or the level (``|d| <=
|lt - 2 l1|``, as ``exp`` is 1-Lipschitz below 0), the voxel-permutation is returned to
the caller, which computes ``d`` as NiMARE does: ``(1 - exp(l1)) - (1 - exp(l2))`` in
float64, with numpy's ``exp``. Every function is ``nogil``.
"""

import numpy as np
from numba import njit

from nimare_stability.engines._numba_kernels import _max_clusters

#: Absolute rounding allowance of a computed difference ``d`` per unit of ``1 + |lt|``.
_ROUNDING = 1e-15


@njit(cache=True, nogil=True)
def group_log_sums(starts, rows, logs, membership):
    """Per voxel, the sums over group 1's and group 2's entries, in entry (row) order.

    ``membership[row]`` is 1 or 2 (0: the analysis is left out). Rows in order, as a fit's
    ``bincount`` over its MA rows sums them: NiMARE's group ALE, before ``1 - exp``.
    """
    n = starts.shape[0] - 1
    sums1 = np.zeros(n)
    sums2 = np.zeros(n)
    for v in range(n):
        total1 = 0.0
        total2 = 0.0
        for e in range(starts[v], starts[v + 1]):
            group = membership[rows[e]]
            if group == 1:
                total1 += logs[e]
            elif group == 2:
                total2 += logs[e]
        sums1[v] = total1
        sums2[v] = total2
    return sums1, sums2


@njit(cache=True, nogil=True)
def kept_entries(starts, rows, logs, membership):
    """Return ``(starts, rows, logs)`` of the entries of analyses with ``membership > 0``."""
    n = starts.shape[0] - 1
    kept_starts = np.zeros(n + 1, np.int64)
    count = 0
    for e in range(starts[n]):
        count += membership[rows[e]] > 0
    kept_rows = np.empty(count, np.int32)
    kept_logs = np.empty(count)
    count = 0
    for v in range(n):
        for e in range(starts[v], starts[v + 1]):
            if membership[rows[e]] > 0:
                kept_rows[count] = rows[e]
                kept_logs[count] = logs[e]
                count += 1
        kept_starts[v + 1] = count
    return kept_starts, kept_rows, kept_logs


@njit(cache=True, nogil=True)
def roots(totals, observed):
    """Per voxel, ``(a, margin)``: ``d(l1) >= observed`` for ``l1 < a - margin``, ``<=`` above.

    ``d(l1) = exp(lt - l1) - exp(l1)``; with ``u = exp(a)``, ``u**2 + observed * u - P = 0``
    (``P = exp(lt)``), solved without cancellation. The margin covers the rounding of a
    computed ``d`` (its slope is at least ``2 sqrt(P)`` in magnitude) and of ``a``.
    """
    n = totals.shape[0]
    at = np.empty(n)
    margin = np.empty(n)
    for v in range(n):
        lt = totals[v]
        p = np.exp(lt)
        o = observed[v]
        disc = np.sqrt(o * o + 4.0 * p)
        u = 2.0 * p / (o + disc) if o >= 0 else (disc - o) / 2.0
        a = np.log(u)
        at[v] = a
        error = 4.0 * _ROUNDING * (2.0 + abs(lt))
        margin[v] = 4.0 * error / (2.0 * np.sqrt(p)) + 1e-14 * (1.0 + abs(a))
    return at, margin


@njit(cache=True, nogil=True)
def _difference(l1, lt):
    """NiMARE's group-1 minus group-2 ALE from group 1's log-sum ``l1`` and the total."""
    return (1.0 - np.exp(l1)) - (1.0 - np.exp(lt - l1))


@njit(cache=True, nogil=True)
def _sum_group1(starts, rows, logs, labels, v, acc):
    """``acc[b]``: permutation ``b``'s group-1 log-sum at voxel ``v``, in entry order."""
    acc[:] = 0.0
    e, end = starts[v], starts[v + 1]
    while e + 1 < end:  # two entries a pass: the same additions, fewer loads of acc
        row, value, row2, value2 = rows[e], logs[e], rows[e + 1], logs[e + 1]
        for b in range(acc.shape[0]):
            acc[b] = (acc[b] + (value if labels[row, b] else 0.0)) + (
                value2 if labels[row2, b] else 0.0
            )
        e += 2
    if e < end:
        row, value = rows[e], logs[e]
        for b in range(acc.shape[0]):
            acc[b] += value if labels[row, b] else 0.0


@njit(cache=True, nogil=True)
def permute_batch(starts, rows, logs, labels, totals, observed, at, margin, level):
    """Stream a batch of permutations' difference maps, leaving close calls to the caller.

    Parameters
    ----------
    starts : int64 array, shape (n_voxels + 1,)
        Voxel-major (CSC) offsets of the entries.
    rows : int32 array, shape (n_entries,)
        Each entry's analysis (pooled row), increasing within a voxel.
    logs : float64 array, shape (n_entries,)
        Each entry's ``log1p(-MA)``, computed in the MA maps' float32 as NiMARE does.
    labels : bool array, shape (n_analyses, n_permutations)
        True where the permutation puts the analysis in group 1.
    totals, observed, at, margin : float64 arrays, shape (n_voxels,)
        Every analysis's log-sums (:func:`group_log_sums`), the observed differences and
        :func:`roots` of them.
    level : float
        Keep every ``|d| > level`` (``inf``: keep none).

    Returns
    -------
    upper, lower : uint32 arrays, shape (n_voxels,)
        Per voxel, how many permutations certainly reach at least / at most the observed
        difference (decided by ``l1`` outside the margin).
    close_perm, close_voxel : int32 arrays; close_l1 : float64 array; close_open : bool array
        Every voxel-permutation whose ``d`` the caller must compute
        (:func:`~nimare_stability.engines.permutations.stream_batch`): its group-1
        log-sum, and whether its comparisons with the observed difference are still open
        (inside the margin). The others may hold the permutation's largest ``|d|`` or a
        ``|d| > level``. The running maximum computed here, whose ``exp`` may differ from
        numpy's in the last bit, only prunes, lowered by the bound's slack.
    """
    n_voxels = totals.shape[0]
    n_perm = labels.shape[1]
    upper = np.zeros(n_voxels, np.uint32)
    lower = np.zeros(n_voxels, np.uint32)
    running = np.zeros(n_perm)
    acc = np.empty(n_perm)
    # Empty lists typed by their elements (numba cannot type four untyped ones here).
    close_perm = [np.int32(0) for _ in range(0)]
    close_voxel = [np.int32(0) for _ in range(0)]
    close_l1 = [0.0 for _ in range(0)]
    close_open = [np.uint8(0) for _ in range(0)]
    for v in range(n_voxels):
        if starts[v] == starts[v + 1]:  # no analysis here: every d is exactly 0
            upper[v] += n_perm if 0.0 >= observed[v] else 0
            lower[v] += n_perm if 0.0 <= observed[v] else 0
            continue
        _sum_group1(starts, rows, logs, labels, v, acc)
        lt = totals[v]
        low, high = at[v] - margin[v], at[v] + margin[v]
        slack = _ROUNDING * (2.0 + abs(lt))
        n_upper, n_lower, n_close = 0, 0, 0
        for b in range(n_perm):  # branch-free: vectorised
            l1 = acc[b]
            bound = abs(lt - 2.0 * l1) + slack
            n_upper += l1 < low
            n_lower += l1 > high
            n_close += (l1 >= low) & (l1 <= high) | (bound >= running[b]) | (bound > level)
        if n_close:
            for b in range(n_perm):
                l1 = acc[b]
                bound = abs(lt - 2.0 * l1) + slack
                in_margin = low <= l1 <= high
                if not (in_margin or bound >= running[b] or bound > level):
                    continue
                running[b] = max(running[b], abs(_difference(l1, lt)) - slack)
                close_perm.append(np.int32(b))
                close_voxel.append(np.int32(v))
                close_l1.append(l1)
                close_open.append(np.uint8(in_margin))
        upper[v] += n_upper
        lower[v] += n_lower
    return (
        upper,
        lower,
        np.array(close_perm, np.int32),
        np.array(close_voxel, np.int32),
        np.array(close_l1),
        np.array(close_open, np.uint8) == 1,
    )


@njit(cache=True, nogil=True)
def settle(upper, lower, perm, voxel, d, open_, observed, n_perm):
    """Count the close calls' comparisons; return each permutation's largest ``|d|``.

    ``perm``, ``voxel``, ``open_`` as :func:`permute_batch` returns them, ``d`` their
    differences (computed by the caller); ``upper`` and ``lower`` gain the open calls.
    """
    abs_max = np.zeros(n_perm)
    for i in range(d.shape[0]):
        v = voxel[i]
        if open_[i]:
            upper[v] += d[i] >= observed[v]
            lower[v] += d[i] <= observed[v]
        abs_max[perm[i]] = max(abs_max[perm[i]], abs(d[i]))
    return abs_max


@njit(cache=True, nogil=True)
def cluster_maxima(kept_perm, kept_voxel, kept_value, n_perm, threshold, voxel_flat, shape):
    """Per permutation, NiMARE's largest two-tailed cluster size and mass at ``threshold``.

    As NiMARE's ``_calculate_cluster_measures(..., tail="two")`` on the float32 map: voxels
    with ``|d| > threshold`` form 6-connected clusters, positive and negative apart; a
    cluster's mass sums, in voxel order and in float64, the float32 ``|d| - threshold``.

    Parameters
    ----------
    kept_perm, kept_voxel, kept_value : arrays
        :func:`permute_batch`'s kept entries, every ``|d| > threshold`` among them.
    n_perm : int
    threshold : float32
    voxel_flat : int64 array, shape (n_voxels,)
        Each voxel's index in the flattened (C-order) grid, increasing.
    shape : int64 array, shape (3,)

    Returns
    -------
    sizes, masses : float64 arrays, shape (n_perm,)
    """
    sizes = np.zeros(n_perm)
    masses = np.zeros(n_perm)
    order = np.argsort(kept_perm, kind="mergesort")  # voxels stay ascending per permutation
    slot = np.full(shape[0] * shape[1] * shape[2], -1, np.int32)
    n = order.shape[0]
    mass = np.empty(n)
    flat = np.empty(n, np.int64)
    label = np.empty(n, np.int32)
    stack = np.empty(n, np.int32)
    cluster_of = np.empty(n, np.int32)
    start = 0
    while start < n:
        perm = kept_perm[order[start]]
        stop = start
        while stop < n and kept_perm[order[stop]] == perm:
            stop += 1
        for sign in (1.0, -1.0):
            n_cand = 0
            for i in range(start, stop):
                value = np.float32(kept_value[order[i]])
                excess = np.float32(abs(value) - threshold)
                if excess > 0 and value * sign > 0:
                    mass[n_cand] = excess
                    flat[n_cand] = voxel_flat[kept_voxel[order[i]]]
                    slot[flat[n_cand]] = n_cand
                    n_cand += 1
            size, top = _max_clusters(
                mass, n_cand, 0.0, flat, slot, shape, label, stack, cluster_of
            )
            sizes[perm] = max(sizes[perm], size)
            masses[perm] = max(masses[perm], top)
            for c in range(n_cand):
                slot[flat[c]] = -1
        start = stop
    return sizes, masses
