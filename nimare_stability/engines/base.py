"""The engine interface: what every engine is given and what it yields."""

from abc import ABC, abstractmethod
from dataclasses import dataclass


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
    """

    estimator: object
    corrector: object
    analyses: object
    rule: object
    n_iters: int = None
    null: str = "replicate"
    null_histogram: str = "replicate"
    null_seed: object = None


class Engine(ABC):
    """Judge the replicates of a schedule.

    Subclasses set :attr:`name`, list in :attr:`options` the :class:`EngineInputs` fields
    beyond the common ones that they read, and say in :meth:`unsupported` what they cannot
    reproduce.

    Parameters
    ----------
    inputs : :class:`EngineInputs`
    """

    #: Name of the engine (the ``engine`` parameter's value).
    name = None
    #: Options (parameters of the diagnostic) only this engine reads, with their defaults.
    options = {}

    def __init__(self, inputs):
        self.inputs = inputs

    @classmethod
    def unsupported(cls, estimator, corrector):
        """Return why this engine cannot judge these replicates, or None when it can.

        Parameters
        ----------
        estimator : fitted NiMARE estimator
        corrector : :class:`~nimare.correct.Corrector` or None
        """
        return None

    @abstractmethod
    def run(self, schedule, seeds, n_cores=1, progress=True, store=None, skip=()):
        """Yield ``(index, support)`` for every replicate not in ``skip``, in schedule order.

        A replicate's support does not depend on the other replicates of ``schedule``, on
        ``n_cores`` or on joblib's backend: a schedule judged in parts gives the same
        supports as judged whole.

        Parameters
        ----------
        schedule : :class:`~nimare_stability.resampling.schedule.Schedule`
        seeds : :obj:`list` of :obj:`int`
            One seed per replicate (section 4 of the design: the replicate's estimator's
            ``random_state``).
        n_cores : :obj:`int`, default=1
            Parallel tasks (joblib's active backend, a Dask cluster included).
        progress : :obj:`bool`, default=True
        store : :class:`~nimare_stability.engines.checkpoint.Checkpoint`, optional
            Where the engine keeps work shared by the replicates of ``schedule`` (null
            blocks), read back when the same schedule is judged again.
        skip : container of :obj:`int`, default=()
            Replicates whose support is not needed (already known); they still take part
            in work shared with the others.

        Yields
        ------
        index : :obj:`int`
        support : :class:`~nimare_stability.core.support.Support`
        """
