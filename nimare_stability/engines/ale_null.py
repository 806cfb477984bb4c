"""ALE's approximate-null histogram of any subset of analyses, as NiMARE computes it.

A NiMARE ALE fit bins each analysis's MA values on a grid of 0.00001 and folds the
analyses' histograms into the histogram of their ALE value (``_compute_null_approximate``),
from which come its p values and the cluster-forming threshold of its Monte Carlo FWE
correction. :class:`ALENull` computes the analyses' histograms and the targets of every
fold once, then the histogram of any subset in NiMARE's order of additions (bit for bit)
or, for thresholds, pruned of its far tail and checked to give the same threshold. A fold
goes on from the state kept after the longest run of first analyses it shares with an
earlier one (see :mod:`~nimare_stability.engines.prefixes`). Its compiled loops release
the GIL: :meth:`ALENull.thresholds` folds subsets in threads.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from nimare_stability.core import _nimare_private as private
from nimare_stability.engines import _numba_histogram as nh
from nimare_stability.engines import parallel
from nimare_stability.engines.prefixes import KeptPrefixes

#: Top bins below this share of the largest are dropped after each fold of a threshold's
#: histogram; the threshold is kept only when that cannot have moved it.
PRUNE = 1e-20
#: Relative rounding allowance of a tail sum (float64 cumulative sums of up to 10^6 bins).
_ROUNDING = 1e6 * np.finfo(np.float64).eps
#: A fold's state is kept after every this many analyses.
FOLD_STEP = 64
#: Fold states kept at most (least recently used dropped first).
MAX_KEPT = 64


class ALENull:
    """Approximate-null histograms of subsets of a fitted ALE's analyses.

    Parameters
    ----------
    estimator : fitted :class:`~nimare.meta.cbma.ale.ALE`
        Read only (its histogram grid rule).
    ma_maps : scipy.sparse.csr_matrix, shape (n_analyses, n_voxels)
        MA maps, one row per analysis, in the kernel's row order (sorted ids).
    """

    def __init__(self, estimator, ma_maps):
        self._estimator = estimator
        self.n_voxels = ma_maps.shape[1]
        self._row_max = np.asarray(ma_maps.max(axis=1).toarray()).ravel().astype(np.float32)
        bins = self.bins(np.arange(ma_maps.shape[0]))
        self._inv_step = 1.0 / (bins[1] - bins[0])
        indptr = ma_maps.indptr.astype(np.int64)
        # float32 values are binned in float64 inside the loop: no float64 copy of them all
        self._histograms = nh.analysis_histograms(
            ma_maps.data, indptr, self.n_voxels, self._inv_step, bins.size
        )
        targets = np.unique(self._histograms[0])
        self._runs = nh.bin_runs(targets, bins.astype(np.float64), self._inv_step)
        self._kept = KeptPrefixes(FOLD_STEP, MAX_KEPT)

    def bins(self, rows):
        """Histogram bin centres of the analyses ``rows`` (NiMARE's grid for their fit)."""
        return private.histogram_bins(self._estimator, self._row_max[rows], self.n_voxels)

    def histogram(self, rows, prune=0.0):
        """NiMARE's approximate-null histogram of the analyses ``rows``.

        Parameters
        ----------
        rows : array of int
            Sorted MA-map rows of the subset.
        prune : float, default=0.0
            0: NiMARE's histogram bit for bit. Else top bins below ``prune`` times the
            largest are dropped after each fold (see :func:`threshold`).

        Returns
        -------
        bins, weights : float64 ndarrays (n_bins,)
        dropped : float
            Mass dropped by pruning (0 when ``prune`` is 0).
        """
        rows = np.asarray(rows, dtype=np.int64)
        bins = self.bins(rows)
        weights, dropped = self._fold(rows, bins.size, prune)
        return bins, weights, dropped

    def _fold(self, rows, n_bins, prune):
        """Fold ``rows`` (see :func:`~._numba_histogram.fold_on`), from the longest kept state.

        A state is kept (``(histogram up to its top bin, top, dropped, highest)``) after
        every :data:`FOLD_STEP` analyses, and used only on a grid it reached no further
        than: the additions are then the ones a fold from scratch makes.
        """
        last = n_bins - 1
        done, kept = self._kept.longest(rows, prune, lambda state: state[3] <= last)
        if kept is None:
            weights, top = nh.first_histogram(rows[0], *self._histograms, n_bins)
            done, dropped, highest = 1, 0.0, top
        else:
            start, top, dropped, highest = kept
            weights = np.zeros(n_bins)
            weights[: start.size] = start
        while done < rows.size:
            stop = min((done // FOLD_STEP + 1) * FOLD_STEP, rows.size)
            weights, top, dropped, reached = nh.fold_on(
                weights, top, dropped, rows[done:stop], *self._histograms, self._runs, prune
            )
            highest, done = max(highest, reached), stop
            if done % FOLD_STEP == 0 and done < rows.size and highest <= last:
                state = (weights[: top + 1].copy(), top, dropped, highest)
                self._kept.keep(rows[:done], state, prune)
        return weights, dropped

    def threshold(self, rows, p):
        """Return the cluster-forming statistic of ``rows`` at voxel-level ``p``, as NiMARE's.

        From the pruned histogram when its margin shows the pruning cannot have changed the
        threshold; from the exact one otherwise.
        """
        bins, weights, dropped = self.histogram(rows, PRUNE)
        value, settled = threshold(weights, bins, p, dropped)
        if settled:
            return value
        bins, weights, _ = self.histogram(rows)
        return threshold(weights, bins, p)[0]

    def thresholds(self, subsets, p, n_cores=1):
        """:meth:`threshold` of each subset of rows, folded in ``n_cores`` threads."""
        n_threads = min(parallel.n_workers(n_cores), max(len(subsets), 1))
        if n_threads == 1:
            return [self.threshold(rows, p) for rows in subsets]
        with ThreadPoolExecutor(n_threads) as pool:
            return list(pool.map(lambda rows: self.threshold(rows, p), subsets))


def threshold(weights, bins, p, dropped=0.0):
    """NiMARE's cluster-forming threshold rule on a histogram, and whether it is settled.

    The threshold is the bin before the first whose upper-tail probability is at most
    ``p``. A histogram short of ``dropped`` mass (pruned) has tail probabilities within
    ``2 * dropped / total`` of the exact ones (plus rounding); the threshold is *settled*
    when both tail probabilities that decide it are farther than that from ``p``.

    Returns
    -------
    value : float
    settled : bool
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.sum() <= 0:
        return bins[0], dropped == 0
    tail = np.cumsum(weights[::-1])[::-1]
    tail /= tail[0]
    below = np.flatnonzero(tail <= p)
    if below.size == 0:
        return bins[-1], dropped == 0
    first = below[0]
    if dropped == 0:
        return bins[max(0, first - 1)], True
    margin = 2.0 * dropped / weights.sum() + _ROUNDING * p
    deciding = tail[max(0, first - 1) : first + 1]
    return bins[max(0, first - 1)], bool(np.all(np.abs(deciding - p) > margin))
