"""Compiled search for the voxels where a replicate's statistic can matter.

ALE, MKDADensity and KDA never fall when analyses are added: a replicate's statistic is at
most that of the union of every replicate's analyses (weighted by each analysis's largest
weight), and that union's statistic is in turn at most the sum of every focus's kernel.
Per Monte Carlo iteration:

1. :func:`stamp_bound` adds every focus's kernel into a volume (ALE: its ``log1p(-MA)``
   where MA is not small, the rest bounded per block of voxels by :func:`stamp_shell`;
   MKDA and KDA: the weighted sphere value).
   :func:`take_bound` copies the in-mask sums out of the volume (clearing it for the next
   iteration) and :func:`select` turns them into an upper bound on every replicate's
   statistic and keeps the voxels where it exceeds a level: the *candidates*, numbered in
   ascending voxel order.
2. :func:`candidate_entries` stamps the full kernels again, visiting only candidates (found
   per column through :func:`column_ranges`), and keeps per analysis and candidate one
   exact entry: ALE's ``log1p(-MA)`` of the maximum MA value, MKDA's sphere value, KDA's
   summed sphere values. :func:`by_voxel` lays them out candidate by candidate, analyses
   in order.

:mod:`~nimare_stability.engines._numba_kernels` judges the replicates on them.
"""

import numpy as np
from numba import njit

#: Summary statistic families (``mode`` argument).
ALE, MKDA, KDA = 0, 1, 2
#: ``slot`` values: voxel outside the mask, and in the mask but not a candidate.
OUTSIDE, INSIDE = -2, -1
#: Relative and absolute slack of the upper bound (float32 rounding, summation order).
_RTOL, _ATOL = 1e-6, 1e-12
#: Side, in voxels, of the blocks :func:`stamp_shell` bounds ALE's left-out kernel voxels in.
NEAR_BLOCK = 4
#: Side, in voxels, of the blocks :func:`stamp_bound` stamps foci by.
STAMP_BLOCK = 8


@njit(cache=True)
def ale_log_table(ma_values):
    """``log1p(-MA)`` per kernel voxel, computed as NiMARE's compiled ALE pass does."""
    out = np.empty(ma_values.shape[0], np.float64)
    for m in range(ma_values.shape[0]):
        out[m] = np.log1p(-np.float64(ma_values[m]))
    return out


@njit(cache=True, nogil=True)
def stamp_bound(foci, kern, ref_weights, mode, bound):
    """Add every focus's kernel into ``bound`` (flat volume), weighted for MKDA and KDA.

    Analyses with ``ref_weights`` 0 are skipped. Kernels are ``kern.bound_rows``: runs
    along the last axis, ``(di, dj, dk0, length, first value)``; ALE's leave out MA values
    below a cutoff (:func:`stamp_shell` bounds them). Foci are stamped block by block of
    :data:`STAMP_BLOCK` voxels a side, where nearby kernels overlap in the cache (the sums'
    order is not a fit's: the bound has slack for it).
    """
    nx, ny, nz = kern.shape[0], kern.shape[1], kern.shape[2]
    rows, values, starts = kern.bound_rows, kern.bound_values, kern.bound_starts
    order, weight, kernel = _stamp_order(foci, kern, ref_weights, mode)
    for p in order:
        w = weight[p]
        fi, fj, fk = foci[p, 0], foci[p, 1], foci[p, 2]
        inside = min(fi, fj, fk) >= kern.reach and max(fi - nx, fj - ny, fk - nz) < -kern.reach
        for q in range(starts[kernel[p]], starts[kernel[p] + 1]):
            i, j, k0 = fi + rows[q, 0], fj + rows[q, 1], fk + rows[q, 2]
            base = (i * ny + j) * nz + k0
            vbase = rows[q, 4]
            if inside:  # the kernel's whole cube is in the volume: no clipping
                for t in range(rows[q, 3]):
                    bound[base + t] += w * values[vbase + t]
            elif 0 <= i < nx and 0 <= j < ny:
                for t in range(max(0, -k0), min(rows[q, 3], nz - k0)):
                    bound[base + t] += w * values[vbase + t]


@njit(cache=True, nogil=True)
def _stamp_order(foci, kern, ref_weights, mode):
    """Return the foci to stamp, ordered by block, and each focus's weight and kernel."""
    n_foci = foci.shape[0]
    keys, taken = np.empty(n_foci, np.int64), np.empty(n_foci, np.int64)
    weight, kernel = np.empty(n_foci), np.empty(n_foci, np.int64)
    n_taken = 0
    for a in range(ref_weights.shape[0]):
        if ref_weights[a] == 0.0:
            continue
        for p in range(kern.focus_starts[a], kern.focus_starts[a + 1]):
            weight[p] = 1.0 if mode == ALE else ref_weights[a]
            kernel[p] = kern.analysis_kernel[a]
            bi, bj = np.int64(foci[p, 0] // STAMP_BLOCK), np.int64(foci[p, 1] // STAMP_BLOCK)
            keys[n_taken] = (bi << 42) + (bj << 21) + foci[p, 2] // STAMP_BLOCK
            taken[n_taken] = p
            n_taken += 1
    order = taken[:n_taken][np.argsort(keys[:n_taken])]
    return order, weight, kernel


@njit(cache=True, nogil=True)
def block_of_voxels(mask_flat, shape):
    """Index of each in-mask voxel's block of ``NEAR_BLOCK`` voxels a side, C order."""
    ny, nz = shape[1], shape[2]
    by, bz = -(-ny // NEAR_BLOCK), -(-nz // NEAR_BLOCK)
    out = np.empty(mask_flat.shape[0], np.int32)
    for m in range(mask_flat.shape[0]):
        f = mask_flat[m]
        i, j, k = f // (ny * nz), (f // nz) % ny, f % nz
        out[m] = ((i // NEAR_BLOCK) * by + j // NEAR_BLOCK) * bz + k // NEAR_BLOCK
    return out


@njit(cache=True)
def shell_cells(reach):
    """Blocks per axis that a kernel of this ``reach`` touches, and the first's offset."""
    low = -reach // NEAR_BLOCK
    return (NEAR_BLOCK - 1 + reach) // NEAR_BLOCK - low + 1, low


@njit(cache=True, nogil=True)
def shell_table(rows, values, starts, cut, n_cells, low):
    """Per kernel and focus position in its block, the most ALE's kernel leaves out per block.

    Row ``kernel * NEAR_BLOCK**3 + position`` (position ``(ui * NEAR_BLOCK + uj) *
    NEAR_BLOCK + uk`` of the focus in its block), column ``(ci * n_cells + cj) * n_cells +
    ck``: the block ``low + (ci, cj, ck)`` blocks from the focus's block. Each cell holds
    the largest ``-log1p(-MA)`` in that block among the kernel voxels left out of the bound
    (those of magnitude at most ``cut``), so a block's sum over foci bounds what the bound
    lacks at each of its voxels.
    """
    b = NEAR_BLOCK
    n_kernels = starts.shape[0] - 1
    out = np.zeros((n_kernels * b**3, n_cells**3))
    for kernel in range(n_kernels):
        for q in range(starts[kernel], starts[kernel + 1]):
            for t in range(rows[q, 3]):
                magnitude = -values[rows[q, 4] + t]
                if magnitude > cut:
                    continue
                d = (rows[q, 0], rows[q, 1], rows[q, 2] + t)
                for u in range(b**3):
                    ci = (u // (b * b) + d[0]) // b - low
                    cj = (u // b % b + d[1]) // b - low
                    ck = (u % b + d[2]) // b - low
                    cell = (ci * n_cells + cj) * n_cells + ck
                    row = kernel * b**3 + u
                    out[row, cell] = max(out[row, cell], magnitude)
    return out


@njit(cache=True, nogil=True)
def stamp_shell(foci, kern, ref_weights, near):
    """Add to ``near`` (blocks of ``NEAR_BLOCK`` voxels) what ALE's bound leaves out.

    Each focus of an analysis with nonzero ``ref_weights`` adds its row of
    ``kern.shell`` (see :func:`shell_table`): at every voxel of a block, at least the
    ``-log1p(-MA)`` its kernel voxels there left out of the bound.
    """
    b = NEAR_BLOCK
    n_cells, low = shell_cells(kern.reach)
    nbi, nbj, nbk = near.shape
    for a in range(ref_weights.shape[0]):
        if ref_weights[a] == 0.0:
            continue
        for p in range(kern.focus_starts[a], kern.focus_starts[a + 1]):
            fi, fj, fk = foci[p, 0], foci[p, 1], foci[p, 2]
            row = kern.shell[kern.analysis_kernel[a] * b**3 + ((fi % b) * b + fj % b) * b + fk % b]
            bk = fk // b + low
            k_lo, k_hi = max(0, -bk), min(n_cells, nbk - bk)
            for ci in range(n_cells):
                bi = fi // b + low + ci
                if 0 <= bi < nbi:
                    for cj in range(n_cells):
                        bj = fj // b + low + cj
                        if 0 <= bj < nbj:
                            first = (ci * n_cells + cj) * n_cells
                            for ck in range(k_lo, k_hi):
                                near[bi, bj, bk + ck] += row[first + ck]


@njit(cache=True, nogil=True)
def _upper(bound_value, mode):
    """Upper bound on any replicate's statistic at a voxel with this ``bound`` value."""
    value = 1.0 - np.exp(bound_value) if mode == ALE else bound_value
    return value * (1.0 + _RTOL) + _ATOL


@njit(cache=True, nogil=True)
def _ale_skip(level):
    """Return a log sum at and above which :func:`_upper` cannot exceed ``level`` (ALE)."""
    below = (level - _ATOL) / (1.0 + _RTOL)
    if below <= 0.0:
        return np.inf
    if below >= 1.0:
        return -np.inf
    return np.log1p(-below) + 1e-9


@njit(cache=True, nogil=True)
def take_bound(bound, near, slack, mask_flat, mask_block, lowered, clear):
    """Copy the in-mask bound, less its slack, to ``lowered`` (in-mask order).

    The slack is ``slack * near[block]`` (see :func:`stamp_shell`; ``mask_block``: each
    in-mask voxel's block), or ``slack`` when ``near`` is empty. ``clear`` zeroes the
    in-mask bound for the next iteration; voxels outside the mask are never read, so they
    are not cleared.
    """
    per_voxel = near.size > 0
    flat_near = near.ravel()
    for m in range(mask_flat.shape[0]):
        f = mask_flat[m]
        lowered[m] = bound[f] - (slack * flat_near[mask_block[m]] if per_voxel else slack)
        if clear:
            bound[f] = 0.0


@njit(cache=True, nogil=True)
def select(lowered, mask_flat, mode, level, slot, cand_flat, cand_upper):
    """Give each in-mask voxel whose bound exceeds ``level`` a candidate number.

    ``lowered`` is the bound per in-mask voxel (see :func:`take_bound`); ``slot[f]``
    becomes the candidate number of flat voxel ``f``. Returns ``(n, largest bound left
    out)``. ALE's bound is only evaluated (an ``exp``) below the log sum that cannot pass
    ``level``; above it, the lowest log sum stands for the rest.
    """
    n = 0
    left_out = 0.0
    skip = _ale_skip(level) if mode == ALE else np.inf
    lowest_skipped = np.inf
    for m in range(mask_flat.shape[0]):
        x = lowered[m]
        if x >= skip:
            lowest_skipped = min(lowest_skipped, x)
            continue
        u = _upper(x, mode)
        if u > level:
            slot[mask_flat[m]] = n
            cand_flat[n] = mask_flat[m]
            cand_upper[n] = u
            n += 1
        elif u > left_out:
            left_out = u
    if lowest_skipped < np.inf:
        left_out = max(left_out, _upper(lowest_skipped, mode))
    return n, left_out


@njit(cache=True, nogil=True)
def select_rows(lowered, mask_flat, mode, levels, slot, cand_flat, cand_upper, left_out):
    """:func:`select` for several bounds at once: the voxels where any row's bound passes.

    ``lowered`` (R, n_mask) holds one bound per row (see :func:`take_bound`) and ``levels``
    (R,) each row's level. Each candidate gets every row's upper bound, ``cand_upper[r,
    c]``; ``left_out[r]`` becomes the largest upper bound of row ``r`` at the other voxels.
    Returns the number of candidates.
    """
    n_rows = lowered.shape[0]
    skip = np.empty(n_rows)
    lowest_skipped = np.full(n_rows, np.inf)
    for r in range(n_rows):
        skip[r] = _ale_skip(levels[r]) if mode == ALE else np.inf
        left_out[r] = 0.0
    upper = np.empty(n_rows)
    evaluated = np.empty(n_rows, np.bool_)
    n = 0
    for m in range(mask_flat.shape[0]):
        passes = False
        for r in range(n_rows):
            evaluated[r] = lowered[r, m] < skip[r]
            if evaluated[r]:
                upper[r] = _upper(lowered[r, m], mode)
                passes = passes or upper[r] > levels[r]
        if passes:
            for r in range(n_rows):
                cand_upper[r, n] = upper[r] if evaluated[r] else _upper(lowered[r, m], mode)
            slot[mask_flat[m]] = n
            cand_flat[n] = mask_flat[m]
            n += 1
            continue
        for r in range(n_rows):
            if evaluated[r]:
                left_out[r] = max(left_out[r], upper[r])
            else:
                lowest_skipped[r] = min(lowest_skipped[r], lowered[r, m])
    for r in range(n_rows):
        if lowest_skipped[r] < np.inf:
            left_out[r] = max(left_out[r], _upper(lowest_skipped[r], mode))
    return n


@njit(cache=True, nogil=True)
def column_ranges(cand_flat, n_cand, shape, col_first, columns):
    """Where the candidates of each column (a run along the last axis) are numbered.

    Candidates are numbered in ascending voxel order, so column ``i * ny + j`` holds
    candidates ``col_first[i * ny + j] .. col_first[i * ny + j + 1] - 1``.
    ``columns[i * (ny + 1) + j]``: columns ``(i, 0 .. j - 1)`` holding a candidate.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    col_first[:] = 0
    for c in range(n_cand):
        col_first[cand_flat[c] // nz + 1] += 1
    for col in range(nx * ny):
        col_first[col + 1] += col_first[col]
    for i in range(nx):
        row = i * (ny + 1)
        columns[row] = 0
        for j in range(ny):
            col = i * ny + j
            columns[row + j + 1] = columns[row + j] + (col_first[col + 1] > col_first[col])


@njit(cache=True, nogil=True)
def candidate_entries(
    foci, kern, ref_weights, mode, cand_flat, col_first, columns, entry_of, ana_start, ent_c, ent_v
):
    """Exact per-analysis entries at the candidates; return their number (-1: no room).

    A kernel run covers flat voxels ``base .. base + length - 1`` of one column; only that
    column's candidates are visited (see :func:`column_ranges`); planes of the kernel (runs
    of one ``di``, up to ``kern.plane_end``) and columns without a candidate are skipped
    whole. A candidate already has an entry in analysis ``a`` when ``entry_of >=
    ana_start[a]`` (``entry_of`` starts at -1): ALE keeps the smallest ``log1p(-MA)``
    (largest MA), KDA adds the sphere values of the analysis's foci, MKDA keeps one sphere
    value.
    """
    nx, ny, nz = kern.shape[0], kern.shape[1], kern.shape[2]
    n_ana = ref_weights.shape[0]
    room = ent_c.shape[0]
    n_ent = 0
    for a in range(n_ana):
        first = n_ent
        ana_start[a] = first
        if ref_weights[a] == 0.0:
            continue
        q_lo, q_hi = kern.starts[kern.analysis_kernel[a]], kern.starts[kern.analysis_kernel[a] + 1]
        for p in range(kern.focus_starts[a], kern.focus_starts[a + 1]):
            j_lo, j_hi = max(0, foci[p, 1] - kern.reach), min(ny, foci[p, 1] + kern.reach + 1)
            plane = q_lo
            while plane < q_hi:
                q_end = kern.plane_end[plane]
                i = foci[p, 0] + kern.rows[plane, 0]
                row = i * (ny + 1)
                if i < 0 or i >= nx or columns[row + j_hi] == columns[row + j_lo]:
                    plane = q_end  # no candidate in this plane of the kernel's cube
                    continue
                for q in range(plane, q_end):
                    j = foci[p, 1] + kern.rows[q, 1]
                    if j < 0 or j >= ny or columns[row + j + 1] == columns[row + j]:
                        continue
                    k0 = foci[p, 2] + kern.rows[q, 2]
                    col = i * ny + j
                    start, stop = col * nz + max(k0, 0), col * nz + min(k0 + kern.rows[q, 3], nz)
                    vbase = kern.rows[q, 4] - (col * nz + k0)
                    for c in range(col_first[col], col_first[col + 1]):
                        f = cand_flat[c]
                        if f < start:
                            continue
                        if f >= stop:
                            break
                        v = kern.values[vbase + f]
                        e = entry_of[c]
                        if e >= first:
                            if mode == ALE:
                                ent_v[e] = min(ent_v[e], v)
                            elif mode == KDA:
                                ent_v[e] += v
                            continue
                        if n_ent == room:
                            return -1
                        entry_of[c] = n_ent
                        ent_c[n_ent] = c
                        ent_v[n_ent] = v
                        n_ent += 1
                plane = q_end
    ana_start[n_ana] = n_ent
    return n_ent


@njit(cache=True, nogil=True)
def by_voxel(n_cand, needed, ana_start, ent_c, ent_v, vstart, fill, vana, vval):
    """Lay the entries of the ``needed`` candidates out per candidate, analyses in order.

    Candidate ``c``'s entries are ``vana[vstart[c]:vstart[c + 1]]`` (analyses) and
    ``vval[...]``; candidates not needed get none. Returns the number laid out.
    """
    vstart[: n_cand + 1] = 0
    n_ent = ana_start[ana_start.shape[0] - 1]
    for e in range(n_ent):
        if needed[ent_c[e]]:
            vstart[ent_c[e] + 1] += 1
    for c in range(n_cand):
        vstart[c + 1] += vstart[c]
        fill[c] = vstart[c]
    for a in range(ana_start.shape[0] - 1):
        for e in range(ana_start[a], ana_start[a + 1]):
            c = ent_c[e]
            if needed[c]:
                vana[fill[c]] = a
                vval[fill[c]] = ent_v[e]
                fill[c] += 1
    return vstart[n_cand]
