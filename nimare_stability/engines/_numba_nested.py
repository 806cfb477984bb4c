"""Compiled blocks of Monte Carlo iterations for nested replicates (FailSafeN's sizes).

Each replicate keeps every analysis of the one before; their thresholds differ several-fold
(one bound of the largest at the smallest's threshold would make nearly every voxel a
candidate). :func:`run_nested_block` stamps each analysis's kernels once per iteration,
adding the next replicate's analyses to the bound, and judges each replicate on its own
bound and threshold. When each replicate's added analyses follow the one before's in
analysis order (FailSafeN's null analyses follow the real ones), each analysis's exact
entries are computed once, at the candidates of the replicates that keep it, and each
replicate's sums run on from the one before's (:func:`_judge_prefix`). Every replicate
gets exactly the maxima it gets alone. Every function is ``nogil``.
"""

import numpy as np
from numba import njit

from nimare_stability.engines._numba_blocks import (
    _INITIAL_ENTRIES,
    _judge,
    _n_foci,
    _scratch,
    _slack_plan,
    exact_entries,
)
from nimare_stability.engines._numba_candidates import (
    ALE,
    INSIDE,
    select_rows,
    stamp_bound,
    stamp_shell,
    take_bound,
)
from nimare_stability.engines._numba_kernels import _max_clusters, statistic


@njit(cache=True, nogil=True)
def _judge_prefix(foci, kern, mode, slot, mask_flat, added, thresholds, rows, scratch, out, it):
    """Judge nested replicates that add analyses in analysis order, each on its own bound.

    Replicate ``r`` keeps the analyses of ``added[:r + 1]``, and each one's come after the
    one before's: its statistic at a voxel is then the running sum, in analysis order, of
    the entries of ``added[0]``, ``added[1]``, ... up to ``added[r]``, the sums a fit
    makes. Its candidates are the voxels where its own bound (``rows[r]``, see
    :func:`take_bound`) can pass its threshold; each analysis's entries are computed at
    the candidates of the replicates that keep it. Marks in ``pending`` the replicates
    whose maximum these candidates do not settle (no voxel reaches the threshold).
    ``scratch``: the arrays of :func:`_scratch`, the entry arrays, the per-row ``(upper,
    left_out, pending)`` and room for the candidates' voxels. Returns the entry arrays,
    grown if needed.
    """
    work, ent_c, ent_v, upper, left_out, pending, sub_flat = scratch
    cand_flat, sub_of, total = work[2], work[5], work[6]
    stat, label, stack, cluster_of, ana_start = work[8:13]
    n_rep = added.shape[0]
    n_cand = select_rows(rows, mask_flat, mode, thresholds, slot, cand_flat, upper, left_out)
    total[:n_cand] = 0.0
    for r in range(n_rep):
        n_sub = 0  # the candidates of replicates r and after: where added[r] needs entries
        for c in range(n_cand):
            for later in range(r, n_rep):
                if upper[later, c] > thresholds[later]:
                    sub_flat[n_sub] = cand_flat[c]
                    sub_of[n_sub] = c
                    n_sub += 1
                    break
        n_ent, ent_c, ent_v = exact_entries(
            foci, kern, added[r], mode, sub_flat, n_sub, work, ent_c, ent_v
        )
        for a in range(added.shape[1]):  # in analysis order, as a fit sums them
            w = added[r, a]
            for e in range(ana_start[a], ana_start[a + 1]):
                total[sub_of[ent_c[e]]] += ent_v[e] if mode == ALE else w * ent_v[e]
        best, skipped = 0.0, 0.0
        for c in range(n_cand):
            if upper[r, c] > thresholds[r]:
                stat[c] = np.float64(np.float32(statistic(total[c], mode)))
                best = max(best, stat[c])
            else:
                stat[c] = -np.inf
                skipped = max(skipped, upper[r, c])
        pending[r] = best < max(skipped, left_out[r])
        if pending[r]:
            continue
        out[0, r, it] = best
        if best > thresholds[r]:
            size, mass = _max_clusters(
                stat, n_cand, thresholds[r], cand_flat, slot, kern.shape, label, stack, cluster_of
            )
            out[1, r, it] = size
            out[2, r, it] = mass
    for c in range(n_cand):
        slot[cand_flat[c]] = INSIDE
    return ent_c, ent_v


@njit(cache=True, nogil=True)
def _in_order(own, added):
    """Whether each replicate's added analyses all come after those of the one before."""
    for r in range(1, own.shape[0]):
        kept, new = np.nonzero(own[r - 1])[0], np.nonzero(added[r])[0]
        if kept.size and new.size and kept.max() > new.min():
            return False
    return True


@njit(cache=True, nogil=True)
def run_nested_block(foci, kern, mode, slot, mask_flat, ref_weights, weights, thresholds):
    """Null maxima for a block of iterations of nested replicates.

    As :func:`run_block`, for replicates each of which keeps every analysis of the one
    before (``weights[r]`` nonzero wherever ``weights[r - 1]`` is). Each analysis's kernels
    are stamped once per iteration, adding the next replicate's analyses to the bound,
    and each replicate is judged on the bound of its own analyses (weighted by
    ``ref_weights``) at its own threshold: together (:func:`_judge_prefix`) when every
    replicate weighs its analyses by ``ref_weights`` and adds them in analysis order,
    else, and where that leaves a maximum open, alone (:func:`_judge`).
    """
    n_iters, n_rep, n_mask = foci.shape[0], weights.shape[0], mask_flat.shape[0]
    bound = np.zeros(slot.shape[0])
    rows = np.empty((n_rep, n_mask))
    per_voxel, near, mask_block = _slack_plan(kern, ref_weights, thresholds, mask_flat)
    own = np.where(weights != 0.0, ref_weights, 0.0)
    added = own.copy()
    added[1:] -= own[:-1]
    complement = np.empty((n_rep, 1), np.bool_)
    slack = np.empty(n_rep)
    for r in range(n_rep):
        complement[r, 0] = np.all((weights[r] == 0.0) | (weights[r] == own[r]))
        slack[r] = 1.0 if per_voxel else kern.tail * _n_foci(kern, own[r])
    together = complement.all() and _in_order(own, added)
    work = _scratch(kern, n_mask, ref_weights.shape[0], 1)
    ent_c, ent_v = np.empty(_INITIAL_ENTRIES, np.int64), np.empty(_INITIAL_ENTRIES)
    upper, left_out = np.empty((n_rep, n_mask)), np.empty(n_rep)
    pending, sub_flat = np.ones(n_rep, np.bool_), np.empty(n_mask, np.int64)
    out = np.zeros((3, n_rep, n_iters))
    for it in range(n_iters):
        near[:] = 0.0
        for r in range(n_rep):
            stamp_bound(foci[it], kern, added[r], mode, bound)
            if per_voxel:
                stamp_shell(foci[it], kern, added[r], near)
            take_bound(bound, near, slack[r], mask_flat, mask_block, rows[r], r == n_rep - 1)
        if together:
            scratch = (work, ent_c, ent_v, upper, left_out, pending, sub_flat)
            ent_c, ent_v = _judge_prefix(
                foci[it], kern, mode, slot, mask_flat, added, thresholds, rows, scratch, out, it
            )
        for r in range(n_rep):
            if pending[r]:
                ent_c, ent_v = _judge(
                    foci[it],
                    kern,
                    mode,
                    slot,
                    mask_flat,
                    own[r],
                    weights[r : r + 1],
                    complement[r],
                    thresholds[r : r + 1],
                    rows[r],
                    work,
                    ent_c,
                    ent_v,
                    out[:, r : r + 1],
                    it,
                )
    return out
