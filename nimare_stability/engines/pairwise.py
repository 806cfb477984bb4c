"""The pairwise engine: ALE subtraction replicates from MA maps cached once.

A replicate of an ``ALESubtraction`` (NiMARE's, or :class:`nimare_stability.ALESubtraction`)
keeps some analyses of each group. Its refit would build their MA maps, its observed
difference and the permutations of its own analyses, seeded by its ``random_state``. This
engine pools both groups' MA maps once; per replicate it sums the retained analyses'
``log1p(-MA)`` in the order a fit sums them (the observed difference, float32, as NiMARE
writes it), then runs the same permutations NiMARE's refit would (the replicate's seed, its
own group sizes) on the compiled loop of :mod:`~nimare_stability.engines.permutations`.
The four ``desc-group1MinusGroup2`` maps follow with NiMARE's own code, and a Monte Carlo
FWE target is corrected by a copy of the target's corrector from the nulls its
correction would draw. Group main-effect maps are not made: their targets use the refit
engine.
"""

import dataclasses
import logging

import numpy as np
from nimare.correct import FWECorrector
from nimare.meta.cbma.ale import ALESubtraction
from nimare.meta.kernel import ALEKernel
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private as private
from nimare_stability.core import names
from nimare_stability.core._nimare_private import pairwise as private_pairwise
from nimare_stability.core.progress import tqdm_disable
from nimare_stability.engines import _numba_pairwise as kernels
from nimare_stability.engines.base import TAKES_NULLS, Engine
from nimare_stability.engines.permutations import Permutations, PooledMaps

LGR = logging.getLogger(__name__)

#: Bytes per pooled MA entry: a float64 log and an int32 row.
_ENTRY_BYTES = 12


class PairwiseEngine(Engine):
    """Judge replicates of an ALE subtraction without refitting it.

    Equal to the refit engine replicate by replicate: each replicate's maps are those of
    NiMARE's fit of it (same permutations, same float32 values), corrected as its target
    was.

    Parameters
    ----------
    inputs : :class:`~nimare_stability.engines.base.EngineInputs`
        Reads ``estimator`` (a fitted ``ALESubtraction`` with its ALE kernel),
        ``corrector``, ``analyses`` and ``rule``.
    """

    name = "pairwise"
    capabilities = frozenset({TAKES_NULLS})

    @classmethod
    def unsupported(cls, estimator, corrector):
        """Return why this engine cannot reproduce ``estimator`` + ``corrector``, or None."""
        reason = unsupported_pairwise(estimator, ALESubtraction, ALEKernel)
        if reason is not None or corrector is None:
            return reason
        name = type(estimator).__name__
        if not (isinstance(corrector, FWECorrector) and corrector.method == "montecarlo"):
            method = getattr(corrector, "method", None)
            return (
                f"{name} corrected by {type(corrector).__name__}(method={method!r}) "
                "(accepted: Monte Carlo FWE correction, or none)"
            )
        n_iters = private.corrector_parameter(corrector, "n_iters", None)
        if n_iters not in (None, estimator.n_iters):
            return (
                f"{name} corrected with n_iters={n_iters} permutations, not the fit's "
                f"{estimator.n_iters}"
            )
        return None

    @classmethod
    def memory_parts(cls, estimator, values, n_analyses, n_replicates, n_cores):
        """Count the pooled MA entries, held once. See :meth:`Engine.memory_parts`."""
        return {"pooled MA maps of both groups": n_analyses * values * _ENTRY_BYTES}

    def __init__(self, inputs):
        super().__init__(inputs)
        self.maps, self.row_of = pooled_subtraction(inputs.estimator)

    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        """Yield ``(index, support)`` for every replicate not in ``skip``, in order.

        Each replicate's permutations run in parallel (``n_cores`` threads); ``store`` is
        unused.
        """
        todo = [index for index in range(len(retained)) if index not in skip]
        given = None if self.inputs.null_maxima is None else self.inputs.null_maxima(retained)
        for index in tqdm(
            todo, desc="ResampledStability (pairwise)", disable=tqdm_disable(progress)
        ):
            if given is None:
                maps = self.replicate_maps(retained[index], seeds[index], n_cores)
            else:
                maxima = [None if null is None else null[index] for null in given]
                maps = self.corrected_with(retained[index], maxima)
            yield index, self.inputs.rule(maps)

    def corrected_with(self, kept, maxima):
        """Return a replicate's corrected maps from given null maxima, without permutations.

        Parameters
        ----------
        kept : array of int
            Positions into ``inputs.analyses.ids``.
        maxima : sequence of arrays or None
            The maximum absolute difference, cluster size and cluster mass of each
            permutation (size and mass None for voxel-level correction). The
            cluster-forming threshold is the baseline fit's.

        Returns
        -------
        dict
            The target correction's maps (uncorrected ones are not computed: only the
            difference and its sign are written).
        """
        estimator = self.inputs.estimator
        observed = self._observed(kept)[0]
        maps = {
            names.SUBTRACTION_STAT: observed,
            names.SUBTRACTION_Z: np.sign(observed),
        }
        nulls = {names.MONTECARLO_NULLS[0]: maxima[0]}
        if self._cluster_forming_p() is not None:
            nulls.update(zip(names.MONTECARLO_NULLS[1:], maxima[1:]))
            key = names.CLUSTER_FORMING_THRESHOLD
            nulls[key] = estimator.null_distributions_[key]
        return private_pairwise.corrected_subtraction_maps(
            estimator, maps, nulls, self.inputs.corrector
        )

    def _observed(self, kept):
        """Return a replicate's difference, its groups' log-sums, rows and membership."""
        rows1, rows2 = self._rows(kept)
        membership = np.zeros(self.maps.n_analyses, np.int8)
        membership[rows1], membership[rows2] = 1, 2
        observed, sums = self.maps.difference(membership)
        return observed, sums, (rows1, rows2), membership

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
        estimator, corrector = self.inputs.estimator, self.inputs.corrector
        observed, sums, (rows1, rows2), membership = self._observed(kept)
        local = np.concatenate([rows1, rows2])
        rows_of = private_pairwise.permutation_rows(
            estimator, seed, local.size, rows1.size, estimator.n_iters
        )
        starts, rows, logs = kernels.kept_entries(  # left-out analyses cost nothing
            self.maps.starts, self.maps.rows, self.maps.logs, membership
        )
        kept_maps = dataclasses.replace(
            self.maps, starts=starts, rows=rows, logs=logs, totals=sums[0] + sums[1]
        )
        permutations = Permutations(
            kept_maps,
            observed,
            lambda i: local[rows_of(i)],
            estimator.n_iters,
            n_cores,
            progress=False,
        )
        cluster_p = self._cluster_forming_p()
        null = permutations.null(top=0 if cluster_p is None else permutations.top_for(cluster_p))
        maps = private_pairwise.subtraction_maps(
            estimator, observed, null.upper, null.lower, estimator.n_iters
        )
        if corrector is None:
            return maps
        nulls = {names.MONTECARLO_NULLS[0]: null.abs_max.astype(np.float32)}
        if cluster_p is not None:
            mask = private.mask_to_bool(estimator.masker.mask_img)
            cluster = permutations.cluster_null(
                cluster_p, np.flatnonzero(mask), mask.shape, null.largest
            )
            keys = (names.CLUSTER_FORMING_THRESHOLD, *names.MONTECARLO_NULLS[1:])
            nulls.update(zip(keys, cluster))
        return private_pairwise.corrected_subtraction_maps(estimator, maps, nulls, corrector)

    def _cluster_forming_p(self):
        """Return the target correction's cluster-forming p (None: voxel level only)."""
        corrector = self.inputs.corrector
        if corrector is None or private.corrector_parameter(corrector, "vfwe_only", False):
            return None
        return private.corrector_parameter(corrector, "voxel_thresh", 0.001)

    def _rows(self, kept):
        """Return the pooled MA rows a replicate keeps per group."""
        return group_rows(
            self.inputs.analyses, self.row_of, self.maps.n_group1, self.maps.n_analyses, kept
        )


def unsupported_pairwise(estimator, estimator_class, kernel_class):
    """Return why a pairwise estimator is not one an engine of its MA maps reproduces.

    Such an engine needs an ``estimator_class`` with a ``kernel_class`` kernel, two groups
    that share no analysis and no directional inference maps; None when it has them.
    """
    name = type(estimator).__name__
    if not isinstance(estimator, estimator_class):
        return f"{name} (accepted: {estimator_class.__name__})"
    if type(getattr(estimator, "kernel_transformer", None)) is not kernel_class:
        return f"{name} with a kernel other than {kernel_class.__name__}"
    inputs = getattr(estimator, "inputs_", {})
    if any(inputs.get(f"inference_map{g}") is not None for g in (1, 2)):
        return f"{name} with directional inference maps"
    if set(map(str, inputs.get("id1", ()))) & set(map(str, inputs.get("id2", ()))):
        return f"{name} with analyses in both groups"
    return None


def group_rows(analyses, row_of, n_group1, n_rows, kept):
    """Return the pooled rows a replicate keeps per group (all of a group not resampled).

    Parameters
    ----------
    analyses : :class:`~nimare_stability.core.analyses.AnalysisSet`
    row_of : dict
        Each analysis id's pooled row (group 1's ``n_group1`` rows first, ``n_rows`` in all).
    kept : array of int
        Positions into ``analyses.ids``.
    """
    rows = np.sort([row_of[i] for i in analyses.ids[np.asarray(kept, int)]]).astype(int)
    if analyses.resample_group == "group1":
        return rows, np.arange(n_group1, n_rows)
    if analyses.resample_group == "group2":
        return np.arange(n_group1), rows
    return rows[rows < n_group1], rows[rows >= n_group1]


def pooled_subtraction(estimator):
    """Return a fitted subtraction's :class:`PooledMaps` and each analysis id's pooled row.

    Rows: group 1's analyses then group 2's, each in the order its fit orders their MA
    maps (ids do not repeat across the groups: see :meth:`PairwiseEngine.unsupported`).
    """
    maps = PooledMaps.from_groups(*private_pairwise.pairwise_ma_maps(estimator))
    ids = np.concatenate(private_pairwise.ma_row_ids(estimator))
    return maps, {analysis: row for row, analysis in enumerate(ids)}
