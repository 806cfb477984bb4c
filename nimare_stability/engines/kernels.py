"""Replicate statistics of a kernel CBMA estimator from MA maps computed once.

A replicate keeps some analyses: sorted integer positions ("retained") into
``estimator.inputs_["id"]``. Its summary statistic, approximate-null p and z values and
cluster-forming threshold equal those of
``copy.deepcopy(estimator).fit(studyset.slice(ids[retained]))``: they come from the
estimator's own methods, run on a shallow copy that holds only the retained rows of the
sparse modeled-activation (MA) maps. ALE's histograms are folded by
:class:`~nimare_stability.engines.ale_null.ALENull` (NiMARE's arithmetic, compiled once for
every replicate) and its statistic maps summed by
:class:`~nimare_stability.engines.ale_sums.LeadingSums`; MKDADensity's and KDA's by the
estimator.
"""

import copy
import functools

import numpy as np
from nimare.meta.cbma.weights import normalize_weights
from nimare.results import MetaResult
from scipy import sparse

from nimare_stability.core import _nimare_private as private
from nimare_stability.core import names
from nimare_stability.core.volumes import mask_array
from nimare_stability.engines import memory
from nimare_stability.engines._numba_candidates import ALE
from nimare_stability.engines.ale_null import ALENull
from nimare_stability.engines.ale_sums import LeadingSums
from nimare_stability.engines.families import NULL_METHOD as _NULL_METHOD
from nimare_stability.engines.families import kernel_family, unsupported_estimator

_HISTOGRAMS = ("replicate", "full")
#: Analyses whose MA maps NiMARE's kernel computes per call (see :func:`collect_ma_maps`).
MA_CHUNK = 256


def collect_ma_maps(estimator):
    """Compute the MA maps of a fitted CBMA estimator's analyses, one sparse row each.

    NiMARE's kernel builds them :data:`MA_CHUNK` analyses at a time (built at once, its
    assembly holds about twice what it returns), stacked into one matrix.

    Parameters
    ----------
    estimator : fitted single-group CBMA estimator
        Never modified: a deep copy computes the maps.

    Returns
    -------
    estimator : the deep copy
    ma_maps : scipy.sparse.csr_matrix, shape (n_analyses, n_voxels)
        In the kernel's row order (sorted analysis ids).
    kernel_ids : ndarray of str
        The id of each row.
    rows : ndarray of int
        Row of each ``estimator.inputs_["id"]``.
    """
    estimator = copy.deepcopy(estimator)
    estimator.inputs_.pop("ma_maps", None)  # rebuilt from the coordinates, as before
    coordinates = estimator.inputs_["coordinates"]
    focus_ids = coordinates["id"].to_numpy().astype(str)
    kernel_ids = np.unique(focus_ids)
    ma_maps = _chunked_ma_maps(estimator, coordinates, np.searchsorted(kernel_ids, focus_ids))
    memory.release_freed()
    ids = np.asarray(estimator.inputs_["id"]).astype(str)
    rows = np.searchsorted(kernel_ids, ids).clip(max=kernel_ids.size - 1)
    if ma_maps.shape[0] != kernel_ids.size or not np.array_equal(kernel_ids[rows], ids):
        raise ValueError(
            "The kernel's MA-map rows do not match estimator.inputs_['id'] one to one; "
            "accepted: every fitted analysis has at least one coordinate."
        )
    return estimator, ma_maps, kernel_ids, rows


def _chunked_ma_maps(estimator, coordinates, row_of_focus):
    """MA maps of the foci's analyses (``row_of_focus``: each focus's row), in row order."""
    chunks = []
    for first in range(0, int(row_of_focus.max()) + 1, MA_CHUNK):
        part = copy.copy(estimator)
        part.inputs_ = {
            "coordinates": coordinates[(row_of_focus >= first) & (row_of_focus < first + MA_CHUNK)]
        }
        chunks.append(sparse.csr_matrix(private.collect_ma_maps(part)))
        memory.release_freed()
    return _stacked(chunks)


def _stacked(chunks):
    """Stack csr matrices ``chunks`` by rows, emptying the list: each is freed once copied.

    The stacked arrays' pages are written chunk by chunk, so the peak is the result plus
    one chunk (``scipy.sparse.vstack`` holds every chunk and the result at once).
    """
    n_rows, nnz = sum(chunk.shape[0] for chunk in chunks), sum(chunk.nnz for chunk in chunks)
    n_voxels = chunks[0].shape[1]
    data = np.empty(nnz, np.result_type(*(chunk.data for chunk in chunks)))
    indices = np.empty(nnz, np.int32)
    indptr = np.zeros(n_rows + 1, np.int64)
    row = used = 0
    while chunks:
        chunk = chunks.pop(0)
        data[used : used + chunk.nnz] = chunk.data
        indices[used : used + chunk.nnz] = chunk.indices
        indptr[row + 1 : row + 1 + chunk.shape[0]] = used + chunk.indptr[1:]
        row, used = row + chunk.shape[0], used + chunk.nnz
        del chunk
    return sparse.csr_matrix((data, indices, indptr), (n_rows, n_voxels))


class _Replicate:
    """A shallow estimator copy prepared for one subset, with its MA rows and statistic."""

    def __init__(self, estimator, ma_maps, rows, ale_null):
        self.estimator = estimator
        self.ma_maps = ma_maps
        self.rows = rows
        self._ale_null = ale_null
        self._has_null = False

    @functools.cached_property
    def stat(self):
        """The subset's summary statistic map (computed on first use)."""
        return private.summary_statistic(self.estimator, self.ma_maps)

    def null(self):
        """Return the estimator copy, its approximate null histogram built on first use."""
        if self._ale_null is None:
            return private.null_histogram(self.estimator, self.ma_maps)
        if not self._has_null:
            bins, weights, _ = self._ale_null.histogram(self.rows)
            private.set_null_histogram(self.estimator, bins, weights)
            self._has_null = True
        return self.estimator


class KernelReplicates:
    """Fast replicates of a fitted ALE, MKDADensity or KDA with an approximate null.

    Build with :meth:`from_estimator`. Each analysis's MA map is computed once, by the
    estimator's own kernel, and kept as a sparse matrix. The last replicate's null
    histogram is cached, so call :meth:`stat`, :meth:`p_z` and :meth:`stat_threshold` for
    one replicate before moving to the next. Not thread-safe.

    Attributes
    ----------
    ids : ndarray of str, shape (n_analyses,)
        ``estimator.inputs_["id"]``: what ``retained`` indexes.
    ma_maps : scipy.sparse.csr_matrix, shape (n_analyses, n_voxels)
        MA maps in the kernel's row order (sorted analysis ids).
    mask : ndarray of bool, shape (nx, ny, nz)
        The estimator's mask; masked 1D maps are its True voxels in C order.
    """

    def __init__(self, estimator, ma_maps, kernel_ids, rows):
        self._estimator = estimator
        self.ma_maps = ma_maps
        self._kernel_ids = kernel_ids
        self._rows = rows
        self.ids = kernel_ids[rows]
        self.mask = mask_array(estimator.masker)
        self._cached = (None, None)
        self._full = None
        self._ale_null = self._ale_sums = None
        if kernel_family(estimator) == ALE:
            self._ale_null = ALENull(estimator, ma_maps)
            self._ale_sums = LeadingSums(ma_maps)

    @classmethod
    def from_estimator(cls, estimator):
        """Cache the MA maps of a fitted estimator (never modified: a deep copy is used).

        Raises
        ------
        ValueError
            When the estimator is not supported
            (:func:`~nimare_stability.engines.families.unsupported_estimator`) or not fitted.
        """
        reason = unsupported_estimator(estimator)
        if reason is not None:
            raise ValueError(f"The kernel engine does not support {reason}.")
        if "id" not in getattr(estimator, "inputs_", {}):
            raise ValueError(
                f"estimator={type(estimator).__name__} is not fitted; accepted: an estimator "
                "after estimator.fit(studyset)."
            )
        estimator, ma_maps, kernel_ids, rows = collect_ma_maps(estimator)
        return cls(estimator, ma_maps, kernel_ids, rows)

    def stat(self, retained):
        """Summary statistic map of a replicate.

        Parameters
        ----------
        retained : array-like of int
            Positions into :attr:`ids` of the analyses the replicate keeps.

        Returns
        -------
        ndarray of float64, shape (n_voxels,)
            The ``"stat"`` map of a NiMARE fit on those analyses (ALE's from
            :class:`~nimare_stability.engines.ale_sums.LeadingSums`, in NiMARE's arithmetic).
        """
        if self._ale_sums is not None:
            rows = np.sort(self._rows[self._check_retained(retained)])
            return self._ale_sums.stat(rows).astype(np.float64)
        return self._replicate(retained).stat.astype(np.float64)

    def p_z(self, retained, stat=None, histogram="replicate"):
        """Approximate-null p and z maps of a replicate.

        Parameters
        ----------
        retained : array-like of int
        stat : ndarray, optional
            The replicate's :meth:`stat`; computed when omitted.
        histogram : {"replicate", "full"}, default="replicate"
            Null histogram: the replicate's own (as a NiMARE fit and JALE) or the full
            data's (NiMARE 0.22's ``ResampledStability`` shortcut).

        Returns
        -------
        p, z : ndarray of float64, shape (n_voxels,)
            One-tailed, as NiMARE's ``"p"`` and ``"z"`` maps.
        """
        replicate = self._replicate(retained)
        stat = replicate.stat if stat is None else np.asarray(stat, replicate.stat.dtype)
        return private.stat_to_p(self._null(replicate, histogram), stat, _NULL_METHOD)

    def stat_threshold(self, retained, p_threshold, histogram="replicate"):
        """Statistic value NiMARE's Monte Carlo FWE correction clusters above.

        ``correct_fwe_montecarlo(voxel_thresh=p_threshold)`` forms clusters from voxels whose
        statistic exceeds this value (read from the approximate null histogram).
        """
        return self.stat_thresholds([retained], p_threshold, histogram)[0]

    def stat_thresholds(self, schedule, p_threshold, histogram="replicate", n_cores=1):
        """:meth:`stat_threshold` of every replicate in ``schedule``.

        ALE's thresholds come from histograms folded in ``n_cores`` threads; the others'
        from each replicate's estimator copy, one by one. Results do not depend on
        ``n_cores``.
        """
        self._check_histogram(histogram)
        if self._ale_null is None:
            return [
                private.p_to_stat(
                    self._null(self._replicate(kept), histogram), p_threshold, _NULL_METHOD
                )
                for kept in schedule
            ]
        every = np.arange(self._kernel_ids.size)
        subsets = [
            every if histogram == "full" else np.sort(self._rows[self._check_retained(kept)])
            for kept in schedule
        ]
        return self._ale_null.thresholds(subsets, p_threshold, n_cores)

    def weights(self, retained):
        """Return the analysis weights of a replicate's statistic.

        In :attr:`ids` order, 0 where left out; None for estimators without weights (ALE,
        KDA). ALE's need no replicate prepared (a copy of its MA rows).
        """
        if self._ale_null is not None:
            return None
        replicate = self._replicate(retained)
        weight_vec = private.fitted_weights(replicate.estimator)
        if weight_vec is None:
            return None
        retained = self._check_retained(retained)
        weights = np.zeros(self.ids.size)
        # The weights follow the replicate's MA rows, i.e. its kernel rows in sorted order.
        weights[retained[np.argsort(self._rows[retained])]] = np.ravel(weight_vec)
        return weights

    def result(self, retained, histogram="replicate"):
        """Return a :class:`~nimare.results.MetaResult` with the replicate's uncorrected maps.

        Holds ``stat``, ``p``, ``z`` and ``logp`` as a NiMARE fit does, so a deep copy of an
        ``FDRCorrector`` or ``FWECorrector(method="bonferroni")`` corrects it as it would the
        refit. Its estimator carries no data: Monte Carlo correction is not possible on it
        (see :func:`nimare_stability.engines.corrected.montecarlo_maps`).
        """
        stat = self._replicate(retained).stat
        p, z = self.p_z(retained, stat, histogram)
        shell = private.dataless_copy(self._null(self._replicate(retained), histogram))
        logp = private.nlogp_to_logp(np.log(p))
        maps = {names.STAT: stat, names.P: p, names.Z: z, names.LOGP: logp}
        return MetaResult(shell, mask=self._estimator.masker, maps=maps)

    def _replicate(self, retained):
        retained = self._check_retained(retained)
        key = retained.tobytes()
        if self._cached[0] != key:
            self._cached = (key, self._prepare(np.sort(self._rows[retained])))
        return self._cached[1]

    def _check_histogram(self, histogram):
        if histogram not in _HISTOGRAMS:
            raise ValueError(
                f"histogram={histogram!r} is not accepted; accepted: 'replicate', 'full'."
            )

    def _null(self, replicate, histogram):
        self._check_histogram(histogram)
        if histogram == "replicate":
            return replicate.null()
        if self._full is None:
            self._full = self._prepare(np.arange(self._kernel_ids.size))
        return self._full.null()

    def _prepare(self, rows):
        """Shallow estimator copy fit to the analyses in MA rows ``rows`` (sorted)."""
        ids = self._kernel_ids[rows]
        ma_maps = self.ma_maps[rows]
        coordinates = self._estimator.inputs_["coordinates"]
        coordinates = coordinates[coordinates["id"].isin(ids)]
        estimator = private.subset_copy(self._estimator, ids, coordinates, ma_maps)
        self._impute_weights(estimator, ids)
        return _Replicate(estimator, ma_maps, rows, self._ale_null)

    def _impute_weights(self, estimator, ids):
        """Redo MKDADensity weights whose imputed values depend on the subset's others."""
        weighting = getattr(estimator, "weighting", None)
        if weighting is not None and weighting.on_missing == "impute":
            raw = copy.deepcopy(weighting).raw_weights(self._estimator.dataset, ids)
            weights = normalize_weights(raw.to_numpy(), len(ids))[:, None]
            private.set_fitted_weights(estimator, weights)

    def _check_retained(self, retained):
        retained = np.asarray(retained)
        n_analyses = self.ids.size
        if (
            retained.ndim != 1
            or retained.size == 0
            or not np.issubdtype(retained.dtype, np.integer)
            or retained.min() < 0
            or retained.max() >= n_analyses
            or np.unique(retained).size != retained.size
        ):
            raise ValueError(
                f"retained={retained!r} is not accepted; accepted: distinct integer positions "
                f"in [0, {n_analyses})."
            )
        return retained.astype(np.intp)
