"""``Jackknife``: NiMARE's Jackknife from MA maps cached once, by analysis or by group.

NiMARE's :class:`~nimare.diagnostics.Jackknife` refits the estimator without each analysis
and averages, over each cluster's voxels, ``1 - stat_without / stat``. For ALE, MKDADensity
and KDA the statistic is a sum (KDA), a weighted sum (MKDADensity) or a sum of
``log(1 - MA)`` (ALE) over the analyses' modeled-activation (MA) maps, so the statistic
without some analyses is the full one minus their rows: each left-out unit costs the
nonzeros of its MA rows plus one pass over the cluster voxels, not a refit. Clusters, label
maps and tables are NiMARE's own (its ``Diagnostics.transform`` runs; only the per-analysis
values come from here), so NiMARE's report and this package's robustness verdict read them
unchanged.
"""

import copy
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from nimare import diagnostics
from nimare.meta.cbma.weights import normalize_weights
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private, grouping, names
from nimare_stability.core._nimare_private.pairwise import SubtractionJackknifeHooks
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.progress import tqdm_disable
from nimare_stability.core.validation import check_bool, check_number
from nimare_stability.diagnostics.base import check_result
from nimare_stability.diagnostics.derived import derived_result
from nimare_stability.diagnostics.jackknife_pair import check_one_jackknife
from nimare_stability.diagnostics.jackknife_subtraction import SubtractionLeaveOneOut
from nimare_stability.engines import _numba_candidates as nc
from nimare_stability.engines.families import kernel_family
from nimare_stability.engines.kernels import collect_ma_maps
from nimare_stability.engines.pairwise import PairwiseEngine


class Jackknife(_nimare_private.JackknifeHooks, SubtractionJackknifeHooks, diagnostics.Jackknife):
    """NiMARE's Jackknife, from MA maps cached once; optionally leaving out whole groups.

    For ALE, MKDADensity and KDA (with their own kernels) every left-out unit's statistic
    is computed from MA maps built once: the tables and maps equal those of
    :class:`nimare.diagnostics.Jackknife` (to float32 precision) at a fraction of the cost.
    So is an ``ALESubtraction``'s (ALE kernel) statistic without each analysis, from both
    groups' MA maps pooled once, instead of a refit with its permutations (equal to
    NiMARE's). Any other estimator (IBMA, MKDAChi2, other kernels) runs NiMARE's own.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_image : :obj:`str`, default="z_desc-size_level-cluster_corr-FWE_method-montecarlo"
        Map whose clusters are characterised.
    voxel_thresh : :obj:`float`, optional
        NiMARE's deprecated alias of ``target_threshold``.
    cluster_threshold : :obj:`int`, optional
        Drop clusters smaller than this many voxels.
    display_second_group : :obj:`bool`, default=False
        Pairwise estimators: also jackknife group 2 (NiMARE's Jackknife).
    n_cores : :obj:`int`, default=1
        Cores of NiMARE's refits (other estimators); <= 0 uses every core. The cached path
        runs in one process: a left-out unit costs about a millisecond.
    target_threshold : :obj:`float`, optional
        Threshold of ``target_image`` that defines the clusters (NiMARE's workflows pass
        their ``voxel_thresh``, 1.65).
    groups : :obj:`str` or :obj:`dict`, optional
        Leave out groups of analyses instead of single analyses: ``"study"`` (the Studyset
        study of each analysis), a metadata or annotation column, or a mapping from analysis
        id to label. Kernel estimators only.
    progress : :obj:`bool`, default=True
        Show a progress bar over the left-out units (cached path).

    Notes
    -----
    Outputs as NiMARE's Jackknife, with ``T = target_image``: table ``T_tab-clust``,
    label maps ``label<T without its kind>_tail-<tail>`` and the contribution table
    ``T_diag-Jackknife_tab-counts_tail-<tail>`` (one ``_tab-counts`` table for
    two-tailed single-group maps): one column per cluster (``"PositiveTail 1"``), one row per
    left-out unit. With ``groups``, a row is a group: its ``id`` column holds the group
    label (as a string), so NiMARE's ``run_reports`` and
    :func:`~nimare_stability.robustness_table` read it unchanged. Groups appear in the order
    of their first analysis in ``estimator.inputs_["id"]``.

    Where the statistic is 0 (NiMARE divides 0 by 0) a voxel's value is 1, as NiMARE's.
    MKDADensity renormalises its weights over the retained analyses, imputed weights
    (``StudyWeights(on_missing="impute")``) included, exactly as a refit does.
    """

    def __init__(
        self,
        target_image=names.DEFAULT_TARGET,
        voxel_thresh=None,
        cluster_threshold=None,
        display_second_group=False,
        n_cores=1,
        target_threshold=None,
        groups=None,
        progress=True,
    ):
        self.target_image = target_image
        self.voxel_thresh = voxel_thresh
        self.cluster_threshold = cluster_threshold
        self.display_second_group = display_second_group
        self.n_cores = n_cores
        self.target_threshold = target_threshold
        self.groups = groups
        self.progress = progress

    #: The ``_diag-<name>`` of its outputs, as NiMARE's Jackknife names them.
    name = names.JACKKNIFE
    #: The cached leave-one-out of one transform; set only on the private copy running it.
    _loo = _subtraction = None

    def transform(self, result):
        """Characterise each analysis's (or group's) contribution to each cluster.

        Parameters
        ----------
        result : :obj:`~nimare.results.MetaResult`
            A fitted (and corrected) result. Never modified.

        Returns
        -------
        :obj:`~nimare.results.MetaResult`
            A new result holding ``result``'s maps and tables plus the Jackknife's.

        Raises
        ------
        ValueError
            When ``result`` holds NiMARE's Jackknife on the same target: both write the
            same tables.
        """
        check_result(result)
        self._check_params()
        same_target = [
            d for d in result.diagnostics if getattr(d, "target_image", None) == self.target_image
        ]
        check_one_jackknife([*same_target, self])
        # NiMARE's transform reads target_threshold and n_cores resolved and records the
        # diagnostic it ran on: a private copy runs it, and ``self`` is what the result keeps.
        worker = copy.copy(self)
        worker.target_threshold = self._threshold()
        worker.n_cores = _nimare_private.check_n_cores(self.n_cores)
        estimator = result.estimator
        if kernel_family(estimator) is not None and names.STAT in result.maps:
            labels, units = self._units(estimator)
            worker._loo = _KernelLeaveOneOut(estimator, result.maps[names.STAT], labels, units)
            worker.n_cores = 1
        elif names.SUBTRACTION_STAT in result.maps and self.groups is None:
            if PairwiseEngine.unsupported(estimator, None) is None:
                worker._subtraction, worker.n_cores = SubtractionLeaveOneOut(estimator), 1
        elif self.groups is not None:
            raise ValueError(
                f"groups={grouping.describe(self.groups)} needs ALE, MKDADensity or KDA with "
                f"their own kernels and a 'stat' map; got {type(estimator).__name__}. "
                "Accepted: groups=None (NiMARE's leave-one-analysis-out) for this estimator."
            )
        # derived_result records ``self``; NiMARE's transform runs as the worker.
        new = _nimare_private.nimare_jackknife_transform(worker, derived_result(result, self))
        if worker._loo is not None and worker._loo.table_tail is not None:
            tail = worker._loo.table_tail
            key = names.counts_key(self.target_image, self.name, names.tail_of_label(tail.label))
            new.tables[key] = worker._loo.table(tail)
        return new

    def _leave_out(self, tails):
        """Compute every left-out unit's values for the clusters of ``tails`` (cached path).

        NiMARE's transform asks once, with the clusters found, before its per-analysis loop;
        the rows become the left-out units. Returns their labels (None: NiMARE refits).
        """
        if self._loo is None:
            return None
        self._loo.compute(tails, self.progress)
        return self._loo.labels

    def _left_out_values(self, label):
        """Return unit ``label``'s values, one array per tail (None: NiMARE refits)."""
        return None if self._loo is None else self._loo.values[label]

    def _left_out_statistic(self, analysis_id, group):
        """Return a subtraction's statistic without one analysis (None: NiMARE refits)."""
        subtraction = self._subtraction  # the analysis's ``group`` is that of its id
        return None if subtraction is None else subtraction.statistic(analysis_id)

    def _only_tail(self, tail):
        """One tail (every kernel CBMA target NiMARE writes): :meth:`transform` writes it."""
        self._loo.table_tail = tail

    def _units(self, estimator):
        """Return (label, positions into ``inputs_["id"]``) of each left-out unit."""
        analyses = AnalysisSet(estimator)
        labels = (
            analyses.ids
            if self.groups is None
            else grouping.analysis_labels(self.groups, "groups", analyses)
        )
        labels = [str(label) for label in labels]
        unit_names = list(dict.fromkeys(labels))
        if len(unit_names) < 2:
            what = "analysis"
            if self.groups is not None:
                what = f"group for groups={grouping.describe(self.groups)}"
            raise ValueError(
                f"The result has only {len(unit_names)} {what}; a jackknife leaves one out and "
                "refits on the others. Accepted: at least 2."
            )
        labels = np.asarray(labels, dtype=object)
        return unit_names, [np.flatnonzero(labels == name) for name in unit_names]

    def _threshold(self):
        """``target_threshold``, or NiMARE's deprecated ``voxel_thresh`` (with its warning)."""
        if self.voxel_thresh is None:
            return self.target_threshold
        if self.target_threshold is not None:
            raise ValueError(
                f"target_threshold={self.target_threshold!r} and voxel_thresh="
                f"{self.voxel_thresh!r} are both set; accepted: only target_threshold "
                "(voxel_thresh is NiMARE's deprecated alias)."
            )
        warnings.warn(
            "voxel_thresh is deprecated (NiMARE); use target_threshold.",
            FutureWarning,
            stacklevel=3,
        )
        return self.voxel_thresh

    def _check_params(self):
        for name in ("target_threshold", "voxel_thresh"):
            check_number(name, getattr(self, name), low=0)
        check_number("cluster_threshold", self.cluster_threshold, low=0, integer=True)
        check_number("n_cores", self.n_cores, integer=True, optional=False)
        check_bool("display_second_group", self.display_second_group)
        check_bool("progress", self.progress)
        if self.groups is not None and not isinstance(self.groups, (str, Mapping)):
            raise TypeError(
                f"groups={self.groups!r} is not accepted; accepted: None, 'study', a metadata "
                "or annotation column name, or a mapping from analysis id to label."
            )


class _KernelLeaveOneOut:
    """Leave-one-unit-out statistic of a kernel CBMA estimator at the clusters' voxels.

    Parameters
    ----------
    estimator : fitted ALE, MKDADensity or KDA
        Never modified.
    stat : ndarray, shape (n_voxels,)
        The result's statistic map: NiMARE's Jackknife divides by it.
    labels : list of str
        Label of each left-out unit (a table row).
    units : list of ndarray of int
        Positions into ``estimator.inputs_["id"]`` of each unit's analyses.
    """

    def __init__(self, estimator, stat, labels, units):
        self.estimator = estimator
        self.stat = np.asarray(stat, dtype=np.float64)
        self.labels = labels
        self.units = units
        #: label -> one float32 array of cluster means per tail.
        self.values = {}
        #: The one tail whose table :meth:`table` writes, else None.
        self.table_tail = None

    def compute(self, tails, progress):
        """Fill :attr:`values` for the clusters of each tail.

        ``tails``: one :class:`~nimare_stability.core._nimare_private.TailClusters` each.
        """
        if any(tail.voxels is None for tail in tails):
            raise ValueError(
                f"{type(self.estimator).__name__}'s masker does not map clusters to "
                "masked voxels; accepted: a NiftiMasker (NiMARE's default)."
            )
        clusters = [tail.voxels for tail in tails]
        voxels = np.unique(np.concatenate([i for tail in clusters for i in tail]))
        means = [_ClusterMeans(tail, voxels) for tail in clusters]
        estimator, ma_maps, kernel_ids, rows = collect_ma_maps(self.estimator)
        statistic = _leave_out(estimator, ma_maps[:, voxels].tocsr(), kernel_ids, rows)
        stat = self.stat[voxels]
        units = zip(self.labels, self.units)  # the bar wraps both: it then reaches 100%
        for label, unit in tqdm(
            units, total=len(self.units), desc="Jackknife", disable=tqdm_disable(progress)
        ):
            with np.errstate(divide="ignore", invalid="ignore"):
                values = 1.0 - np.nan_to_num(statistic.without(rows[unit]) / stat)
            self.values[label] = [tail(values) for tail in means]

    def table(self, tail):
        """NiMARE's contribution table of one tail: ``id``, one column per cluster."""
        which = names.tail_of_label(tail.label)
        columns = [names.cluster_column(which, int(c_id)) for c_id in tail.cluster_ids]
        values = np.array([self.values[label][0] for label in self.labels], dtype=np.float64)
        index = pd.Index(self.labels, name="id")
        return pd.DataFrame(values.astype(object), index=index, columns=columns).reset_index()


class _ClusterMeans:
    """Mean of per-voxel values over each cluster of one tail, as float32 (NiMARE's dtype)."""

    def __init__(self, cluster_indices, voxels):
        self.sizes = np.array([len(i) for i in cluster_indices], dtype=np.float64)
        self.positions = np.searchsorted(voxels, np.concatenate(cluster_indices))
        self.cluster = np.repeat(np.arange(len(cluster_indices)), self.sizes.astype(np.intp))

    def __call__(self, values):
        sums = np.bincount(self.cluster, weights=values[self.positions], minlength=self.sizes.size)
        return (sums / self.sizes).astype(np.float32)


def _column_sums(ma_maps, rows):
    """Sum of ``ma_maps``' rows ``rows`` (CSR), dense, float64."""
    part = ma_maps[rows]
    return np.bincount(part.indices, weights=part.data, minlength=ma_maps.shape[1])


def _leave_out(estimator, ma_maps, kernel_ids, rows):
    """Return ``estimator``'s statistic on ``ma_maps`` (kernel row order), computable without rows.

    The returned object's ``without(rows)`` is the statistic of every other row.
    """
    family = kernel_family(estimator)
    if family == nc.ALE:
        return _ALE(ma_maps)
    if family == nc.MKDA:
        return _Weighted(estimator, ma_maps, kernel_ids, rows)
    return _Sum(ma_maps)


class _Sum:
    """KDA: the sum of the MA maps."""

    def __init__(self, ma_maps):
        self.ma_maps = ma_maps.astype(np.float64)
        self.total = _column_sums(self.ma_maps, slice(None))

    def without(self, rows):
        """Statistic of every row but ``rows``."""
        return self.total - _column_sums(self.ma_maps, rows)


class _ALE:
    """ALE: ``1 - prod(1 - MA)``, from sums of ``log1p(-MA)``; MA = 1 counted apart."""

    def __init__(self, ma_maps):
        ma_maps = ma_maps.astype(np.float64)
        saturated = ma_maps.data >= 1
        self.logs, self.saturated = ma_maps.copy(), ma_maps.copy()
        self.logs.data = np.log1p(-np.where(saturated, 0.0, ma_maps.data))
        self.saturated.data = saturated.astype(np.float64)
        self.total = _column_sums(self.logs, slice(None))
        self.total_saturated = _column_sums(self.saturated, slice(None))

    def without(self, rows):
        """Statistic of every row but ``rows``."""
        logs = self.total - _column_sums(self.logs, rows)
        saturated = self.total_saturated - _column_sums(self.saturated, rows)
        return np.where(saturated > 0.5, 1.0, -np.expm1(logs))


class _Weighted:
    """MKDADensity: ``sum(w * MA)``, weights renormalised over the retained rows.

    A refit normalises the raw weights of the analyses it keeps
    (:func:`~nimare.meta.cbma.weights.normalize_weights`); with
    ``StudyWeights(on_missing="impute")`` the imputed weights are the mean of the kept
    ones, recomputed here by the estimator's own weighting (deep-copied) as a refit does.
    """

    def __init__(self, estimator, ma_maps, kernel_ids, rows):
        self.ma_maps = ma_maps.astype(np.float64)
        self.kernel_ids = kernel_ids
        self.dataset = estimator.dataset
        raw = _nimare_private.raw_weights(estimator)
        self.raw = np.ones(kernel_ids.size)
        if raw is not None:
            self.raw[rows] = raw  # raw weights follow inputs_["id"]; MA rows the kernel's
        weighting = estimator.weighting
        self.weighting = weighting if getattr(weighting, "on_missing", None) == "impute" else None
        self.total = self.ma_maps.T @ self.raw

    def without(self, rows):
        """Statistic of every row but ``rows``."""
        kept = np.ones(self.raw.size, dtype=bool)
        kept[rows] = False
        before = raw = self.raw[kept]
        if self.weighting is not None:
            raw = copy.deepcopy(self.weighting).raw_weights(self.dataset, self.kernel_ids[kept])
            raw = raw.to_numpy(dtype=np.float64)
        # normalize_weights returns raw * scale (or ones when all raw weights are equal).
        scale = normalize_weights(raw, raw.size)[0] / raw[0]
        weighted = self.total - self.ma_maps[rows].T @ self.raw[rows]
        changed = np.flatnonzero(raw != before)  # imputed weights, recomputed on the kept
        if changed.size:
            kept_rows = np.flatnonzero(kept)[changed]
            weighted += self.ma_maps[kept_rows].T @ (raw[changed] - before[changed])
        return scale * weighted
