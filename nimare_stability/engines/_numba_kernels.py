"""Compiled judgement of one iteration's replicates on their candidates.

:mod:`~nimare_stability.engines._numba_candidates` finds the *candidates*, the voxels where
some replicate's statistic can pass its cluster-forming threshold, with their exact
per-analysis entries; :mod:`~nimare_stability.engines._numba_blocks` runs the iterations.
Per replicate:

1. :func:`_screens` bounds its statistic at each candidate: from its left-out analyses
   alone when it keeps every other analysis at its reference weight
   (:func:`_approximate`), else from the shared bound.
2. :func:`_replicate_stat` sums its retained analyses' entries, in analysis order, where
   the statistic can pass its threshold or be its maximum, and rounds it to float32,
   exactly as a NiMARE fit of that replicate does.
3. :func:`_max_clusters` flood-fills its suprathreshold candidates (6-neighbour).

Voxels outside the candidates cannot be suprathreshold. The replicate's maximum is exact
once it is at least every bound left out; when it is not (no voxel reaches the
threshold), the candidates are widened until it is. Every function is ``nogil``.
"""

import numpy as np
from numba import njit

from nimare_stability.engines._numba_candidates import _ATOL, ALE


@njit(cache=True, nogil=True)
def statistic(total, mode):
    """Return the statistic from a voxel's summed entries (ALE: of ``log1p(-MA)``), float64."""
    return 1.0 - np.exp(total) if mode == ALE else total


@njit(cache=True, nogil=True)
def _screens(
    weights, ref_weights, complement, pending, mode, level_of, n_cand, cand_upper, entries, left
):
    """Per pending replicate, an upper bound per candidate and the level to compute above.

    Complement replicates are screened by :func:`_approximate` (the level drops to what
    their maximum is known to reach when that is below their threshold), the others by
    the shared bound ``cand_upper``. Returns ``(screens, levels, needed)``, ``needed``
    marking the candidates some replicate computes.
    """
    ref_sum, ana_start, ent_c, ent_v = entries
    screens = np.empty((weights.shape[0], n_cand))
    levels = level_of.copy()
    needed = np.zeros(n_cand, np.bool_)
    for r in range(weights.shape[0]):
        if not pending[r]:
            continue
        if complement[r]:
            reached = _approximate(
                weights[r],
                ref_weights,
                mode,
                n_cand,
                ref_sum,
                ana_start,
                ent_c,
                ent_v,
                left,
                screens[r],
            )
            levels[r] = min(levels[r], reached)
        else:
            screens[r] = cand_upper[:n_cand]
        for c in range(n_cand):
            if screens[r, c] > levels[r]:
                needed[c] = True
    return screens, levels, needed


@njit(cache=True, nogil=True)
def _replicate_stat(weights, mode, level, n_cand, screen, vstart, vana, vval, stat):
    """Replicate statistic at the candidates whose ``screen`` exceeds ``level`` (others -inf).

    ``screen`` is an upper bound on the statistic per candidate.

    Sums the retained analyses' entries in analysis order (ALE: ``log1p(-MA)``; MKDA and
    KDA: ``weight * entry``) and rounds to float32, as NiMARE's maps are. Returns the
    largest value computed (at least 0) and the largest ``screen`` left out.
    """
    best = 0.0
    left_out = 0.0
    for c in range(n_cand):
        if screen[c] <= level:
            stat[c] = -np.inf
            left_out = max(left_out, screen[c])
            continue
        total = 0.0
        for e in range(vstart[c], vstart[c + 1]):
            w = weights[vana[e]]
            if w != 0.0:
                total += vval[e] if mode == ALE else w * vval[e]
        stat[c] = np.float64(np.float32(statistic(total, mode)))
        best = max(best, stat[c])
    return best, left_out


@njit(cache=True, nogil=True)
def _reference_sum(ref_weights, mode, n_cand, ana_start, ent_c, ent_v, ref_sum):
    """Sum of every analysis's entries at the candidates (MKDA and KDA: weighted)."""
    ref_sum[:n_cand] = 0.0
    for a in range(ref_weights.shape[0]):
        w = 1.0 if mode == ALE else ref_weights[a]
        for e in range(ana_start[a], ana_start[a + 1]):
            ref_sum[ent_c[e]] += w * ent_v[e]


@njit(cache=True, nogil=True)
def _approximate(weights, ref_weights, mode, n_cand, ref_sum, ana_start, ent_c, ent_v, left, hi):
    """Replicate statistic at the candidates, from the left-out analyses only.

    For a replicate whose weights are its analyses' reference weights or 0, the statistic is
    the reference sum minus the left-out analyses' entries, up to float rounding. Fills
    ``hi`` with an upper bound on the exact (float32) statistic and returns a value the
    replicate's maximum is known to reach.
    """
    left[:n_cand] = 0.0
    for a in range(weights.shape[0]):
        if weights[a] != 0.0 or ref_weights[a] == 0.0:
            continue
        w = 1.0 if mode == ALE else ref_weights[a]
        for e in range(ana_start[a], ana_start[a + 1]):
            left[ent_c[e]] += w * ent_v[e]
    reached = 0.0
    for c in range(n_cand):
        total = ref_sum[c] - left[c]
        value = statistic(total, mode)
        # float32 rounding of the exact value; float64 rounding of the two sums
        margin = 1e-7 * abs(value) + _ATOL * (1.0 + abs(ref_sum[c]))
        hi[c] = value + margin
        reached = max(reached, value - margin)
    return reached


@njit(cache=True, nogil=True)
def _max_clusters(stat, n_cand, thr, cand_flat, slot, shape, label, stack, cluster_of):
    """Largest size and mass of 6-connected clusters of candidates with ``stat > thr``.

    A cluster's mass is the sum of ``stat - thr`` over its voxels, in candidate order (the
    callers list candidates in ascending voxel order, the order NiMARE's sums follow).
    ``label``, ``stack`` and ``cluster_of`` are scratch arrays of at least ``n_cand``.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    label[:n_cand] = 0
    max_size = 0
    n_clusters = 0
    for seed in range(n_cand):
        if label[seed] or not stat[seed] > thr:
            continue
        label[seed] = 1
        stack[0] = seed
        top = 1
        size = 0
        while top:
            top -= 1
            u = stack[top]
            cluster_of[u] = n_clusters
            size += 1
            f = cand_flat[u]
            k = f % nz
            j = (f // nz) % ny
            i = f // (ny * nz)
            for d in range(6):
                if d == 0 and i > 0:
                    g = f - ny * nz
                elif d == 1 and i < nx - 1:
                    g = f + ny * nz
                elif d == 2 and j > 0:
                    g = f - nz
                elif d == 3 and j < ny - 1:
                    g = f + nz
                elif d == 4 and k > 0:
                    g = f - 1
                elif d == 5 and k < nz - 1:
                    g = f + 1
                else:
                    continue
                v = slot[g]
                if v >= 0 and not label[v] and stat[v] > thr:
                    label[v] = 1
                    stack[top] = v
                    top += 1
        n_clusters += 1
        max_size = max(max_size, size)
    masses = np.zeros(n_clusters)
    for c in range(n_cand):
        if label[c]:
            masses[cluster_of[c]] += stat[c] - thr
    max_mass = 0.0
    for mass in masses:
        max_mass = max(max_mass, mass)
    return max_size, max_mass
