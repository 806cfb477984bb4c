"""The permutation null of an ALE subtraction, compiled, from MA maps cached once.

A permutation reassigns the pooled analyses of two groups, keeping the groups' sizes, and
recomputes both groups' ALE from the cached MA maps; what a subtraction keeps of it is
streamed (:mod:`~nimare_stability.engines._numba_pairwise`): per voxel, how many
permutations reach at least and at most the observed difference, and per permutation the
largest absolute difference. No permutations x voxels array is ever held.

The permutations come from the caller (``group1_rows(i)``: the pooled rows permutation
``i`` puts in group 1), so that a subtraction can run exactly the permutations NiMARE's
would. Each block of permutations is an independent task on joblib's active backend
(threads preferred: the compiled loop releases the GIL); results do not depend on
``n_cores`` or the backend.
"""

from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from tqdm.auto import tqdm

from nimare_stability.core.progress import tqdm_disable
from nimare_stability.engines import _numba_pairwise as kernels
from nimare_stability.engines import memory, parallel

#: Permutations per compiled batch (the innermost, vectorised loop).
BATCH_SIZE = 128


@dataclass(frozen=True)
class PooledMaps:
    """Both groups' MA maps, pooled and voxel-major, with what every permutation reuses.

    Build with :meth:`from_groups`. ``logs`` holds each entry's ``log1p(-MA)`` computed in
    the maps' own dtype, as NiMARE's subtraction computes it, then widened to float64.
    """

    starts: np.ndarray
    rows: np.ndarray
    logs: np.ndarray
    totals: np.ndarray
    n_group1: int
    n_analyses: int

    @classmethod
    def from_groups(cls, group1, group2):
        """Pool two groups' MA maps (sparse or dense, analyses x voxels; group 1 first)."""
        pooled = sparse.vstack([sparse.csr_matrix(group1), sparse.csr_matrix(group2)])
        pooled_rows = pooled.shape[0]
        pooled = pooled.tocsc()
        pooled.sort_indices()
        logs = np.log1p(-pooled.data).astype(np.float64)
        starts = pooled.indptr.astype(np.int64)
        rows = pooled.indices.astype(np.int32)
        del pooled
        memory.release_freed()
        everyone = np.ones(pooled_rows, np.int8)
        totals = kernels.group_log_sums(starts, rows, logs, everyone)[0]
        return cls(starts, rows, logs, totals, group1.shape[0], pooled_rows)

    def difference(self, membership):
        """Group 1's ALE minus group 2's over the analyses ``membership`` marks 1 and 2.

        As a fit of those analyses writes it (each group's log-sums in row order, its ALE
        float32). Returns the difference and both groups' log-sums (float64).
        """
        sums = kernels.group_log_sums(self.starts, self.rows, self.logs, membership)
        stat1, stat2 = ((1.0 - np.exp(log_sums)).astype(np.float32) for log_sums in sums)
        return stat1 - stat2, sums

    @property
    def n_voxels(self):
        """Voxels of the maps."""
        return self.totals.shape[0]


@dataclass(frozen=True)
class PermutationNull:
    """What a subtraction keeps of its permutations.

    Attributes
    ----------
    upper, lower : uint32 arrays, shape (n_voxels,)
        Permutations whose difference is at least / at most the observed one, per voxel.
    abs_max : float64 array, shape (n_iters,)
        Each permutation's largest absolute difference.
    largest : float32 array or None
        With ``top``: the ``top`` largest ``|d|`` of all permutations and voxels (as
        float32, the maps' dtype), in no order; zeros where fewer were positive.
    """

    upper: np.ndarray
    lower: np.ndarray
    abs_max: np.ndarray
    largest: np.ndarray = None


class Permutations:
    """``n_iters`` permutations of a subtraction's groups, streamed as often as asked.

    Parameters
    ----------
    maps : :class:`PooledMaps`
    observed : array, shape (n_voxels,)
        The observed group-1 minus group-2 ALE (compared as float64).
    group1_rows : callable
        ``group1_rows(i)``: the pooled rows (group 1's first) permutation ``i`` puts in
        group 1.
    n_iters : :obj:`int`
    n_cores : :obj:`int`, default=1
        Tasks at once (``<= 0``: every core); results do not depend on it.
    progress : :obj:`bool`, default=True
    """

    def __init__(self, maps, observed, group1_rows, n_iters, n_cores=1, progress=True):
        observed = np.asarray(observed, dtype=np.float64)
        if observed.shape != (maps.n_voxels,):
            raise ValueError(
                f"observed has shape {observed.shape}; the MA maps have {maps.n_voxels} voxels."
            )
        self.maps = maps
        self.observed = observed
        self.group1_rows = group1_rows
        self.n_iters = n_iters
        self.n_cores = n_cores
        self.progress = progress

    def null(self, top=0):
        """Stream every permutation: counts, maxima and, with ``top``, the largest ``|d|``."""
        n_voxels = self.maps.n_voxels
        upper = np.zeros(n_voxels, np.uint32)
        lower = np.zeros(n_voxels, np.uint32)
        abs_max = np.empty(self.n_iters)
        pool = _Largest(top)
        # Until ``top`` values are seen, the first permutations keep every |d| > 0.
        first = min(self.n_iters, -(-top // n_voxels) + 1) if top else 0
        for batch, result in self._stream("Permutations", pool.level, first):
            batch_upper, batch_lower, batch_max, _, _, kept = result
            upper += batch_upper
            lower += batch_lower
            abs_max[batch.start : batch.stop] = batch_max
            pool.add(kept)
        return PermutationNull(upper, lower, abs_max, pool.values() if top else None)

    def top_for(self, cluster_p):
        """How many of the largest ``|d|`` the quantile at cluster-forming p reads."""
        return largest_needed(self.n_iters * self.maps.n_voxels, 1 - cluster_p)

    def cluster_null(self, cluster_p, voxel_flat, shape, largest=None):
        """NiMARE's cluster-level null at cluster-forming p ``cluster_p``, as float32.

        Returns the threshold (the ``1 - cluster_p`` quantile of every ``|d|``) and each
        permutation's largest cluster size and mass (:meth:`cluster_maxima`). ``largest``:
        the :class:`PermutationNull`'s, collected with ``top=top_for(cluster_p)``; None
        streams the permutations once more to collect them.
        """
        if largest is None:
            largest = self.null(top=self.top_for(cluster_p)).largest
        q = 1 - cluster_p
        threshold = quantile_of_largest(largest, self.n_iters * self.maps.n_voxels, q)
        sizes, masses = self.cluster_maxima(threshold, voxel_flat, shape)
        return threshold, sizes.astype(np.float32), masses.astype(np.float32)

    def cluster_maxima(self, threshold, voxel_flat, shape):
        """Each permutation's largest cluster size and mass at ``threshold`` (float32).

        As NiMARE's two-tailed cluster measures of each permutation's float32 map;
        ``voxel_flat`` gives the maps' voxels' indices in the C-ordered grid of ``shape``.
        """
        threshold = np.float32(threshold)
        level = float(threshold) * (1.0 - 1e-6)  # below it: no value above it is missed
        sizes, masses = np.empty(self.n_iters), np.empty(self.n_iters)
        grid = (np.asarray(voxel_flat, np.int64), np.asarray(shape, np.int64), threshold)
        for batch, (batch_sizes, batch_masses) in self._stream(
            "Cluster null", lambda: level, 0, grid
        ):
            sizes[batch.start : batch.stop] = batch_sizes
            masses[batch.start : batch.stop] = batch_masses
        return sizes, masses

    def _stream(self, desc, level, first, grid=None):
        """Yield ``(batch, result)`` for every batch of permutations, in order.

        ``first`` permutations (if any) run alone first, at level 0; ``level()`` is read
        when each later batch starts.
        """
        head = [range(0, first)] if first else []
        batches = head + [
            range(start, min(start + BATCH_SIZE, self.n_iters))
            for start in range(first, self.n_iters, BATCH_SIZE)
        ]
        roots = kernels.roots(self.maps.totals, self.observed)
        shared = parallel.share((self.maps, self.observed, *roots))
        with tqdm(
            total=self.n_iters, desc=desc, unit="perm", disable=tqdm_disable(self.progress)
        ) as bar:
            if first:
                batch = batches.pop(0)
                yield batch, _batch(shared, self._labels(batch), lambda: 0.0, grid)
                bar.update(len(batch))
            results = Parallel(
                n_jobs=parallel.n_workers(self.n_cores), prefer="threads", return_as="generator"
            )(delayed(_batch)(shared, self._labels(batch), level, grid) for batch in batches)
            for batch, result in zip(batches, results):
                yield batch, result
                bar.update(len(batch))

    def _labels(self, batch):
        return batch_labels(self.group1_rows, batch, self.maps.n_analyses)


def batch_labels(group1_rows, batch, n_rows):
    """Boolean (rows x permutations) group-1 membership of a batch of permutations.

    ``group1_rows(i)``: the pooled rows permutation ``i`` puts in group 1.
    """
    labels = np.zeros((n_rows, len(batch)), dtype=np.bool_)
    for column, i in enumerate(batch):
        labels[np.asarray(group1_rows(i)), column] = True
    return labels


class _Largest:
    """The ``size`` largest float32 ``|d|`` seen, and a level nothing above it misses."""

    def __init__(self, size):
        self.size = size
        self.kept = [np.zeros(0, np.float32)]
        self.floor = 0.0

    def level(self):
        """Keep every ``|d|`` above this (infinite when nothing is kept)."""
        return self.floor if self.size else np.inf

    def add(self, values):
        if not self.size:
            return
        self.kept.append(np.abs(values.astype(np.float32)))
        if sum(len(part) for part in self.kept) >= 2 * self.size:
            self._shrink()

    def _shrink(self):
        values = np.concatenate(self.kept)
        if len(values) > self.size:
            values = np.partition(values, len(values) - self.size)[len(values) - self.size :]
        self.kept = [values]
        if len(values) == self.size:
            self.floor = float(values.min()) * (1.0 - 1e-6)

    def values(self):
        self._shrink()
        values = self.kept[0]
        return np.concatenate([values, np.zeros(self.size - len(values), np.float32)])


def quantile_of_largest(largest, n_values, q):
    """``np.quantile`` (linear) of ``n_values`` non-negative values, from the largest ones.

    ``largest`` holds the ``n_values - floor((n_values - 1) * q)`` largest values (see
    :func:`largest_needed`); the result is bit for bit ``np.quantile(values, q)`` on
    float32 values, computed from the two order statistics it interpolates between.
    """
    virtual = n_values * q + (1 + q * (1 - 1 - 1)) - 1  # numpy's linear virtual index
    below = int(np.floor(virtual))
    gamma = float(virtual - np.floor(virtual))
    ranked = np.sort(np.asarray(largest, np.float32))[::-1]
    a = ranked[n_values - 1 - below]
    b = ranked[max(n_values - 2 - below, 0)]
    difference = b - a
    if gamma >= 0.5:
        return b - difference * (1 - gamma)
    return a + difference * gamma


def largest_needed(n_values, q):
    """How many of the largest of ``n_values`` values :func:`quantile_of_largest` reads."""
    virtual = n_values * q + (1 + q * (1 - 1 - 1)) - 1
    return n_values - int(np.floor(virtual))


def stream_batch(maps, labels, observed, at, margin, level):
    """Return what a subtraction keeps of a batch of permutations (``labels``: rows x batch).

    The compiled loop decides what it can from each voxel's group-1 log-sum ``l1``; the
    close calls it returns are decided here by ``d`` computed with numpy's ``exp``, as
    NiMARE computes it (a compiled ``exp`` may differ in the last bit, for instance from
    numpy's AVX-512 one, and a tie at a voxel far from every focus turns on that bit).

    Returns
    -------
    upper, lower : uint32 arrays, shape (n_voxels,)
    abs_max : float64 array, shape (n_permutations,)
    kept_perm, kept_voxel : int32 arrays; kept_value : float64 array
        Every ``|d| > level``: permutation, voxel and signed ``d``.
    """
    upper, lower, perm, voxel, l1, open_ = kernels.permute_batch(
        maps.starts, maps.rows, maps.logs, labels, maps.totals, observed, at, margin, level
    )
    d = (1.0 - np.exp(l1)) - (1.0 - np.exp(maps.totals[voxel] - l1))
    abs_max = kernels.settle(upper, lower, perm, voxel, d, open_, observed, labels.shape[1])
    kept = np.abs(d) > level
    return upper, lower, abs_max, perm[kept], voxel[kept], d[kept]


def _batch(shared, labels, level, grid):
    """Run one batch; with ``grid``, its permutations' cluster maxima instead."""
    maps, observed, at, margin = shared
    result = stream_batch(maps, labels, observed, at, margin, level())
    if grid is None:
        return result
    voxel_flat, shape, threshold = grid
    *_, kept_perm, kept_voxel, kept_value = result
    return kernels.cluster_maxima(
        kept_perm, kept_voxel, kept_value, labels.shape[1], threshold, voxel_flat, shape
    )
