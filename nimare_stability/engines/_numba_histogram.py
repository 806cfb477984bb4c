"""Compiled loops of ALE's approximate-null histogram (see :mod:`.ale_null`).

NiMARE folds the analyses' MA-value histograms one by one: an ALE bin ``i`` and an
analysis bin ``k`` give the bin nearest ``1 - (1 - c_k)(1 - c_i)``. That target depends
only on ``(k, i)``, and for a fixed ``k`` it climbs by one bin at a time except where two
ALE bins share a target. So the targets of each analysis bin are stored once as *runs*
(ALE bins ``i0 .. i0 + n - 1`` land on ``j0 .. j0 + n - 1``), and a fold is a sum of
scaled copies of runs, made in NiMARE's order of additions: the same floating-point
result. Every function is ``nogil``: threads fold several subsets at once.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nearest_bin(value, inv_step, n_bins):
    """Index of the bin centre nearest ``value`` (ties upwards), clipped to the grid."""
    scaled = value * inv_step
    base = np.floor(scaled)
    index = int(base)
    if scaled - base >= 0.5:
        index += 1
    if index < 0:
        return 0
    if index >= n_bins:
        return n_bins - 1
    return index


@njit(cache=True, nogil=True)
def analysis_histograms(data, indptr, n_mask_voxels, inv_step, n_bins):
    """Each analysis's MA-value histogram, sparse: ``(bins, probs, starts)``.

    Analysis ``a`` holds ``bins[starts[a]:starts[a + 1]]`` (ascending) with probabilities
    ``probs[...]``: the nonzero bins of its counts (zero voxels in bin 0) times
    ``1 / n_mask_voxels``.
    """
    n_analyses = indptr.shape[0] - 1
    counts = np.zeros(n_bins)
    recip = 1.0 / n_mask_voxels
    starts = np.zeros(n_analyses + 1, np.int64)
    bins = np.empty(0, np.int64)
    probs = np.empty(0)
    for a in range(n_analyses):
        values = data[indptr[a] : indptr[a + 1]]
        for value in values:
            counts[nearest_bin(value, inv_step, n_bins)] += 1.0
        counts[0] += n_mask_voxels - values.shape[0]
        nonzero = np.flatnonzero(counts)
        bins = np.concatenate((bins, nonzero.astype(np.int64)))
        probs = np.concatenate((probs, counts[nonzero] * recip))
        starts[a + 1] = bins.shape[0]
        counts[nonzero] = 0.0
    return bins, probs, starts


@njit(cache=True, nogil=True)
def bin_runs(analysis_bins, bin_centers, inv_step):
    """Return the runs of targets of each analysis bin in ``analysis_bins`` (distinct, ascending).

    Returns ``(slot, run_start, run_i0, run_j0, run_len)``: analysis bin ``k``'s runs are
    ``run_start[slot[k]] .. run_start[slot[k] + 1]``, in ascending ALE bin order.
    """
    n_bins = bin_centers.shape[0]
    slot = np.full(n_bins, -1, np.int64)
    run_start = np.zeros(analysis_bins.shape[0] + 1, np.int64)
    capacity = 1 << 16
    run_i0 = np.empty(capacity, np.int32)
    run_j0 = np.empty(capacity, np.int32)
    run_len = np.empty(capacity, np.int32)
    n_runs = 0
    for s in range(analysis_bins.shape[0]):
        k = analysis_bins[s]
        slot[k] = s
        one_minus = 1.0 - bin_centers[k]
        previous = -2
        for i in range(n_bins):
            j = nearest_bin(1.0 - one_minus * (1.0 - bin_centers[i]), inv_step, n_bins)
            if j == previous + 1 and n_runs > run_start[s]:
                run_len[n_runs - 1] += 1
            else:
                if n_runs == capacity:
                    capacity *= 2
                    run_i0 = _grown(run_i0, capacity)
                    run_j0 = _grown(run_j0, capacity)
                    run_len = _grown(run_len, capacity)
                run_i0[n_runs], run_j0[n_runs], run_len[n_runs] = i, j, 1
                n_runs += 1
            previous = j
        run_start[s + 1] = n_runs
    return slot, run_start, run_i0[:n_runs].copy(), run_j0[:n_runs].copy(), run_len[:n_runs].copy()


@njit(cache=True, nogil=True)
def _grown(values, capacity):
    grown = np.empty(capacity, values.dtype)
    grown[: values.shape[0]] = values
    return grown


@njit(cache=True, nogil=True)
def first_histogram(row, bins, probs, starts, n_bins):
    """Return the histogram of analysis ``row`` alone on a grid of ``n_bins``, and its top bin.

    The start of every fold (:func:`fold_on` adds the analyses after it).
    """
    ale = np.zeros(n_bins)
    top = 0
    for t in range(starts[row], starts[row + 1]):
        ale[bins[t]] = probs[t]
        top = max(top, bins[t])
    return ale, top


@njit(cache=True, nogil=True)
def fold_on(ale, top, dropped, rows, bins, probs, starts, runs, prune):
    """Fold the analyses ``rows`` into histogram ``ale``, in that order, as NiMARE does.

    Parameters
    ----------
    ale : float64 array (n_bins,)
        The histogram so far (of the analyses before ``rows``), on the subset's grid:
        targets at or beyond its last bin land on it.
    top : int
        Its highest nonzero bin (every bin above it is 0).
    dropped : float
        The mass pruning dropped so far.
    rows : int64 array
        Analyses (rows of :func:`analysis_histograms`), in NiMARE's order (sorted).
    bins, probs, starts : from :func:`analysis_histograms`
    runs : tuple from :func:`bin_runs` (on a grid of at least ``n_bins`` bins)
    prune : float
        0 for NiMARE's histogram bit for bit. Else, after each fold, the top bins below
        ``prune`` times the largest are dropped (their mass only ever moves up): the
        histogram's total is short by exactly ``dropped``, and only bins above the lowest
        cut differ from NiMARE's.

    Returns
    -------
    histogram : float64 array (n_bins,)
    top, dropped
        As above, after ``rows``.
    highest : int
        The highest bin any addition aimed at before landing on the last bin: while it is
        at most the last bin, the histogram is the same on any grid at least as long.
    """
    slot, run_start, run_i0, run_j0, run_len = runs
    last = ale.shape[0] - 1
    out = np.zeros(ale.shape[0])
    out_top = 0
    highest = top
    for e in range(rows.shape[0]):
        row = rows[e]
        out[: out_top + 1] = 0.0
        new_top = 0
        for t in range(starts[row], starts[row + 1]):
            s = slot[bins[t]]
            p = probs[t]
            for r in range(run_start[s], run_start[s + 1]):
                i0 = run_i0[r]
                if i0 > top:
                    break
                j0 = run_j0[r]
                length = min(run_len[r], top - i0 + 1)
                direct = max(min(length, last - j0), 0)
                # Slices of known length let the compiler vectorise the scaled copy (the
                # same products and sums: each output bin gets one addition per run).
                target = out[j0 : j0 + direct]
                source = ale[i0 : i0 + direct]
                for d in range(direct):
                    target[d] += p * source[d]
                for d in range(direct, length):
                    out[last] += p * ale[i0 + d]
                new_top = max(new_top, min(j0 + length - 1, last))
                highest = max(highest, j0 + length - 1)
        ale, out = out, ale
        out_top = top
        top = new_top
        if prune > 0.0:
            cut = ale[: top + 1].max() * prune
            while top > 0 and ale[top] < cut:
                dropped += ale[top]
                ale[top] = 0.0
                top -= 1
    return ale, top, dropped, highest
