"""The fast engine: kernel CBMA replicates from cached MA maps and the compiled null.

Each replicate's statistic, approximate-null p and z come from MA maps computed once
(:mod:`~nimare_stability.engines.kernels`). FDR, Bonferroni and uncorrected targets are
corrected by a deep copy of the target's own corrector; Monte Carlo FWE targets from null
maxima of the compiled engine (:mod:`~nimare_stability.engines.montecarlo`):

- ``null="replicate"``: one pass of random foci for ALL analyses gives every replicate a
  draw of its own null (common random numbers);
- ``null="shared"``: one null per distinct replicate size, every few iterations drawing
  that many analyses at random (JALE's and NiMARE 0.22's idea).
"""

import copy
import functools
import logging
import time

import numpy as np
from nimare.correct import FDRCorrector, FWECorrector
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private as private
from nimare_stability.core import names
from nimare_stability.core.progress import tqdm_disable
from nimare_stability.core.volumes import mask_array
from nimare_stability.engines import memory, montecarlo, parallel
from nimare_stability.engines.base import DRAWS_NULLS, TAKES_NULLS, Engine
from nimare_stability.engines.corrected import montecarlo_maps
from nimare_stability.engines.families import unsupported_estimator
from nimare_stability.engines.kernels import KernelReplicates

LGR = logging.getLogger(__name__)

#: ``null="shared"`` redraws its random subset of analyses every this many iterations.
SHARED_SUBSET_ITERATIONS = 50
_FWE_METHODS = ("bonferroni", "montecarlo")


class FastEngine(Engine):
    """Judge replicates of a kernel CBMA estimator without refitting it.

    Parameters
    ----------
    inputs : :class:`~nimare_stability.engines.base.EngineInputs`
        Reads ``estimator`` (a fitted estimator of
        :data:`~nimare_stability.engines.families.KERNEL_ESTIMATORS`), ``corrector``,
        ``rule`` and, for Monte Carlo targets, ``n_iters``, ``null``, ``null_histogram``,
        ``null_seed`` and ``null_maxima``.
    """

    name = "fast"
    options = {"null": "replicate", "null_histogram": "replicate"}
    capabilities = frozenset({DRAWS_NULLS, TAKES_NULLS})

    @classmethod
    def unsupported(cls, estimator, corrector):
        """Return why the fast engine cannot reproduce ``estimator`` + ``corrector``, or None."""
        reason = unsupported_estimator(estimator)
        if reason is not None:
            return reason
        if (
            corrector is None
            or isinstance(corrector, FDRCorrector)
            or (isinstance(corrector, FWECorrector) and corrector.method in _FWE_METHODS)
        ):
            return None
        method = getattr(corrector, "method", None)
        return (
            f"{type(corrector).__name__}(method={method!r}) (accepted: FDR, Bonferroni or "
            "Monte Carlo FWE correction, or none)"
        )

    @classmethod
    def memory_parts(cls, estimator, values, n_analyses, n_replicates, n_cores):
        """Add up the MA maps cached once and the engine's threads.

        See :meth:`Engine.memory_parts`.
        """
        n_voxels = int(mask_array(estimator.masker).sum())
        n_threads = parallel.n_workers(n_cores)
        return memory.kernel_run(n_analyses, values, n_voxels, n_replicates, n_threads)

    def __init__(self, inputs):
        super().__init__(inputs)
        self.replicates = KernelReplicates.from_estimator(inputs.estimator)
        corrector = inputs.corrector
        self.montecarlo = isinstance(corrector, FWECorrector) and corrector.method == "montecarlo"

    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        """Yield ``(index, support)`` for every replicate not in ``skip``, in order.

        ``seeds`` is unused: a kernel estimator's fit draws nothing at random, and the only
        randomness left, the Monte Carlo null, is drawn from ``null_seed`` in blocks of
        iterations, so that every replicate's null comes from the same random foci (common
        random numbers) whatever ``n_cores`` or joblib backend; or it is the caller's
        (``null_maxima``). ``store`` keeps the thresholds and every finished null block
        (see :meth:`Engine.run`).
        """
        thresholds = nulls = None
        if self.montecarlo:
            thresholds, weights = self._stored_thresholds(retained, n_cores, store)
            if self.inputs.null_maxima is not None:
                nulls = self.inputs.null_maxima(retained)
            else:
                nulls = self.null_maxima_of(retained, thresholds, weights, n_cores, progress, store)
        for index, kept in enumerate(
            tqdm(retained, desc="ResampledStability (fast)", disable=tqdm_disable(progress))
        ):
            if index not in skip:
                support = self.inputs.rule(self._maps(index, kept, nulls, thresholds))
                memory.release_freed()  # a replicate's maps come and go in mid-sized arrays
                yield index, support

    def null_maxima(self, retained, n_cores=1, progress=False, store=None, nested=False):
        """Return the Monte Carlo null maxima this engine draws for replicates ``retained``.

        Each replicate's own cluster-forming threshold, then :meth:`null_maxima_of`;
        ``store`` keeps the thresholds and every finished null block. ``nested``: each
        replicate keeps every analysis of the one before (see
        :func:`~nimare_stability.engines.montecarlo.null_maxima`).
        """
        thresholds, weights = self._stored_thresholds(retained, n_cores, store)
        return self.null_maxima_of(
            retained, thresholds, weights, n_cores, progress, store, nested=nested
        )

    def _stored_thresholds(self, schedule, n_cores, store):
        """:meth:`thresholds_and_weights`, read from (or saved to) ``store``."""
        stored = None if store is None else store.load("thresholds")
        if stored is not None:
            weights = stored["weights"]
            return list(stored["thresholds"]), (weights if weights.size else None)
        thresholds, weights = self.thresholds_and_weights(schedule, n_cores)
        if store is not None:
            store.save(
                "thresholds",
                thresholds=np.asarray(thresholds, dtype=np.float64),
                weights=np.zeros((0, 0)) if weights is None else weights,
            )
        return thresholds, weights

    @functools.cached_property
    def layout(self):
        """The estimator's :class:`~nimare_stability.engines.layout.FociLayout` (built once)."""
        return montecarlo.build_layout(self.inputs.estimator)

    def _maps(self, index, retained, nulls, thresholds):
        if not self.montecarlo:
            result = self.replicates.result(retained, self.inputs.null_histogram)
            if self.inputs.corrector is not None:
                result = copy.deepcopy(self.inputs.corrector).transform(result)
            return result.maps
        stat = self.replicates.stat(retained)
        max_stat, max_size, max_mass = (None if n is None else n[index] for n in nulls)
        return montecarlo_maps(
            stat,
            thresholds[index],
            max_stat,
            max_size,
            max_mass,
            self.inputs.rule.mask,
            levels=self._levels,
            suffix=names.MONTECARLO,
        )

    @property
    def _levels(self):
        """The Monte Carlo map the support rule reads (all of them for another target)."""
        level = names.montecarlo_level(self.inputs.rule.target_image)
        return names.MONTECARLO_LEVELS if level is None else (level,)

    @property
    def _voxel_thresh(self):
        return private.corrector_parameter(self.inputs.corrector, "voxel_thresh", 0.001)

    @property
    def _vfwe_only(self):
        return bool(private.corrector_parameter(self.inputs.corrector, "vfwe_only", False))

    def thresholds_and_weights(self, schedule, n_cores=1):
        """Return each replicate's cluster-forming threshold and analysis weights.

        Weights are the replicate's own (MKDADensity; None for ALE and KDA). Thresholds come
        from each replicate's own approximate-null histogram (ALE's folded in ``n_cores``
        threads). Results do not depend on ``n_cores``.
        """
        start = time.perf_counter()
        thresholds = self.replicates.stat_thresholds(
            schedule, self._voxel_thresh, self.inputs.null_histogram, n_cores
        )
        rows = [self.replicates.weights(kept) for kept in schedule]
        memory.release_freed()
        LGR.info(
            f"Cluster-forming thresholds of {len(schedule)} replicates: "
            f"{time.perf_counter() - start:.1f} s."
        )
        return thresholds, (None if rows[0] is None else np.stack(rows))

    def null_maxima_of(
        self, schedule, thresholds, weights, n_cores, progress, store=None, nested=False
    ):
        """Return the Monte Carlo null maxima of each replicate of ``schedule``.

        Three arrays (R, n_iters): maximum statistic, cluster size and mass (size and mass
        None if vFWE only). ``store`` keeps finished blocks of iterations; ``nested`` says
        the replicates are nested (with ``null="replicate"``).
        """
        layout = self.layout
        LGR.info(
            f"Monte Carlo null for {len(schedule)} replicates, {self.inputs.n_iters} iterations "
            f"(null={self.inputs.null!r})."
        )
        if self.inputs.null == "replicate":
            retained = _retained_matrix(schedule, layout.n_analyses)
            nulls = montecarlo.null_maxima(
                layout,
                retained,
                thresholds,
                self.inputs.n_iters,
                self.inputs.null_seed,
                n_cores,
                progress,
                weights=weights,
                store=store,
                nested=nested,
            )
        else:
            nulls = self._shared_nulls(layout, schedule, n_cores, progress, store)
        return nulls if not self._vfwe_only else (nulls[0], None, None)

    def _shared_nulls(self, layout, schedule, n_cores, progress, store=None):
        """Return one null per distinct replicate size ``m``.

        Every :data:`SHARED_SUBSET_ITERATIONS` iterations draw a new random order of the
        analyses; each size keeps its first ``m`` (a random ``m``-subset, with its own
        cluster-forming threshold). The sizes' subsets are then nested, so one pass of
        random foci serves every size, as FailSafeN's grid does. Every subset is drawn
        first, their thresholds computed in one call, then every block's iterations drawn
        in one parallel pass.
        """
        n_iters = self.inputs.n_iters
        sizes = sorted({len(kept) for kept in schedule})
        starts = range(0, n_iters, SHARED_SUBSET_ITERATIONS)
        draws, block_streams = montecarlo.child_sequences(self.inputs.null_seed, 2)
        rng = np.random.default_rng(draws)
        subsets, groups = [], []
        for _ in starts:
            order = rng.permutation(layout.n_analyses)
            groups.append(np.arange(len(subsets), len(subsets) + len(sizes)))
            subsets += [np.sort(order[:size]) for size in sizes]
        thresholds, weights = self.thresholds_and_weights(subsets, n_cores)
        parts = montecarlo.null_maxima_each(
            layout,
            _retained_matrix(subsets, layout.n_analyses),
            thresholds,
            [min(SHARED_SUBSET_ITERATIONS, n_iters - start) for start in starts],
            montecarlo.child_sequences(block_streams, len(starts)),
            n_cores,
            progress,
            weights=weights,
            stores=[None if store is None else store.scope(f"block{start}") for start in starts],
            groups=groups,
        )
        by_size = {
            size: [np.concatenate([part[i][s] for part in parts]) for i in range(3)]
            for s, size in enumerate(sizes)
        }
        return tuple(np.stack([by_size[len(kept)][i] for kept in schedule]) for i in range(3))


def _retained_matrix(schedule, n_analyses):
    retained = np.zeros((len(schedule), n_analyses), dtype=bool)
    for row, kept in zip(retained, schedule):
        row[kept] = True
    return retained
