"""The chi-square engine: MKDAChi2 replicates from binary MA maps cached once.

A replicate of NiMARE's ``MKDAChi2`` keeps some analyses of each group. Its refit would
build their MKDA maps, count each voxel's active analyses per group and, when its target
is Monte Carlo FWE corrected, relabel the analyses ``n_iters`` times (NiMARE's
label-permutation null, seeded by the replicate's ``random_state``), recounting and
re-testing every voxel and labelling three maps' clusters per permutation. This engine
builds both groups' maps once; per replicate it hands the retained rows to NiMARE's own
fit code (the counts come from the cached maps), then runs the permutations NiMARE's
correction of that fit would draw on the compiled loop of
:mod:`~nimare_stability.engines._numba_chi2`, and lets NiMARE's own correction turn their
maxima into corrected maps. Other correctors (FDR, Bonferroni) read only the maps and run
as they are.
"""

import numpy as np
from joblib import Parallel, delayed
from nimare.correct import FWECorrector
from nimare.meta.cbma.mkda import MKDAChi2
from nimare.meta.kernel import MKDAKernel
from scipy import sparse
from scipy.stats import chi2
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private as private
from nimare_stability.core._nimare_private import chi2 as private_chi2
from nimare_stability.core._nimare_private import pairwise as private_pairwise
from nimare_stability.core.progress import tqdm_disable
from nimare_stability.engines import _numba_chi2 as kernels
from nimare_stability.engines import parallel
from nimare_stability.engines.base import Engine
from nimare_stability.engines.pairwise import group_rows, unsupported_pairwise
from nimare_stability.engines.permutations import batch_labels

#: Permutations counted together (the batch the compiled loop vectorises).
BATCH_SIZE = 16
#: Bytes per cached MA entry: its row (int32), in the row- and voxel-major copies.
_ENTRY_BYTES = 16


class Chi2Engine(Engine):
    """Judge replicates of an MKDA chi-square analysis without refitting it.

    Equal to the refit engine replicate by replicate: each replicate's maps are those of
    NiMARE's fit of it and, for a Monte Carlo FWE target, of NiMARE's correction with the
    same label permutations.

    Parameters
    ----------
    inputs : :class:`~nimare_stability.engines.base.EngineInputs`
        Reads ``estimator`` (a fitted ``MKDAChi2`` with its MKDA kernel), ``corrector``,
        ``analyses`` and ``rule``.
    """

    name = "chi2"

    @classmethod
    def unsupported(cls, estimator, corrector):
        """Return why this engine cannot reproduce ``estimator`` + ``corrector``, or None."""
        reason = unsupported_pairwise(estimator, MKDAChi2, MKDAKernel)
        if reason is not None:
            return reason
        if permutes(corrector) and estimator.fwe_null_method != "label-permutation":
            return (
                f"{type(estimator).__name__}(fwe_null_method={estimator.fwe_null_method!r}) "
                "corrected by Monte Carlo FWE (accepted: fwe_null_method='label-permutation')"
            )
        return None

    @classmethod
    def memory_parts(cls, estimator, values, n_analyses, n_replicates, n_cores):
        """Count the cached MA entries and each task's batch of counts.

        See :meth:`Engine.memory_parts`.
        """
        n_voxels = int(np.count_nonzero(private.mask_to_bool(estimator.masker.mask_img)))
        tasks = parallel.n_workers(n_cores)
        return {
            "binary MA maps of both groups": n_analyses * values * _ENTRY_BYTES,
            "permutation counts": tasks * n_voxels * BATCH_SIZE * 4,
        }

    def __init__(self, inputs):
        super().__init__(inputs)
        estimator = inputs.estimator
        group1, group2 = private_chi2.chi2_ma_maps(estimator)
        self.n_group1 = group1.shape[0]
        self.pooled = sparse.vstack([group1, group2], format="csr")
        self.row_ids = np.concatenate(private_pairwise.ma_row_ids(estimator))
        self.row_of = {analysis: row for row, analysis in enumerate(self.row_ids)}
        self.grid = _grid(estimator)

    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        """Yield ``(index, support)`` for every replicate not in ``skip``, in order.

        Each replicate's permutations run in parallel (``n_cores`` threads); ``store`` is
        unused.
        """
        todo = [index for index in range(len(retained)) if index not in skip]
        for index in tqdm(todo, desc="ResampledStability (chi2)", disable=tqdm_disable(progress)):
            maps = self.replicate_maps(retained[index], seeds[index], n_cores)
            yield index, self.inputs.rule(maps)

    def replicate_maps(self, kept, seed, n_cores=1):
        """Return the maps NiMARE's fit (and correction) of a replicate would write.

        Parameters
        ----------
        kept : array of int
            Positions into ``inputs.analyses.ids``.
        seed : :obj:`int`
            The replicate estimator's ``random_state``.
        n_cores : :obj:`int`, default=1
        """
        rows1, rows2 = group_rows(
            self.inputs.analyses, self.row_of, self.n_group1, self.pooled.shape[0], kept
        )
        local = self.pooled[np.concatenate([rows1, rows2])]
        n1 = rows1.size
        shell, maps = private_chi2.chi2_fit(
            self.inputs.estimator,
            (self.row_ids[rows1], self.row_ids[rows2]),
            (local[:n1], local[n1:]),
        )
        corrector = self.inputs.corrector
        if corrector is None:
            return maps
        maxima = None
        if permutes(corrector):
            maxima = self.null_maxima(local, n1, seed, corrector, n_cores)
        result = private_chi2.chi2_result(shell, maps)
        return private_chi2.corrected_chi2(result, corrector, maxima).maps

    def null_maxima(self, local, n1, seed, corrector, n_cores=1):
        """Each permutation's maxima (:data:`~._numba_chi2.N_MAXIMA` columns) for a replicate.

        The permutations NiMARE's correction ``corrector`` of the replicate's fit (seeded
        ``seed``) would draw, of ``local``'s rows (group 1's ``n1`` first).
        """
        return label_permutation_maxima(
            self.inputs.estimator, local, n1, seed, corrector, self.grid, n_cores, progress=False
        )


def label_permutation_maxima(estimator, maps, n1, seed, corrector, grid, n_cores=1, progress=True):
    """Each label permutation's maxima, as NiMARE's Monte Carlo correction draws them.

    Parameters
    ----------
    estimator : fitted ``MKDAChi2``
    maps : CSR matrix
        Binary MA maps of the fit's analyses, group 1's ``n1`` rows first, in MA-row order.
    seed : :obj:`int` or None
        The fit's ``random_state``: NiMARE's permutations are drawn from it.
    corrector : NiMARE's ``FWECorrector(method="montecarlo")``
        Its ``n_iters`` (default 1000) and ``voxel_thresh`` (default 0.001).
    grid : pair of arrays
        The mask's voxels' flat indices (C order) and the grid's shape.
    n_cores : :obj:`int`, default=1
        Threads; results do not depend on it.
    progress : :obj:`bool`, default=True

    Returns
    -------
    float64 array, shape (n_iters, 9)
        Per permutation, the largest value, cluster size and cluster mass of the group 1,
        group 2 and association tests (NiMARE's order).
    """
    n_iters = private.corrector_parameter(corrector, "n_iters", 1000)
    voxel_thresh = private.corrector_parameter(corrector, "voxel_thresh", 0.001)
    group1_rows = private_pairwise.permutation_rows(
        estimator, seed, maps.shape[0], n1, n_iters, stream=private_chi2.CHI2_PERMUTATION_STREAM
    )
    by_voxel = maps.tocsc()
    shared = (
        by_voxel.indptr.astype(np.int64),
        by_voxel.indices.astype(np.int32),
        n1,
        maps.shape[0] - n1,
        float(chi2.isf(voxel_thresh, 1)),
        *grid,
    )
    batches = [
        range(start, min(start + BATCH_SIZE, n_iters)) for start in range(0, n_iters, BATCH_SIZE)
    ]
    n_rows = maps.shape[0]
    results = Parallel(n_jobs=parallel.n_workers(n_cores), prefer="threads", return_as="generator")(
        delayed(_batch)(shared, batch_labels(group1_rows, batch, n_rows)) for batch in batches
    )
    with tqdm(
        total=n_iters, desc="MKDAChi2 permutations", unit="perm", disable=tqdm_disable(progress)
    ) as bar:
        parts = []
        for batch, part in zip(batches, results):
            parts.append(part)
            bar.update(len(batch))
    return np.concatenate(parts)


def corrected_result(result, corrector, n_cores=1):
    """NiMARE's Monte Carlo FWE correction of an ``MKDAChi2`` result, permutations compiled.

    The same label permutations as NiMARE's correction (the fit's ``random_state``), so
    the same maps and null distributions; ``result`` is not modified.
    """
    estimator = result.estimator
    group1, group2 = private_chi2.chi2_ma_maps(estimator)
    maxima = label_permutation_maxima(
        estimator,
        sparse.vstack([group1, group2], format="csr"),
        group1.shape[0],
        estimator.random_state,
        corrector,
        _grid(estimator),
        n_cores,
    )
    return private_chi2.corrected_chi2(result, corrector, maxima)


def permutes(corrector):
    """Whether ``corrector`` is a Monte Carlo FWE correction (which permutes the labels)."""
    return isinstance(corrector, FWECorrector) and corrector.method == "montecarlo"


def _grid(estimator):
    """Return the mask's voxels' indices in the C-ordered grid, and the grid's shape."""
    mask = private.mask_to_bool(estimator.masker.mask_img)
    return np.flatnonzero(mask).astype(np.int64), np.asarray(mask.shape, np.int64)


def _batch(shared, labels):
    indptr, rows, n1, n2, threshold, voxel_flat, shape = shared
    return kernels.chi2_maxima(indptr, rows, labels, n1, n2, threshold, voxel_flat, shape)
