"""Compiled inner loops of the Monte Carlo null engine.

ALE, MKDADensity and KDA never fall when analyses are added: a replicate's statistic is at
most that of the union of every replicate's analyses (weighted by each analysis's largest
weight), and that union's statistic is in turn at most the sum of every focus's kernel.
One iteration therefore makes one shared pass and then touches, per replicate, only the
voxels where that bound can reach the replicate's cluster-forming threshold:

1. :func:`_stamp_bound` adds every focus's kernel into a volume (ALE: its ``log1p(-MA)``
   where MA is not tiny, the rest bounded through :func:`_foci_in_reach`; MKDA and KDA: the
   weighted sphere value). :func:`_select` turns that sum into an upper bound on every
   replicate's statistic and keeps the voxels where it exceeds the lowest threshold: the
   *candidates*, in ascending voxel order.
2. :func:`_candidate_entries` stamps the kernels again, keeping, per analysis and candidate
   voxel, one exact entry: ALE's ``log1p(-MA)`` of the maximum MA value, MKDA's sphere
   value, KDA's summed sphere values. :func:`_by_voxel` lays them out voxel by voxel,
   analyses in order.
3. Per replicate, :func:`_replicate_stat` sums its retained analyses' entries at the
   candidates above its own threshold and rounds the statistic to float32, exactly as a
   NiMARE fit of that replicate does; :func:`_max_clusters` flood-fills its
   suprathreshold candidates (6-neighbour).

Voxels outside the candidates cannot be suprathreshold. The replicate's maximum is exact
once it is at least every bound left out; when it is not (no voxel reaches the
threshold), the candidates are widened until it is. Every function is ``nogil``, so blocks
of iterations run side by side on joblib's threading backend.
"""

import numpy as np
from numba import njit

#: Summary statistic families (``mode`` argument).
ALE, MKDA, KDA = 0, 1, 2
#: ``slot`` values: voxel outside the mask, and in the mask but not a candidate.
OUTSIDE, INSIDE = -2, -1
#: Relative and absolute slack of the upper bound (float32 rounding, summation order).
_RTOL, _ATOL = 1e-6, 1e-12
#: Initial capacity of the candidate entry arrays (grown on demand).
_INITIAL_ENTRIES = 1 << 16


@njit(cache=True)
def ale_log_table(ma_values):
    """``log1p(-MA)`` per kernel voxel, computed as NiMARE's compiled ALE pass does."""
    out = np.empty(ma_values.shape[0], np.float64)
    for m in range(ma_values.shape[0]):
        out[m] = np.log1p(-np.float64(ma_values[m]))
    return out


@njit(cache=True, nogil=True)
def _stamp_bound(foci, kern, ref_weights, mode, bound):
    """Add every focus's kernel into ``bound`` (flat volume), weighted for MKDA and KDA.

    Analyses with ``ref_weights`` 0 are skipped. Kernels are ``kern.bound_rows``: runs
    along the last axis, ``(di, dj, dk0, length, first value)``; ALE's leave out MA values
    below a cutoff, each worth at most ``kern.tail`` (see :func:`_foci_in_reach`).
    """
    nx, ny, nz = kern.shape[0], kern.shape[1], kern.shape[2]
    rows, values, starts = kern.bound_rows, kern.bound_values, kern.bound_starts
    for a in range(ref_weights.shape[0]):
        w = ref_weights[a]
        if w == 0.0:
            continue
        if mode == ALE:
            w = 1.0
        q_lo, q_hi = starts[kern.analysis_kernel[a]], starts[kern.analysis_kernel[a] + 1]
        for p in range(kern.focus_starts[a], kern.focus_starts[a + 1]):
            for q in range(q_lo, q_hi):
                i = foci[p, 0] + rows[q, 0]
                j = foci[p, 1] + rows[q, 1]
                if i < 0 or j < 0 or i >= nx or j >= ny:
                    continue
                k0 = foci[p, 2] + rows[q, 2]
                base = (i * ny + j) * nz + k0
                vbase = rows[q, 4]
                for t in range(max(0, -k0), min(rows[q, 3], nz - k0)):
                    bound[base + t] += w * values[vbase + t]


@njit(cache=True, nogil=True)
def _box_sums(volume, reach, lines):
    """Replace ``volume`` (3D) by its sums over cubes of half-width ``reach`` (clipped).

    One pass per axis, each a running sum across whole rows along the last axis
    (``lines``: scratch of shape (max(shape) + 1, shape[2])).
    """
    nx, ny, nz = volume.shape
    for i in range(nx):
        for j in range(ny):
            lines[0, 0] = 0.0
            for k in range(nz):
                lines[0, k + 1] = lines[0, k] + volume[i, j, k]
            for k in range(nz):
                volume[i, j, k] = lines[0, min(nz, k + reach + 1)] - lines[0, max(0, k - reach)]
    for axis in range(2):
        n_outer, n_inner = (nx, ny) if axis == 0 else (ny, nx)
        for outer in range(n_outer):
            lines[0, :] = 0.0
            for inner in range(n_inner):
                i, j = (outer, inner) if axis == 0 else (inner, outer)
                for k in range(nz):
                    lines[inner + 1, k] = lines[inner, k] + volume[i, j, k]
            for inner in range(n_inner):
                i, j = (outer, inner) if axis == 0 else (inner, outer)
                hi, lo = min(n_inner, inner + reach + 1), max(0, inner - reach)
                for k in range(nz):
                    volume[i, j, k] = lines[hi, k] - lines[lo, k]


@njit(cache=True, nogil=True)
def _foci_in_reach(foci, kern, ref_weights, near, lines):
    """Count, per voxel, the foci within ``kern.reach`` of it along every axis.

    Only there can a focus's ALE kernel have left ``log1p(-MA)`` out of the bound, by at
    most ``kern.tail`` each.
    """
    near[:] = 0.0
    ny, nz = kern.shape[1], kern.shape[2]
    for a in range(ref_weights.shape[0]):
        if ref_weights[a] != 0.0:
            for p in range(kern.focus_starts[a], kern.focus_starts[a + 1]):
                near[(foci[p, 0] * ny + foci[p, 1]) * nz + foci[p, 2]] += 1.0
    _box_sums(near.reshape((kern.shape[0], ny, nz)), kern.reach, lines)


@njit(cache=True, nogil=True)
def _upper(bound_value, mode):
    """Upper bound on any replicate's statistic at a voxel with this ``bound`` value."""
    value = 1.0 - np.exp(bound_value) if mode == ALE else bound_value
    return value * (1.0 + _RTOL) + _ATOL


@njit(cache=True, nogil=True)
def _select(bound, near, tail, mask_flat, mode, level, slot, cand_flat, cand_upper):
    """Give each in-mask voxel whose bound exceeds ``level`` a candidate number.

    The bound is ``bound - tail * near`` (see :func:`_foci_in_reach`; ``tail`` 0: ``bound``).

    ``slot[f]`` becomes the candidate number of flat voxel ``f``. Returns ``(n, largest
    bound left out)``.
    """
    n = 0
    left_out = 0.0
    for m in range(mask_flat.shape[0]):
        f = mask_flat[m]
        u = _upper(bound[f] - tail * near[f] if tail else bound[f], mode)
        if u > level:
            slot[f] = n
            cand_flat[n] = f
            cand_upper[n] = u
            n += 1
        elif u > left_out:
            left_out = u
    return n, left_out


@njit(cache=True, nogil=True)
def _candidate_entries(
    foci, kern, ref_weights, mode, cand_flat, before, columns, entry_of, ana_start, ent_c, ent_v
):
    """Exact per-analysis entries at the candidates; return their number (-1: no room).

    A kernel run covers flat voxels ``base .. base + length - 1``; its candidates are
    numbers ``before[base] .. before[base + length] - 1`` (see :func:`_count_before`), so
    only they are visited; planes of the kernel (runs of one ``di``, up to
    ``kern.plane_end``) and columns without a candidate are skipped whole. A candidate
    already has an entry in analysis ``a`` when ``entry_of >= ana_start[a]`` (``entry_of``
    starts at -1): ALE keeps the smallest ``log1p(-MA)`` (largest MA), KDA adds the sphere
    values of the analysis's foci, MKDA keeps one sphere value.
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
                    base = (i * ny + j) * nz + k0
                    lo, hi = max(0, -k0), min(kern.rows[q, 3], nz - k0)
                    vbase = kern.rows[q, 4] - base
                    for c in range(before[base + lo], before[base + hi]):
                        v = kern.values[vbase + cand_flat[c]]
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
def _by_voxel(n_cand, needed, ana_start, ent_c, ent_v, vstart, fill, vana, vval):
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
        value = 1.0 - np.exp(total) if mode == ALE else total
        stat[c] = np.float64(np.float32(value))
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
        value = 1.0 - np.exp(total) if mode == ALE else total
        margin = 1e-7 * abs(value) + _ATOL  # float32 rounding, summation order
        hi[c] = value + margin
        reached = max(reached, value - margin)
    return reached


@njit(cache=True, nogil=True)
def _count_before(slot, shape, before, columns):
    """Count candidates before each voxel, and candidate columns before each column.

    ``before[f]``: candidates among flat voxels ``0 .. f - 1``. ``columns[i * (ny + 1) +
    j]``: columns ``(i, 0 .. j - 1)`` (runs along the last axis) holding a candidate.
    """
    ny, nz = shape[1], shape[2]
    before[0] = 0
    for f in range(slot.shape[0]):
        before[f + 1] = before[f] + (slot[f] >= 0)
    for i in range(shape[0]):
        row = i * (ny + 1)
        columns[row] = 0
        for j in range(ny):
            start = (i * ny + j) * nz
            columns[row + j + 1] = columns[row + j] + (before[start + nz] > before[start])


@njit(cache=True, nogil=True)
def _ordered_mass(stat, members, size, thr):
    """Sum of ``stat - thr`` over a cluster, in ascending voxel order (order-free result)."""
    ordered = np.sort(members[:size])
    mass = 0.0
    for u in ordered:
        mass += stat[u] - thr
    return mass


@njit(cache=True, nogil=True)
def _max_clusters(stat, n_cand, thr, cand_flat, slot, shape, label, stack, members):
    """Largest size and mass of 6-connected clusters of candidates with ``stat > thr``.

    A cluster's mass is the sum of ``stat - thr`` over its voxels.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    label[:n_cand] = 0
    max_size = 0
    max_mass = 0.0
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
            members[size] = u
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
        max_size = max(max_size, size)
        max_mass = max(max_mass, _ordered_mass(stat, members, size, thr))
    return max_size, max_mass


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
    n_mask = mask_flat.shape[0]
    bound = np.zeros(slot.shape[0])
    before = np.empty(slot.shape[0] + 1, np.int32)
    columns = np.empty(kern.shape[0] * (kern.shape[1] + 1), np.int32)
    near = np.empty(slot.shape[0] if kern.tail > 0.0 else 0)
    lines = np.empty((kern.shape.max() + 1, kern.shape[2]))
    cand_flat = np.empty(n_mask, np.int64)
    cand_upper = np.empty(n_mask)
    entry_of = np.empty(n_mask, np.int64)
    vstart = np.empty(n_mask + 1, np.int64)
    ref_sum = np.empty(n_mask)
    left = np.empty(n_mask)
    stat = np.empty(n_mask)
    label = np.empty(n_mask, np.uint8)
    stack = np.empty(n_mask, np.int64)
    members = np.empty(n_mask, np.int64)
    ana_start = np.empty(ref_weights.shape[0] + 1, np.int64)
    ent_c = np.empty(_INITIAL_ENTRIES, np.int64)
    ent_v = np.empty(_INITIAL_ENTRIES)
    pending = np.empty(n_rep, np.bool_)
    out = np.zeros((3, n_rep, n_iters))
    for it in range(n_iters):
        bound[:] = 0.0
        _stamp_bound(foci[it], kern, ref_weights, mode, bound)
        if kern.tail > 0.0:
            _foci_in_reach(foci[it], kern, ref_weights, near, lines)
        pending[:] = True
        level = thresholds.min()
        level_of = thresholds
        while True:
            n_cand, left_out = _select(
                bound, near, kern.tail, mask_flat, mode, level, slot, cand_flat, cand_upper
            )
            _count_before(slot, kern.shape, before, columns)
            n_ent = -1
            while n_ent < 0:
                entry_of[:n_cand] = -1
                n_ent = _candidate_entries(
                    foci[it],
                    kern,
                    ref_weights,
                    mode,
                    cand_flat,
                    before,
                    columns,
                    entry_of,
                    ana_start,
                    ent_c,
                    ent_v,
                )
                if n_ent < 0:
                    ent_c = np.empty(2 * ent_c.shape[0], np.int64)
                    ent_v = np.empty(2 * ent_v.shape[0])
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
            _by_voxel(n_cand, needed, ana_start, ent_c, ent_v, vstart, entry_of, vana, vval)
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
                        _by_voxel(
                            n_cand, needed, ana_start, ent_c, ent_v, vstart, entry_of, vana, vval
                        )
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
                        members,
                    )
                    out[1, r, it] = size
                    out[2, r, it] = mass
            for c in range(n_cand):
                slot[cand_flat[c]] = INSIDE
            if not pending.any():
                break
            level = need
            level_of = np.full(n_rep, need)
    return out
