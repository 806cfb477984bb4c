"""FailSafeN's Monte Carlo nulls at a few numbers of added null analyses, interpolated.

The drawers of a FailSafeN run share these nulls: each size's maxima come from one engine
pass over common random foci, and any number of null analyses in between reads its null
from the two neighbouring sizes.
"""

import numpy as np

#: Sizes (numbers of null analyses) whose Monte Carlo nulls are drawn; others interpolate.
GRID_POINTS = 6


class SizeGrid:
    """Monte Carlo null maxima at a few numbers of added null analyses (common foci).

    Parameters
    ----------
    sizes : ndarray of int
        Numbers of null analyses, ascending from 0.
    nulls : tuple of three arrays of shape (len(sizes), n_iters) or None
        Maximum statistic, cluster size and mass at each size.
    n_real : int
        Real analyses in every replicate.
    """

    def __init__(self, sizes, nulls, n_real):
        self.sizes = sizes
        self.nulls = nulls
        self.n_real = n_real
        self._sorted = tuple(None if null is None else np.sort(null, axis=1) for null in nulls)

    @classmethod
    def draw(cls, engine, drawer, n_cores, progress, store=None):
        """Draw the grid's nulls with ``engine`` (one that :data:`DRAWS_NULLS`, on ``drawer``).

        The sizes are nested: each iteration stamps every analysis's kernels once and
        judges each size on the bound of its own analyses, at its own threshold (which
        differ several-fold: one bound of the largest size would make nearly every voxel
        a candidate of the smallest). ``store`` (a checkpoint) keeps the thresholds and
        finished null blocks.
        """
        sizes = np.unique(np.linspace(0, len(drawer.nulls), GRID_POINTS).round().astype(int))
        splits = [drawer.retained(m) for m in sizes]
        nulls = engine.null_maxima(splits, n_cores, progress, store, nested=True)
        return cls(sizes, nulls, len(drawer.real))

    def maxima(self, retained):
        """Null maxima of each replicate: its number of null analyses, interpolated.

        An engine's ``null_maxima`` provider (:class:`~nimare_stability.engines.EngineInputs`).
        """
        rows = [self.at(len(kept) - self.n_real) for kept in retained]
        return tuple(
            None if rows[0][i] is None else np.stack([row[i] for row in rows]) for i in range(3)
        )

    def at(self, n_nulls):
        """Null maxima with ``n_nulls`` null analyses, sorted, interpolated quantile by quantile.

        The ``q``-th smallest maximum is interpolated between the ``q``-th smallest of the
        neighbouring sizes. Interpolating iteration by iteration instead would average two
        sizes' maxima, which are not perfectly correlated, and so narrow the null: its upper
        tail, the one p values read, would be too small.
        """
        upper = int(np.clip(np.searchsorted(self.sizes, n_nulls), 1, len(self.sizes) - 1))
        low, high = self.sizes[upper - 1], self.sizes[upper]
        weight = (n_nulls - low) / (high - low)
        return tuple(
            None if null is None else (1 - weight) * null[upper - 1] + weight * null[upper]
            for null in self._sorted
        )
