"""Stream replicate supports into counts, without holding every replicate map."""

import numpy as np


class StabilityAccumulator:
    """Running counts over replicates.

    Parameters
    ----------
    baseline : :class:`~nimare_stability.support.Support`
    clusters : list of :class:`~nimare_stability.clusters.Cluster`
    n_replicates : int
    """

    def __init__(self, baseline, clusters, n_replicates):
        self.baseline = baseline
        self.clusters = clusters
        self.positive = np.zeros(baseline.signs.shape, dtype=np.int32)
        self.negative = np.zeros(baseline.signs.shape, dtype=np.int32)
        self.detected = np.zeros((n_replicates, len(clusters)), dtype=bool)
        self.n_support = np.zeros(n_replicates, dtype=np.int64)
        self.dice = np.zeros(n_replicates)
        self.n_clusters = np.zeros(n_replicates, dtype=np.int64)
        self.n_done = 0

    def add(self, index, support):
        """Count replicate ``index``'s :class:`~nimare_stability.support.Support`."""
        signs = support.signs
        self.positive += signs == 1
        self.negative += signs == -1
        for column, cluster in enumerate(self.clusters):
            self.detected[index, column] = np.any(signs[cluster.voxels] == cluster.sign)
        self.n_support[index] = np.count_nonzero(signs)
        self.dice[index] = dice(signs, self.baseline.signs)
        self.n_clusters[index] = support.n_clusters
        self.n_done += 1

    def stability(self):
        """Return the signed stability map: the fraction of replicates holding each voxel.

        A voxel's sign is the tail that holds it more often (negative only in two-tailed
        maps); its magnitude is that tail's fraction.
        """
        positive = self.positive / self.n_done
        negative = self.negative / self.n_done
        return np.where(positive >= negative, positive, -negative)


def dice(signs, reference):
    """Dice overlap of two signed supports (a voxel matches when both signs agree)."""
    total = np.count_nonzero(signs) + np.count_nonzero(reference)
    if total == 0:
        return 1.0
    return 2.0 * np.count_nonzero((signs == reference) & (signs != 0)) / total
