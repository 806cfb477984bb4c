"""Compiled blocks of Monte Carlo iterations: bound, candidates, judgement.

Per iteration, :func:`run_block` stamps one bound for every replicate (the union of their
analyses, see :mod:`~nimare_stability.engines._numba_candidates`), finds the candidates at
the lowest threshold and judges every replicate on them
(:mod:`~nimare_stability.engines._numba_kernels`), exactly the maxima each gets alone;
:mod:`~nimare_stability.engines._numba_nested` serves nested replicates. Every function is
``nogil``, so blocks run side by side on joblib's threading backend.
"""

import numpy as np
from numba import njit

from nimare_stability.engines._numba_candidates import (
    INSIDE,
    NEAR_BLOCK,
    block_of_voxels,
    by_voxel,
    candidate_entries,
    column_ranges,
    select,
    stamp_bound,
    stamp_shell,
    take_bound,
)
from nimare_stability.engines._numba_kernels import (
    _max_clusters,
    _reference_sum,
    _replicate_stat,
    _screens,
)

#: ALE bound slack, relative to the lowest threshold's ``-log1p(-t)``, below which one
#: slack for every voxel (all foci's) replaces the per-block bound of what is left out.
_SMALL_SLACK = 0.01
#: Initial capacity of the candidate entry arrays (grown on demand).
_INITIAL_ENTRIES = 1 << 16


@njit(cache=True, nogil=True)
def _n_foci(kern, ref_weights):
    n = 0
    for a in range(ref_weights.shape[0]):
        if ref_weights[a] != 0.0:
            n += kern.focus_starts[a + 1] - kern.focus_starts[a]
    return n


@njit(cache=True, nogil=True)
def _slack_plan(kern, ref_weights, thresholds, mask_flat):
    """How ALE's truncated kernels' slack is bounded: ``(per_voxel, near, mask_block)``.

    What the kernels leave out is bounded per block of voxels (``per_voxel``, see
    :func:`stamp_shell`; ``near``: the blocks' sums) unless all of ``ref_weights``' foci
    together leave out little next to the lowest threshold's log sum (then one slack,
    ``kern.tail`` per focus, covers every voxel).
    """
    level = -np.log1p(-min(thresholds.min(), 0.5))
    per_voxel = kern.tail * _n_foci(kern, ref_weights) > _SMALL_SLACK * level
    blocks = -(-kern.shape // NEAR_BLOCK) if per_voxel else np.zeros(3, np.int64)
    near = np.zeros((blocks[0], blocks[1], blocks[2]))
    mask_block = block_of_voxels(mask_flat, kern.shape) if per_voxel else np.empty(0, np.int32)
    return per_voxel, near, mask_block


@njit(cache=True, nogil=True)
def _scratch(kern, n_mask, n_analyses, n_rep):
    """Return the work arrays of :func:`_judge` (its body names them)."""
    return (
        np.empty(kern.shape[0] * kern.shape[1] + 1, np.int64),
        np.empty(kern.shape[0] * (kern.shape[1] + 1), np.int32),
        np.empty(n_mask, np.int64),
        np.empty(n_mask),
        np.empty(n_mask, np.int64),
        np.empty(n_mask + 1, np.int64),
        np.empty(n_mask),
        np.empty(n_mask),
        np.empty(n_mask),
        np.empty(n_mask, np.uint8),
        np.empty(n_mask, np.int64),
        np.empty(n_mask, np.int64),
        np.empty(n_analyses + 1, np.int64),
        np.empty(n_rep, np.bool_),
    )


@njit(cache=True, nogil=True)
def exact_entries(foci, kern, weights, mode, cand_flat, n_cand, work, ent_c, ent_v):
    """:func:`candidate_entries` of ``weights``' analyses at the ``n_cand`` candidates.

    ``work``: the arrays of :func:`_scratch`. The entry arrays are doubled until they hold
    every entry. Returns ``(n_ent, ent_c, ent_v)``.
    """
    col_first, columns, entry_of, ana_start = work[0], work[1], work[4], work[12]
    column_ranges(cand_flat, n_cand, kern.shape, col_first, columns)
    while True:
        entry_of[:n_cand] = -1
        n_ent = candidate_entries(
            foci,
            kern,
            weights,
            mode,
            cand_flat,
            col_first,
            columns,
            entry_of,
            ana_start,
            ent_c,
            ent_v,
        )
        if n_ent >= 0:
            return n_ent, ent_c, ent_v
        ent_c = np.empty(2 * ent_c.shape[0], np.int64)
        ent_v = np.empty(2 * ent_v.shape[0])


@njit(cache=True, nogil=True)
def _judge(
    foci,
    kern,
    mode,
    slot,
    mask_flat,
    ref_weights,
    weights,
    complement,
    thresholds,
    lowered,
    work,
    ent_c,
    ent_v,
    out,
    it,
):
    """Write one iteration's maxima of every replicate to ``out[:, r, it]``.

    ``lowered`` is the bound, less its slack, per in-mask voxel, for every analysis that
    ``ref_weights`` keeps. Returns the entry arrays ``(ent_c, ent_v)``, grown if needed.
    """
    (
        col_first,
        columns,
        cand_flat,
        cand_upper,
        entry_of,
        vstart,
        ref_sum,
        left,
        stat,
        label,
        stack,
        cluster_of,
        ana_start,
        pending,
    ) = work
    n_rep = weights.shape[0]
    pending[:] = True
    level = thresholds.min()
    level_of = thresholds
    while True:
        n_cand, left_out = select(lowered, mask_flat, mode, level, slot, cand_flat, cand_upper)
        n_ent, ent_c, ent_v = exact_entries(
            foci, kern, ref_weights, mode, cand_flat, n_cand, work, ent_c, ent_v
        )
        vana = np.empty(n_ent, np.int64)
        vval = np.empty(n_ent)
        if complement.any():
            _reference_sum(ref_weights, mode, n_cand, ana_start, ent_c, ent_v, ref_sum)
        screens, levels, needed = _screens(
            weights,
            ref_weights,
            complement,
            pending,
            mode,
            level_of,
            n_cand,
            cand_upper,
            (ref_sum, ana_start, ent_c, ent_v),
            left,
        )
        by_voxel(n_cand, needed, ana_start, ent_c, ent_v, vstart, entry_of, vana, vval)
        need = level
        for r in range(n_rep):
            if not pending[r]:
                continue
            screen, level_r = screens[r], levels[r]
            best, skipped = _replicate_stat(
                weights[r], mode, level_r, n_cand, screen, vstart, vana, vval, stat
            )
            if best < max(skipped, left_out) and skipped > 0.0:
                if not needed.all():
                    needed[:] = True
                    by_voxel(n_cand, needed, ana_start, ent_c, ent_v, vstart, entry_of, vana, vval)
                best, skipped = _replicate_stat(
                    weights[r], mode, level, n_cand, screen, vstart, vana, vval, stat
                )
            if best < max(skipped, left_out):
                need = min(need, best)
                continue
            pending[r] = False
            out[0, r, it] = best
            if best > thresholds[r]:
                size, mass = _max_clusters(
                    stat,
                    n_cand,
                    thresholds[r],
                    cand_flat,
                    slot,
                    kern.shape,
                    label,
                    stack,
                    cluster_of,
                )
                out[1, r, it] = size
                out[2, r, it] = mass
        for c in range(n_cand):
            slot[cand_flat[c]] = INSIDE
        if not pending.any():
            break
        level = need
        level_of = np.full(n_rep, need)
    return ent_c, ent_v


@njit(cache=True, nogil=True)
def run_block(foci, kern, mode, slot, mask_flat, ref_weights, weights, complement, thresholds):
    """Null maxima for a block of iterations.

    Parameters
    ----------
    foci : int32 array of shape (n_iters, n_foci, 3)
        Random foci, grouped by analysis as ``kern.focus_starts`` says.
    kern : KernelTables
        Every analysis's kernel as runs of voxels (see ``layout.KernelTables``).
    mode : int
        ALE, MKDA or KDA.
    slot : int32 array of shape (n_flat,)
        OUTSIDE / INSIDE per volume voxel; used as scratch and restored on return.
    mask_flat : int64 array of shape (n_mask,)
        Flat indices of the in-mask voxels, ascending.
    ref_weights : float64 array of shape (n_analyses,)
        Largest weight of each analysis over the replicates (0: retained by none).
    weights : float64 array of shape (R, n_analyses)
        Per replicate analysis weights; 0 means not retained.
    complement : bool array of shape (R,)
        Replicates whose weights are ``ref_weights`` or 0: they are screened from their
        left-out analyses (:func:`_approximate`), the others from the shared bound.
    thresholds : float64 array of shape (R,)
        Cluster-forming statistic threshold per replicate.

    Returns
    -------
    max_stat, max_size, max_mass : float64 arrays of shape (R, n_iters)
    """
    n_iters, n_rep = foci.shape[0], weights.shape[0]
    bound = np.zeros(slot.shape[0])
    lowered = np.empty(mask_flat.shape[0])
    per_voxel, near, mask_block = _slack_plan(kern, ref_weights, thresholds, mask_flat)
    slack = 1.0 if per_voxel else kern.tail * _n_foci(kern, ref_weights)
    work = _scratch(kern, mask_flat.shape[0], ref_weights.shape[0], n_rep)
    ent_c, ent_v = np.empty(_INITIAL_ENTRIES, np.int64), np.empty(_INITIAL_ENTRIES)
    out = np.zeros((3, n_rep, n_iters))
    for it in range(n_iters):
        stamp_bound(foci[it], kern, ref_weights, mode, bound)
        if per_voxel:
            near[:] = 0.0
            stamp_shell(foci[it], kern, ref_weights, near)
        take_bound(bound, near, slack, mask_flat, mask_block, lowered, True)
        ent_c, ent_v = _judge(
            foci[it],
            kern,
            mode,
            slot,
            mask_flat,
            ref_weights,
            weights,
            complement,
            thresholds,
            lowered,
            work,
            ent_c,
            ent_v,
            out,
            it,
        )
    return out
