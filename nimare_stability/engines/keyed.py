"""Judge explicit replicates: given sets of retained analyses, whether each cluster holds.

Fragility and FailSafeN search over replicates they choose one batch at a time (a batch of
removals, a batch of added null analyses); each batch goes through one engine's ``run``, so
it is refit and re-corrected exactly as ResampledStability's replicates are.
"""

import numpy as np

from nimare_stability.resampling.schedule import Schedule


def vanishes(support, cluster):
    """Whether none of ``cluster``'s voxels is in ``support`` with the cluster's sign."""
    return not np.any(support.signs[cluster.voxels] == cluster.sign)


def cluster_contributions(ma_maps, rows, clusters):
    """Return the summed modeled activation of each analysis inside each cluster.

    Parameters
    ----------
    ma_maps : scipy.sparse.csr_matrix, shape (n_rows, n_voxels)
    rows : ndarray of int, shape (n_analyses,)
        MA-map row of each analysis (see
        :func:`~nimare_stability.engines.kernels.collect_ma_maps`).
    clusters : list of :class:`~nimare_stability.core.clusters.Cluster`

    Returns
    -------
    ndarray of float, shape (n_analyses, n_clusters)
    """
    out = np.zeros((len(rows), len(clusters)))
    for column, cluster in enumerate(clusters):
        out[:, column] = np.asarray(ma_maps[:, cluster.voxels].sum(axis=1)).ravel()[rows]
    return out


class Judge:
    """Judge batches of replicates with one engine.

    Parameters
    ----------
    engine : :class:`~nimare_stability.engines.Engine`
        An engine instance (its inputs fix the estimator, corrector and support rule).
    seed_of : callable
        Maps a replicate's key (a tuple of ints naming it) to its int seed.
    n_cores : int
    progress : bool
    """

    def __init__(self, engine, seed_of, n_cores=1, progress=False):
        self.engine = engine
        self.seed_of = seed_of
        self.n_cores = n_cores
        self.progress = progress

    def __call__(self, replicates):
        """Return the :class:`~nimare_stability.core.support.Support` of each replicate.

        Parameters
        ----------
        replicates : dict
            Key (tuple of ints) -> sorted int array of retained positions.

        Returns
        -------
        dict
            Key -> Support.
        """
        keys = list(replicates)
        if not keys:
            return {}
        ids = self.engine.inputs.analyses.ids
        schedule = Schedule(None, ids, None, None, [replicates[key] for key in keys])
        seeds = [self.seed_of(key) for key in keys]
        judged = dict(self.engine.run(schedule, seeds, self.n_cores, self.progress))
        return {key: judged[index] for index, key in enumerate(keys)}
