"""Fragility's screen: which candidate sets sink which clusters, cheaply at scale.

When a replicate keeps nearly every analysis, Fragility screens it against the baseline's
own Monte Carlo null. Under that screen, cluster-size FWE support keeps every voxel of a
component of ``{stat > u}`` (``u`` the replicate's cluster-forming threshold) with at least
``k`` voxels, ``k`` the smallest size whose p under the baseline's null of maximum cluster
sizes is below ``alpha``. An ALE replicate's statistic without the analyses of a set ``S``
is known on a cluster's voxels from the MA values there alone:
``1 - (1 - stat) / prod_{i in S} (1 - MA_i)``. If at least ``k`` face-connected voxels of
the cluster stay above a bound on ``u``, the cluster cannot vanish, and the set needs no
refit for it. The bound: removing analyses only lowers ALE's approximate-null
distribution, so a replicate's threshold is at most the baseline's (plus
:data:`THRESHOLD_MARGIN` for the histogram's rounding). An ALE subtraction's
voxel-level FWE clusters have the same kind of bound (:class:`ContrastBound`), from the
difference at their voxels.
"""

import numpy as np
from nimare.stats import null_to_p
from scipy import sparse

from nimare_stability.core import _nimare_private, names
from nimare_stability.core.clusters import vanishes
from nimare_stability.core.volumes import label_faces
from nimare_stability.engines._numba_candidates import ALE
from nimare_stability.engines.families import NULL_METHOD, kernel_family

#: In a run of at least :data:`NEAR_MIN_ANALYSES` analyses, sets removing at most this
#: share of them are screened against the baseline's own Monte Carlo null (a replicate
#: that keeps nearly every analysis nearly shares it).
NEAR_SHARE = 0.1
NEAR_MIN_ANALYSES = 100
#: Added to the baseline's cluster-forming threshold to bound any replicate's (10 bins of
#: ALE's histogram): rounding to the nearest bin in each fold can move a threshold by a bin.
THRESHOLD_MARGIN = 1e-4
#: Added to the bound on the threshold to absorb the float32 rounding of a fit's statistic.
STAT_MARGIN = 1e-6
#: p within this relative distance of alpha is not counted as below it.
_P_MARGIN = 1e-3


class SurvivalBound:
    """Which removals certainly leave each cluster significant under the baseline's null.

    Build with :meth:`build`.

    Parameters
    ----------
    per_unit : list of ndarray (n_units, n_voxels_c)
        Per cluster, each unit's sum of ``log(1 - MA)`` over its analyses at the cluster's
        voxels.
    total : list of ndarray (n_voxels_c,)
        Per cluster, the sum over every analysis.
    boxes : list of ndarray (n_voxels_c, 3)
        Per cluster, its voxels' indices within its bounding box.
    log_bound : float
        ``log(1 - (threshold bound + STAT_MARGIN))``: a voxel certainly passes a
        replicate's threshold when its log product is below this.
    min_size : int
        The fewest voxels of a component that make it significant.
    """

    def __init__(self, per_unit, total, boxes, log_bound, min_size):
        self.per_unit = per_unit
        self.total = total
        self.boxes = boxes
        self.shapes = [tuple(box.max(axis=0) + 1) for box in boxes]
        self.log_bound = log_bound
        self.min_size = min_size

    @classmethod
    def build(cls, clusters, ma_maps, rows, of_analysis, mask, threshold, min_size):
        """Prepare the bound of ALE clusters.

        Parameters
        ----------
        clusters : list of :class:`~nimare_stability.core.clusters.Cluster`
        ma_maps : scipy.sparse.csr_matrix (n_rows, n_voxels)
        rows : ndarray of int (n_analyses,)
            MA-map row of each analysis.
        of_analysis : ndarray of int (n_analyses,)
            Removal unit of each analysis.
        mask : ndarray of bool (X, Y, Z)
        threshold : float
            The baseline's cluster-forming statistic threshold.
        min_size : int
            See :func:`significant_size`.
        """
        n_units = int(of_analysis.max()) + 1
        to_units = sparse.csr_matrix(
            (np.ones(len(rows)), (of_analysis, np.arange(len(rows)))), (n_units, len(rows))
        )
        ijk = np.argwhere(mask)
        ordered = ma_maps[rows]
        per_unit, total, boxes = [], [], []
        for cluster in clusters:
            logs = ordered[:, cluster.voxels].toarray().astype(np.float64)
            np.log1p(-logs, out=logs)
            per_unit.append(np.asarray(to_units @ logs))
            total.append(logs.sum(axis=0))
            corner = ijk[cluster.voxels].min(axis=0)
            boxes.append(ijk[cluster.voxels] - corner)
        log_bound = float(np.log1p(-(threshold + THRESHOLD_MARGIN + STAT_MARGIN)))
        return cls(per_unit, total, boxes, log_bound, int(min_size))

    def survives(self, index, removed):
        """Whether cluster ``index`` certainly stays significant without the units ``removed``."""
        log_kept = self.total[index] - self.per_unit[index][list(removed)].sum(axis=0)
        above = log_kept < self.log_bound
        if np.count_nonzero(above) < self.min_size:
            return False
        volume = np.zeros(self.shapes[index], dtype=bool)
        volume[tuple(self.boxes[index][above].T)] = True
        labels, n_labels = label_faces(volume)
        return bool(n_labels) and np.bincount(labels.ravel())[1:].max() >= self.min_size


def significant_size(null_max_size, alpha, cluster_threshold=None):
    """Return the fewest voxels a cluster needs for p < ``alpha`` under ``null_max_size``.

    p of a size is NiMARE's (:func:`nimare.stats.null_to_p`, upper tail), read with a
    margin below ``alpha``. The size must reach ``cluster_threshold`` too (smaller support
    clusters are dropped). None when no size reaches p < ``alpha``.
    """
    sizes = np.arange(1, int(np.max(null_max_size)) + 2, dtype=np.float64)
    below = np.flatnonzero(null_to_p(sizes, null_max_size, tail="upper") < alpha * (1 - _P_MARGIN))
    if below.size == 0:
        return None
    return max(int(sizes[below[0]]), int(cluster_threshold or 0))


def baseline_null(estimator):
    """Return the baseline's Monte Carlo null maxima (statistic, size, mass), or None.

    Size and mass are None when only the statistic's was kept (voxel-level inference).
    """
    nulls = getattr(estimator, "null_distributions_", {})
    if names.MONTECARLO_NULLS[0] not in nulls:
        return None
    return tuple(
        np.asarray(nulls[key], dtype=np.float64) if key in nulls else None
        for key in names.MONTECARLO_NULLS
    )


def survival_bound(diagnostic, run, units, ma_maps, rows, null_max_size):
    """Return the :class:`SurvivalBound` of ``diagnostic``'s run, else None.

    Only ALE cluster-size FWE targets without ``target_threshold`` have one.
    """
    estimator = run.analyses.estimator
    level = names.montecarlo_level(diagnostic.target_image)
    if (
        kernel_family(estimator) != ALE
        or level != names.MONTECARLO_LEVELS[1]
        or diagnostic.target_threshold is not None
    ):
        return None
    min_size = significant_size(null_max_size, diagnostic.alpha, diagnostic.cluster_threshold)
    if min_size is None:
        return None
    voxel_thresh = _nimare_private.corrector_parameter(run.corrector, "voxel_thresh", 0.001)
    threshold = _nimare_private.p_to_stat(estimator, voxel_thresh, NULL_METHOD)
    return SurvivalBound.build(
        run.clusters, ma_maps, rows, units.of_analysis, run.rule.mask, threshold, min_size
    )


class Screen:
    """Judges candidate sets and says which sink which clusters.

    Sets that remove at most ``near_limit`` analyses are judged by ``near`` (against the
    baseline's null) when it is set, skipping the clusters ``bound`` shows they leave
    standing; the others by ``judge``.
    """

    def __init__(self, judge, units, clusters):
        self.judge = judge
        self.units = units
        self.clusters = clusters
        self.near = None
        self.near_limit = 0
        self.bound = None

    def sinking(self, tried):
        """Return ``{cluster: [sets of ``tried[cluster]`` that make it vanish]}``."""
        pending = {}
        for index, candidates in tried.items():
            for removed in candidates:
                near = self._is_near(removed)
                if not (near and self.bound is not None and self.bound.survives(index, removed)):
                    pending.setdefault(removed, set()).add(index)
        judged = {}
        for judge, near in ((self.judge, False), (self.near, True)):
            sets = {s: self.units.retained(list(s)) for s in pending if self._is_near(s) == near}
            if sets:
                judged.update(judge(sets))
        return {
            index: [
                s
                for s in candidates
                if index in pending.get(s, ()) and vanishes(judged[s], self.clusters[index])
            ]
            for index, candidates in tried.items()
        }

    def _is_near(self, removed):
        return self.near is not None and self.units.sizes[list(removed)].sum() <= self.near_limit


class ContrastBound:
    """Which removals certainly leave each cluster of a subtraction significant.

    Under the near screen, a replicate's voxel-level FWE p at a voxel depends only on its
    difference there and the baseline's null of maximum ``|difference|``. Without the
    analyses of a set ``S``, each group's log-sum at a cluster's voxel loses the entries of
    ``S`` in that group, so the difference there is known from the cluster's entries alone.
    A cluster certainly stays when one of its voxels keeps a difference of its sign above
    the smallest value NiMARE's ``null_to_p`` calls significant (plus a margin for the
    float32 maps).

    Build with :meth:`build`.
    """

    def __init__(self, units, per_unit, totals, signs, critical):
        self.units = units
        self.per_unit = per_unit
        self.totals = totals
        self.signs = signs
        self.critical = critical

    @classmethod
    def build(cls, clusters, maps, rows, of_analysis, null_max, alpha):
        """Prepare the bound of a subtraction's clusters, or return None.

        Parameters
        ----------
        clusters : list of :class:`~nimare_stability.core.clusters.Cluster`
        maps : :class:`~nimare_stability.engines.permutations.PooledMaps`
        rows : ndarray of int (n_analyses,)
            Pooled row of each analysis.
        of_analysis : ndarray of int (n_analyses,)
            Removal unit of each analysis.
        null_max : ndarray (n_iters,)
            The baseline's maximum ``|difference|`` per permutation.
        alpha : float
        """
        values = np.unique(null_max)
        p = null_to_p(values * (1 + STAT_MARGIN), null_max, "upper")
        passing = p < alpha * (1 - _P_MARGIN)
        if not passing.any():
            return None
        critical = values[np.argmax(passing)] * (1 + 10 * STAT_MARGIN) + STAT_MARGIN
        unit_of_row = np.full(maps.n_analyses, -1)
        unit_of_row[rows] = of_analysis
        in_group2 = np.arange(maps.n_analyses) >= maps.n_group1
        units, per_unit, totals = [], [], []
        for cluster in clusters:
            voxels = np.asarray(cluster.voxels)
            counts = maps.starts[voxels + 1] - maps.starts[voxels]
            entries = np.repeat(maps.starts[voxels] - np.cumsum(counts) + counts, counts)
            entries += np.arange(counts.sum())
            column = np.repeat(np.arange(voxels.size), counts)
            row = maps.rows[entries]
            contributing, unit = np.unique(unit_of_row[row], return_inverse=True)
            group = in_group2[row].astype(np.intp)
            shape = (2, contributing.size, voxels.size)
            flat = np.ravel_multi_index((group, unit, column), shape)
            sums = np.bincount(flat, maps.logs[entries], minlength=np.prod(shape))
            units.append(contributing)
            per_unit.append(sums.reshape(shape))
            totals.append(per_unit[-1].sum(axis=1))
        signs = [cluster.sign for cluster in clusters]
        return cls(units, per_unit, totals, signs, critical)

    def survives(self, index, removed):
        """Whether cluster ``index`` certainly stays without the units ``removed``."""
        units, removed = self.units[index], np.asarray(removed)
        at = np.searchsorted(units, removed)
        found = at < units.size
        at = at[found][units[at[found]] == removed[found]]
        logs = self.totals[index] - self.per_unit[index][:, at].sum(axis=1)
        difference = np.exp(logs[1]) - np.exp(logs[0])
        return bool(np.any(self.signs[index] * difference > self.critical))


def contrast_bound(diagnostic, run, units, engine, null_max):
    """Return the :class:`ContrastBound` of ``diagnostic``'s run on a subtraction, else None.

    Only voxel-level FWE targets without ``target_threshold`` or ``cluster_threshold``
    have one; ``engine`` is the pairwise engine (its pooled maps are read).
    """
    level = names.split_kind(diagnostic.target_image)[1].removesuffix(names.MONTECARLO)
    if (
        not level.endswith(names.MONTECARLO_LEVELS[0])
        or diagnostic.target_threshold is not None
        or diagnostic.cluster_threshold
    ):
        return None
    rows = np.array([engine.row_of[i] for i in run.analyses.ids])
    return ContrastBound.build(
        run.clusters, engine.maps, rows, units.of_analysis, null_max, diagnostic.alpha
    )
