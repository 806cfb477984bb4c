"""The engine interface: what every engine is given, what it yields and what it can do."""

import copy
import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass

from nimare_stability.engines import memory, parallel

#: Capability: the engine draws its replicates' Monte Carlo nulls itself, from common random
#: numbers; it offers ``null="shared"`` (a cheaper, approximate null) and a
#: ``null_maxima(retained, n_cores, progress, store, nested)`` method returning each
#: replicate's null (``store``: an optional checkpoint keeping its finished blocks;
#: ``nested``: each replicate keeps every analysis of the one before).
DRAWS_NULLS = "draws Monte Carlo nulls"
#: Capability: the engine corrects its replicates with null maxima the caller provides
#: (:attr:`EngineInputs.null_maxima`, set through :meth:`Engine.with_null_maxima`).
TAKES_NULLS = "takes null maxima"


@dataclass(frozen=True)
class EngineInputs:
    """Everything an engine needs to judge replicates of one run.

    Parameters
    ----------
    estimator : fitted NiMARE estimator
        The baseline's estimator; never modified.
    corrector : :class:`~nimare.correct.Corrector` or None
        A private copy of the corrector that made the target (None: uncorrected).
    analyses : :class:`~nimare_stability.core.analyses.AnalysisSet`
        What ``estimator`` was fit on; schedules index ``analyses.ids``.
    rule : :class:`~nimare_stability.core.support.SupportRule`
    n_iters : :obj:`int` or None
        Monte Carlo iterations (Monte Carlo targets only).
    null : {"replicate", "shared"}
    null_histogram : {"replicate", "full"}
    null_seed : :class:`numpy.random.SeedSequence`
        Root of the Monte Carlo null's random streams.
    null_maxima : callable, optional
        Engines that :data:`TAKES_NULLS`: given a list of retained sets, returns their
        Monte Carlo null maxima (maximum statistic, cluster size and mass; arrays of shape
        (R, n_iters), size and mass None for voxel-level correction), used instead of
        drawing them. The pairwise engine keeps the baseline fit's cluster-forming
        threshold and computes no uncorrected maps with them.
    """

    estimator: object
    corrector: object
    analyses: object
    rule: object
    n_iters: int = None
    null: str = "replicate"
    null_histogram: str = "replicate"
    null_seed: object = None
    null_maxima: object = None


class Engine(ABC):
    """Judge the replicates of a schedule.

    Subclasses set :attr:`name`, list in :attr:`options` the :class:`EngineInputs` fields
    beyond the common ones that they read, declare their :attr:`capabilities` and say in
    :meth:`unsupported` what they cannot reproduce. Callers ask :meth:`can`, never the
    engine's class.

    Parameters
    ----------
    inputs : :class:`EngineInputs`
    """

    #: Name of the engine (the ``engine`` parameter's value).
    name = None
    #: Options (parameters of the diagnostic) only this engine reads, with their defaults.
    options = {}
    #: What the engine can do beyond judging replicates (:data:`DRAWS_NULLS`,
    #: :data:`TAKES_NULLS`).
    capabilities = frozenset()

    def __init__(self, inputs):
        self.inputs = inputs

    @classmethod
    def can(cls, *capabilities):
        """Whether the engine declares every one of ``capabilities``."""
        return set(capabilities) <= cls.capabilities

    def with_null_maxima(self, null_maxima):
        """Return this engine correcting with ``null_maxima`` (see :class:`EngineInputs`).

        The copy shares what this engine has cached (MA maps, layouts).

        Raises
        ------
        TypeError
            When the engine does not declare :data:`TAKES_NULLS`.
        """
        if not self.can(TAKES_NULLS):
            raise TypeError(f"The {self.name} engine cannot take null maxima from its caller.")
        return self.with_inputs(null_maxima=null_maxima)

    def with_inputs(self, **changes):
        """Return this engine reading its inputs with ``changes`` (fields of :class:`EngineInputs`).

        The copy shares what this engine has cached (MA maps, layouts), which depend only on
        the estimator.
        """
        engine = copy.copy(self)
        engine.inputs = dataclasses.replace(self.inputs, **changes)
        return engine

    @classmethod
    def unsupported(cls, estimator, corrector):
        """Return why this engine cannot judge these replicates, or None when it can.

        Parameters
        ----------
        estimator : fitted NiMARE estimator
        corrector : :class:`~nimare.correct.Corrector` or None
        """
        return None

    @classmethod
    def memory_parts(cls, estimator, values, n_analyses, n_replicates, n_cores):
        """Return the memory this engine holds at its peak, by part (what -> bytes).

        By default one NiMARE fit of ``n_analyses`` analyses per core.

        Parameters
        ----------
        estimator : fitted NiMARE estimator
            The baseline's.
        values : :obj:`float`
            Nonzero MA values per analysis
            (:func:`~nimare_stability.engines.memory.ma_values_per_analysis`; 0 if unknown).
        n_analyses : :obj:`int`
            Analyses of the largest replicate.
        n_replicates : :obj:`int`
            Replicates judged at once.
        n_cores : :obj:`int`
            Parallel tasks (<= 0: every core).
        """
        return memory.nimare_fits(n_analyses, values, parallel.n_workers(n_cores))

    @abstractmethod
    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        """Yield ``(index, support)`` for every replicate not in ``skip``, in order.

        A replicate's support does not depend on the other replicates of ``retained``, on
        ``n_cores`` or on joblib's backend: replicates judged in parts give the same
        supports as judged together.

        Parameters
        ----------
        retained : :obj:`list` of :class:`numpy.ndarray` of int
            The replicates: sorted positions into ``inputs.analyses.ids`` of the analyses
            each keeps.
        seeds : :obj:`list` of :obj:`int`
            One seed per replicate: the ``random_state`` of its estimator (from
            :meth:`~nimare_stability.resampling.seeds.SeedPlan.replicate_seeds`).
        n_cores : :obj:`int`, default=1
            Parallel tasks (joblib's active backend, a Dask cluster included).
        progress : :obj:`bool`, default=True
        store : :class:`~nimare_stability.engines.checkpoint.Checkpoint`, optional
            Where the engine keeps work shared by these replicates (null blocks), read back
            when the same replicates are judged again.
        skip : container of :obj:`int`, default=()
            Replicates whose support is not needed (already known); they still take part
            in work shared with the others.

        Yields
        ------
        index : :obj:`int`
        support : :class:`~nimare_stability.core.support.Support`
        """
