"""Judge a schedule in batches: resumed from a checkpoint, stopped once precise enough.

Replicates run through an engine in batches of consecutive indices. Each finished
replicate's support is saved to the run's checkpoint (when there is one) and read back on
a resumed run; the engine keeps its own shared work (null blocks) in the batch's scope of
the checkpoint. With a tolerance, batches of :data:`AUTO_BATCH_SIZE` are drawn until
:class:`StoppingRule` is met.
"""

import logging

import numpy as np

from nimare_stability.core.support import Support

LGR = logging.getLogger(__name__)

#: Replicates per batch of ``n_resamples="auto"``; the precision is checked after each.
AUTO_BATCH_SIZE = 50
#: Fewest replicates ``n_resamples="auto"`` draws (all, when the schedule is shorter).
AUTO_MIN_RESAMPLES = 200
#: Consecutive batches whose precision must be below ``tol``.
AUTO_CONSECUTIVE = 2


class StoppingRule:
    """When ``n_resamples="auto"`` stops: precise enough, twice in a row, after a minimum.

    The precision checked (:meth:`StabilityAccumulator.precision`) is an upper bound on the
    largest cluster standard error. The run stops once it has been below ``tol`` after
    :data:`AUTO_CONSECUTIVE` consecutive batches and at least :data:`AUTO_MIN_RESAMPLES`
    replicates are judged: a single dip below ``tol`` at 50 replicates, or a run with no
    cluster (precision 0), is not taken as precise. It controls the clusters' summaries,
    not each voxel's stability (the ``_stat-se`` map).

    Parameters
    ----------
    tol : :obj:`float`
    """

    def __init__(self, tol):
        self.tol = tol
        self.below = 0

    def done(self, n_judged, precision):
        """Record the precision after ``n_judged`` replicates; return whether to stop."""
        self.below = self.below + 1 if precision < self.tol else 0
        return n_judged >= AUTO_MIN_RESAMPLES and self.below >= AUTO_CONSECUTIVE


def judge_in_batches(
    engine, schedule, seeds, accumulator, n_cores, progress, checkpoint=None, tol=None
):
    """Count the replicates of ``schedule`` into ``accumulator``; return how many.

    Parameters
    ----------
    engine : :class:`~nimare_stability.engines.Engine`
    schedule : :class:`~nimare_stability.resampling.schedule.Schedule`
    seeds : :obj:`list` of :obj:`int`
        One per replicate of ``schedule``.
    accumulator : :class:`~nimare_stability.diagnostics.accumulator.StabilityAccumulator`
        Extended batch by batch.
    n_cores : :obj:`int`
    progress : :obj:`bool`
    checkpoint : :class:`~nimare_stability.engines.checkpoint.Checkpoint`, optional
    tol : :obj:`float`, optional
        Stop once :class:`StoppingRule` is met. None: one batch of the whole schedule.

    Returns
    -------
    :obj:`int`
        Replicates judged: the first ones of ``schedule``, a whole number of batches.
    """
    size = len(schedule) if tol is None else AUTO_BATCH_SIZE
    n_possible = schedule.n_possible_subsets()
    rule = None if tol is None else StoppingRule(tol)
    for start in range(0, len(schedule), size):
        stop = min(start + size, len(schedule))
        accumulator.extend(stop)
        _judge_batch(
            engine, schedule, seeds, accumulator, start, stop, n_cores, progress, checkpoint
        )
        if rule is not None:
            precision = accumulator.precision(n_possible)
            LGR.info(f"{stop} replicates: precision {precision:.4f} (tol={tol}).")
            if rule.done(stop, precision):
                return stop
    return len(schedule)


def _judge_batch(engine, schedule, seeds, accumulator, start, stop, n_cores, progress, checkpoint):
    judged = judge_resumable(
        engine,
        schedule.splits[start:stop],
        seeds[start:stop],
        n_cores,
        progress,
        checkpoint,
        [f"replicate-{index}" for index in range(start, stop)],
        f"batch-{start}-{stop}",
    )
    for local, support in judged:
        accumulator.add(start + local, support)


def judge_resumable(engine, retained, seeds, n_cores, progress, checkpoint, names, scope):
    """Yield ``(position, support)`` for every replicate: read from ``checkpoint``, or judged.

    Supports judged by ``engine`` are saved as ``names[position]`` as they come; those read
    back follow them. The engine keeps its shared work (thresholds, null blocks) in
    ``checkpoint.scope(scope)``.

    Parameters
    ----------
    engine : :class:`~nimare_stability.engines.Engine`
    retained, seeds : :obj:`list`
        The replicates and their seeds (see :meth:`~nimare_stability.engines.Engine.run`).
    n_cores : :obj:`int`
    progress : :obj:`bool`
    checkpoint : :class:`~nimare_stability.engines.checkpoint.Checkpoint` or None
    names : :obj:`list` of :obj:`str`
        Each replicate's name in ``checkpoint``.
    scope : :obj:`str`
        Names the engine's shared work of exactly these replicates.
    """
    stored = {}
    if checkpoint is not None:
        for position, name in enumerate(names):
            arrays = checkpoint.load(name)
            if arrays is not None:
                stored[position] = Support(arrays["signs"], int(arrays["n_clusters"]))
    if len(stored) < len(names):
        if stored:
            LGR.info(f"{len(stored)} of {len(names)} replicates read from the checkpoint.")
        judged = engine.run(
            retained,
            seeds,
            n_cores,
            progress,
            store=None if checkpoint is None else checkpoint.scope(scope),
            skip=set(stored),
        )
        for position, support in judged:
            if checkpoint is not None:
                checkpoint.save(
                    names[position],
                    signs=support.signs,
                    n_clusters=np.int64(support.n_clusters),
                )
            yield position, support
    yield from stored.items()
