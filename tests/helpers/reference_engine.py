"""The touched-voxel engine, the one before the candidate-voxel engine, which must equal it.

Each iteration stamps every analysis's (truncated) kernel, then, per replicate, adds up
all its retained analyses' entries on every touched voxel and recomputes exactly, with the
full kernels, the voxels that may pass the threshold or be the maximum. Kept verbatim but
for one change: a cluster's mass is summed in ascending voxel order (as the engine does),
not in flood-fill order, so the two engines' masses are the same float, not only close.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from nimare_stability.engines.layout import _runs
from nimare_stability.engines.montecarlo import replicate_weights

ALE, MKDA, KDA = 0, 1, 2
OUTSIDE, UNTOUCHED = -2, -1


@njit(nogil=True)
def _spread_foci(
    foci, focus_starts, analysis_kernel, k_rows, k_val, k_starts, shape, mode, slot, scratch
):
    """Stamp every analysis's kernels; return ``(n_touched, n_entries)``.

    A kernel is a list of runs along the last axis: ``k_rows[q] = (di, dj, dk0, length,
    first value)``. ``slot`` maps a flat volume index to its touched-voxel number (or
    OUTSIDE / UNTOUCHED). ``scratch`` is ``(comp_flat, entry_of, ent_c, ent_v, ana_start)``;
    a touched voxel already has an entry in analysis ``a`` when
    ``entry_of >= ana_start[a]``.
    """
    comp_flat, entry_of, ent_c, ent_v, ana_start = scratch
    nx, ny, nz = shape[0], shape[1], shape[2]
    n_comp = 0
    n_ent = 0
    for a in range(focus_starts.shape[0] - 1):
        first = n_ent
        ana_start[a] = first
        q_lo, q_hi = k_starts[analysis_kernel[a]], k_starts[analysis_kernel[a] + 1]
        for p in range(focus_starts[a], focus_starts[a + 1]):
            for q in range(q_lo, q_hi):
                i = foci[p, 0] + k_rows[q, 0]
                j = foci[p, 1] + k_rows[q, 1]
                if i < 0 or j < 0 or i >= nx or j >= ny:
                    continue
                k0 = foci[p, 2] + k_rows[q, 2]
                lo = max(0, -k0)
                hi = min(k_rows[q, 3], nz - k0)
                base = (i * ny + j) * nz + k0
                vbase = k_rows[q, 4]
                for t in range(lo, hi):
                    f = base + t
                    v = k_val[vbase + t]
                    c = slot[f]
                    if c >= 0:
                        e = entry_of[c]
                        if e >= first:
                            if mode == ALE:
                                ent_v[e] = min(ent_v[e], v)
                            elif mode == KDA:
                                ent_v[e] += v
                            continue
                    elif c == OUTSIDE:
                        continue
                    else:
                        c = n_comp
                        slot[f] = c
                        comp_flat[c] = f
                        n_comp += 1
                    entry_of[c] = n_ent
                    ent_c[n_ent] = c
                    ent_v[n_ent] = v
                    n_ent += 1
    ana_start[focus_starts.shape[0] - 1] = n_ent
    return n_comp, n_ent


@njit(nogil=True)
def _accumulate(weights, mode, ana_start, ent_c, ent_v, n_comp, acc):
    """Sum the retained analyses' entries per touched voxel, in analysis order.

    ALE adds ``log1p(-MA)`` of every retained analysis (``weights`` > 0); MKDA and KDA add
    ``weight * entry``.
    """
    acc[:n_comp] = 0.0
    for a in range(weights.shape[0]):
        w = weights[a]
        if w == 0.0:
            continue
        for e in range(ana_start[a], ana_start[a + 1]):
            if mode == ALE:
                acc[ent_c[e]] += ent_v[e]
            else:
                acc[ent_c[e]] += w * ent_v[e]


@njit(nogil=True)
def _additive_stat(acc, n_comp):
    """Round an MKDA/KDA sum to float32 in place; return its maximum."""
    best = 0.0
    for c in range(n_comp):
        acc[c] = np.float64(np.float32(acc[c]))
        best = max(best, acc[c])
    return best


@njit(nogil=True)
def _exact_log_sum(f, weights, foci, kern):
    """ALE's full-kernel ``sum log1p(-MA)`` at flat voxel ``f``, in analysis order."""
    focus_starts, analysis_kernel = kern.focus_starts, kern.analysis_kernel
    dense, dense_starts, dense_width = kern.dense_log, kern.dense_starts, kern.dense_width
    ny, nz = kern.shape[1], kern.shape[2]
    vi, vj, vk = f // (ny * nz), (f // nz) % ny, f % nz
    total = 0.0
    for a in range(weights.shape[0]):
        if weights[a] == 0.0:
            continue
        q = analysis_kernel[a]
        width = dense_width[q]
        half = width // 2
        low = 0.0
        for p in range(focus_starts[a], focus_starts[a + 1]):
            di = vi - foci[p, 0] + half
            dj = vj - foci[p, 1] + half
            dk = vk - foci[p, 2] + half
            if 0 <= di < width and 0 <= dj < width and 0 <= dk < width:
                low = min(low, dense[dense_starts[q] + (di * width + dj) * width + dk])
        total += low
    return total


@njit(nogil=True)
def _ale_stat(acc, n_comp, thr, tail, weights, foci, kern, comp_flat):
    """Turn truncated-kernel ALE log sums into exact float32 ALE values where they matter.

    ``acc`` holds sums over kernels whose MA values below a cutoff were dropped; each
    retained analysis's true term is then at most ``tail`` lower. Only voxels that could
    exceed ``thr`` or be the maximum are recomputed exactly with the full kernels (as
    :func:`_exact_log_sum`, so in NiMARE's summation order); the rest become ``-inf``.
    Returns the maximum ALE value.
    """
    slack = tail * (weights != 0.0).sum() * (1.0 + 1e-6)
    # 1 - exp(x) falls as x rises: a sum above this cut cannot round above thr.
    cut = np.log1p(-thr * (1.0 - 1e-4)) if thr < 1.0 else np.inf
    lowest = 0.0
    for c in range(n_comp):
        lowest = min(lowest, acc[c])
    best = 0.0
    for c in range(n_comp):
        if acc[c] - slack > max(cut, lowest):
            acc[c] = -np.inf
            continue
        x = _exact_log_sum(comp_flat[c], weights, foci, kern) if slack else acc[c]
        acc[c] = np.float64(np.float32(1.0 - np.exp(x)))
        best = max(best, acc[c])
    return best


@njit(nogil=True)
def _max_clusters(stat, n_comp, thr, comp_flat, slot, shape, label, stack, members):
    """Largest size and mass of 6-connected clusters of touched voxels with ``stat > thr``.

    A cluster's mass is the sum of ``stat - thr`` over its voxels.
    """
    nx, ny, nz = shape[0], shape[1], shape[2]
    label[:n_comp] = 0
    max_size = 0
    max_mass = 0.0
    for seed in range(n_comp):
        if label[seed] or not stat[seed] > thr:
            continue
        label[seed] = 1
        stack[0] = seed
        top = 1
        size = 0
        while top:
            top -= 1
            u = stack[top]
            members[size] = comp_flat[u]
            size += 1
            f = comp_flat[u]
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
        mass = 0.0
        for f in np.sort(members[:size]):  # ascending voxel order, as the engine sums
            mass += stat[slot[f]] - thr
        max_size = max(max_size, size)
        max_mass = max(max_mass, mass)
    return max_size, max_mass


@njit(nogil=True)
def run_block(foci, kern, mode, tail, slot, weights, thresholds, max_touched, max_entries):
    """Null maxima for a block of iterations.

    Parameters
    ----------
    foci : int32 array of shape (n_iters, n_foci, 3)
        Random foci, grouped by analysis as ``kern[0]`` (``focus_starts``) says.
    kern : KernelTables
        The runs of (possibly truncated) kernels for :func:`_spread_foci` and, for ALE, the
        full kernels' ``log1p(-MA)`` cubes (see ``layout.KernelTables``).
    mode : int
        ALE, MKDA or KDA.
    tail : float
        Largest ``-log1p(-MA)`` dropped from an ALE kernel (0 when none was).
    slot : int32 array of shape (n_flat,)
        OUTSIDE / UNTOUCHED per volume voxel; used as scratch and restored on return.
    weights : float64 array of shape (R, n_analyses)
        Per replicate analysis weights; 0 means not retained.
    thresholds : float64 array of shape (R,)
        Cluster-forming statistic threshold per replicate.
    max_touched, max_entries : int
        Upper bounds on touched voxels and on kernel entries per iteration.

    Returns
    -------
    max_stat, max_size, max_mass : float64 arrays of shape (R, n_iters)
    """
    focus_starts, analysis_kernel, shape = kern.focus_starts, kern.analysis_kernel, kern.shape
    n_iters = foci.shape[0]
    n_rep = weights.shape[0]
    scratch = (
        np.empty(max_touched, np.int32),
        np.empty(max_touched, np.int32),
        np.empty(max_entries, np.int32),
        np.empty(max_entries, np.float64),
        np.empty(focus_starts.shape[0], np.int64),
    )
    comp_flat = scratch[0]
    stat = np.empty(max_touched, np.float64)
    label = np.empty(max_touched, np.uint8)
    stack = np.empty(max_touched, np.int32)
    members = np.empty(max_touched, np.int64)
    out = np.zeros((3, n_rep, n_iters))
    for it in range(n_iters):
        n_comp, _ = _spread_foci(
            foci[it],
            focus_starts,
            analysis_kernel,
            kern.rows,
            kern.values,
            kern.starts,
            shape,
            mode,
            slot,
            scratch,
        )
        for r in range(n_rep):
            _accumulate(weights[r], mode, scratch[4], scratch[2], scratch[3], n_comp, stat)
            if mode == ALE:
                out[0, r, it] = _ale_stat(
                    stat, n_comp, thresholds[r], tail, weights[r], foci[it], kern, comp_flat
                )
            else:
                out[0, r, it] = _additive_stat(stat, n_comp)
            size, mass = _max_clusters(
                stat, n_comp, thresholds[r], comp_flat, slot, shape, label, stack, members
            )
            out[1, r, it] = size
            out[2, r, it] = mass
        for c in range(n_comp):
            slot[comp_flat[c]] = UNTOUCHED
    return out


class _Tables(NamedTuple):
    focus_starts: np.ndarray
    analysis_kernel: np.ndarray
    rows: np.ndarray
    values: np.ndarray
    starts: np.ndarray
    dense_log: np.ndarray
    dense_starts: np.ndarray
    dense_width: np.ndarray
    shape: np.ndarray


def _kernel_voxels(layout, q):
    """Offsets and values of kernel ``q`` of ``layout`` (its full runs, unrolled)."""
    offsets, values = [], []
    for di, dj, dk0, length, first in layout.kernel_rows[
        layout.kernel_starts[q] : layout.kernel_starts[q + 1]
    ]:
        for t in range(length):
            offsets.append((di, dj, dk0 + t))
            values.append(layout.kernel_values[first + t])
    return np.array(offsets), np.array(values)


def _tables(layout, truncate):
    """Truncated runs (ALE: MA >= ``truncate``), full dense cubes and the dropped tail."""
    rows, values, starts, cubes, tail = [], [], [0], [], 0.0
    for q in range(len(layout.kernel_starts) - 1):
        offsets, logs = _kernel_voxels(layout, q)
        half = np.abs(offsets).max()
        cube = np.zeros((2 * half + 1,) * 3)
        cube[tuple((offsets + half).T)] = logs
        cubes.append(cube)
        keep = logs <= np.log1p(-truncate) if layout.mode == ALE else np.ones(len(logs), bool)
        tail = max(tail, float(-logs[~keep].min(initial=0.0)))
        order = np.lexsort(offsets[keep].T[::-1])
        rows.append(_runs(offsets[keep][order], sum(map(len, values))))
        values.append(logs[keep][order])
        starts.append(starts[-1] + len(rows[-1]))
    dense = [cube.ravel() for cube in cubes] if layout.mode == ALE else [np.zeros(0)]
    tables = _Tables(
        layout.focus_starts,
        layout.analysis_kernel,
        np.concatenate(rows),
        np.concatenate(values),
        np.asarray(starts, dtype=np.int64),
        np.concatenate(dense),
        np.r_[0, np.cumsum([len(d) for d in dense])[:-1]].astype(np.int64),
        np.array([round(len(d) ** (1 / 3)) for d in dense], dtype=np.int64),
        layout.shape,
    )
    return tables, tail


def reference_maxima(layout, foci_ijk, retained, thresholds, truncate=1e-5):
    """Per-iteration maxima of every replicate, as the touched-voxel engine computes them.

    Parameters are those of ``montecarlo.maxima_for_foci``; ``truncate`` is that engine's ALE
    kernel truncation (MA below it is spread only where it can matter).
    """
    weights = replicate_weights(layout, retained)
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (len(weights),))
    tables, tail = _tables(layout, truncate)
    slack = tail * np.count_nonzero(weights, axis=1)
    if tail and not np.all(slack < 0.5 * -np.log1p(-np.minimum(thresholds, 1.0))):
        tables, tail = _tables(layout, 0.0)
    sizes = np.diff(np.r_[0, np.cumsum(tables.rows[:, 3])][tables.starts])
    max_entries = int(np.dot(np.diff(layout.focus_starts), sizes[layout.analysis_kernel]))
    slot = np.where(layout.slot == OUTSIDE, OUTSIDE, UNTOUCHED).astype(np.int32)
    max_touched = min(max_entries, int(np.count_nonzero(slot == UNTOUCHED)))
    foci = np.ascontiguousarray(np.asarray(foci_ijk)[:, layout.focus_rows], dtype=np.int32)
    return tuple(
        run_block(
            foci,
            tables,
            layout.mode,
            tail,
            slot,
            weights,
            np.ascontiguousarray(thresholds),
            max_touched,
            max_entries,
        )
    )
