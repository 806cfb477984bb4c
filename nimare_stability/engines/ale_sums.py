"""ALE statistic maps of subsets of analyses, reusing the sums of their shared first rows.

NiMARE's ALE statistic of a set of analyses (``_compute_ale_summarystat``) adds, voxel by
voxel, ``log1p(-MA)`` of its MA rows in row order, then takes ``1 - exp`` in float32. Sets
that start with the same rows share those partial sums: :class:`LeadingSums` keeps them
every :data:`STEP` rows (see :mod:`~nimare_stability.engines.prefixes`) and goes on from
the longest kept one a new set starts with, adding in the same order, so its maps are
NiMARE's bit for bit.
"""

import numpy as np
from numba import njit

from nimare_stability.engines.prefixes import KeptPrefixes

#: Partial sums are kept after every this many rows of a set.
STEP = 64
#: Partial sums kept at most (least recently used dropped first).
MAX_KEPT = 32


@njit(cache=True, nogil=True)
def _add(sums, indices, logs):
    """Add ``logs`` into ``sums`` at ``indices``, in order (as ``np.bincount`` does)."""
    for e in range(indices.shape[0]):
        sums[indices[e]] += np.float64(logs[e])


class LeadingSums:
    """ALE statistic maps of sets of MA rows, sharing the sums of common first rows.

    Parameters
    ----------
    ma_maps : scipy.sparse.csr_matrix, shape (n_rows, n_voxels)
        MA maps, one row per analysis (their values as NiMARE's kernel gives them).
    """

    def __init__(self, ma_maps):
        self._data, self._indices, self._indptr = ma_maps.data, ma_maps.indices, ma_maps.indptr
        self.n_voxels = ma_maps.shape[1]
        self._kept = KeptPrefixes(STEP, MAX_KEPT)

    def stat(self, rows):
        """Return the ALE map of the analyses in MA rows ``rows`` (sorted), float32.

        Equal, bit for bit, to ``_compute_ale_summarystat(ma_maps[rows])``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        done, sums = self._kept.longest(rows)
        sums = np.zeros(self.n_voxels) if sums is None else sums.copy()
        for start in range(done, rows.size, STEP):
            stop = min(start + STEP, rows.size)
            ranges = [slice(self._indptr[r], self._indptr[r + 1]) for r in rows[start:stop]]
            data = np.concatenate([self._data[part] for part in ranges])
            _add(sums, np.concatenate([self._indices[part] for part in ranges]), np.log1p(-data))
            if stop % STEP == 0 and stop < rows.size:
                self._kept.keep(rows[:stop], sums.copy())
        return (1.0 - np.exp(sums)).astype(np.float32)
