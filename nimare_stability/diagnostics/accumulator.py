"""Stream replicate supports into counts, without holding every replicate map."""

import numpy as np


class StabilityAccumulator:
    """Running counts over replicates.

    Parameters
    ----------
    baseline : :class:`~nimare_stability.core.support.Support`
    clusters : list of :class:`~nimare_stability.core.clusters.Cluster`
    n_replicates : int
        Room for this many replicates, indices 0 to ``n_replicates - 1`` (see
        :meth:`extend`).
    """

    def __init__(self, baseline, clusters, n_replicates):
        self.baseline = baseline
        self.clusters = clusters
        self.positive = np.zeros(baseline.signs.shape, dtype=np.int32)
        self.negative = np.zeros(baseline.signs.shape, dtype=np.int32)
        self.detected = np.zeros((0, len(clusters)), dtype=bool)
        self.share = np.zeros((0, len(clusters)))
        self.n_support = np.zeros(0, dtype=np.int64)
        self.dice = np.zeros(0)
        self.n_clusters = np.zeros(0, dtype=np.int64)
        self.n_done = 0
        self.extend(n_replicates)

    def extend(self, n_replicates):
        """Make room for replicates up to index ``n_replicates - 1``."""
        extra = n_replicates - len(self.dice)
        for name in ("detected", "share", "n_support", "dice", "n_clusters"):
            values = getattr(self, name)
            padding = np.zeros((max(extra, 0), *values.shape[1:]), dtype=values.dtype)
            setattr(self, name, np.concatenate([values, padding]))

    def add(self, index, support):
        """Count replicate ``index``'s :class:`~nimare_stability.core.support.Support`."""
        signs = support.signs
        self.positive += signs == 1
        self.negative += signs == -1
        for column, cluster in enumerate(self.clusters):
            held = signs[cluster.voxels] == cluster.sign
            self.detected[index, column] = held.any()
            self.share[index, column] = held.mean()
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

    def precision(self, n_possible=None):
        """Return the largest upper bound on a cluster's standard error (see below).

        Per cluster, the replicates' shares of its voxels held (whose mean is the cluster's
        mean stability) and their detections (0 or 1) each go through
        :func:`standard_error_bound`; the largest bound wins. 0 without clusters.
        """
        n = self.n_done
        if not self.clusters or n == 0:
            return 0.0
        bounds = [
            standard_error_bound(values, n_possible)
            for values in (self.share[:n], self.detected[:n].astype(np.float64))
        ]
        return float(np.max(bounds))


#: One-sided normal quantile of the upper bound on each variance (95%).
UPPER_Z = 1.645


def standard_error_bound(values, n_possible=None):
    """Return an upper 95% bound on the standard error of each column's mean.

    ``values`` (replicates x columns, each in [0, 1]) are augmented with two
    pseudo-replicates at 0 and two at 1 (Agresti and Coull's adjustment, so that replicates
    that all agree do not claim a standard error of 0). Their variance ``v`` is raised to
    its one-sided 95% upper bound ``v + 1.645 sqrt((m4 - v**2) / n)`` (``m4`` the fourth
    central moment, ``n = R + 4``): a run that stops when the plain estimate first dips
    below ``tol`` ends with the true error above it in about one run in five (simulated at
    a detection rate of 0.9). The standard error is
    ``sqrt(bound / n * (M - R) / (M - 1))``, ``M`` the number of possible subsets
    (``n_possible``; no finite-population factor when None).
    """
    n_replicates = values.shape[0]
    pseudo = np.repeat([[0.0], [1.0]], 2, axis=0)
    augmented = np.concatenate([values, np.broadcast_to(pseudo, (4, values.shape[1]))])
    n = augmented.shape[0]
    deviations = augmented - augmented.mean(axis=0)
    variance = np.mean(deviations**2, axis=0)
    fourth = np.mean(deviations**4, axis=0)
    bound = variance + UPPER_Z * np.sqrt(np.maximum(fourth - variance**2, 0) / n)
    squared = bound / n
    if n_possible is not None and n_possible > 1:
        squared = squared * max(n_possible - n_replicates, 0) / (n_possible - 1)
    return np.sqrt(squared)


def dice(signs, reference):
    """Dice overlap of two signed supports (a voxel matches when both signs agree)."""
    total = np.count_nonzero(signs) + np.count_nonzero(reference)
    if total == 0:
        return 1.0
    return 2.0 * np.count_nonzero((signs == reference) & (signs != 0)) / total
