"""The refit engine: each replicate refits the estimator and re-applies the corrector.

Exact for any estimator: a replicate is ``deepcopy(estimator)`` with the replicate's seed
as ``random_state``, fit on the retained analyses, then corrected by a deep copy of the
corrector that made the target, and judged by the run's support rule.
"""

import copy
import logging
import time

from joblib import Parallel, delayed
from tqdm.auto import tqdm

from nimare_stability.core.progress import tqdm_disable
from nimare_stability.engines import parallel
from nimare_stability.engines.base import Engine
from nimare_stability.resampling.schedule import left_out_positions

LGR = logging.getLogger(__name__)

#: Schedules whose estimated run time exceeds this many seconds are logged as a warning.
LONG_RUN_SECONDS = 60.0


class ReplicateError(RuntimeError):
    """A replicate's fit or correction raised."""


class RefitEngine(Engine):
    """Fit and judge replicates with NiMARE's own estimator and corrector (any estimator).

    Each replicate's estimator is a deep copy of the baseline's with the replicate's seed as
    its ``random_state`` (the seeds of :meth:`run`).

    Parameters
    ----------
    inputs : :class:`~nimare_stability.engines.base.EngineInputs`
        Reads ``estimator``, ``corrector``, ``analyses`` and ``rule``.
    """

    name = "refit"

    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        """Yield ``(index, support)`` for every replicate not in ``skip``, in order.

        The first replicate runs alone and times the schedule; the rest stream through
        joblib (a Dask cluster included, with the inputs scattered once), so at most a few
        replicate maps are held at once. ``store`` is unused: NiMARE's corrector keeps no
        partial work.
        """
        splits = retained
        todo = [index for index in range(len(splits)) if index not in skip]
        if not todo:
            return
        start = time.perf_counter()
        first = judge_replicate(self.inputs, todo[0], splits[todo[0]], seeds[todo[0]])
        workers = parallel.n_workers(n_cores)
        estimate = (time.perf_counter() - start) * len(todo) / workers
        log = LGR.warning if estimate > LONG_RUN_SECONDS else LGR.info
        log(f"{len(todo)} replicates with the refit engine: about {estimate:.0f} s.")
        bar = tqdm(total=len(todo), desc="ResampledStability", disable=tqdm_disable(progress))
        bar.update()
        yield todo[0], first
        inputs = parallel.share(self.inputs)
        rest = Parallel(n_jobs=workers, return_as="generator")(
            delayed(judge_replicate)(inputs, index, splits[index], seeds[index])
            for index in todo[1:]
        )
        for index, support in zip(todo[1:], rest):
            bar.update()
            yield index, support
        bar.close()


def judge_replicate(inputs, index, retained, seed):
    """Return the :class:`~nimare_stability.core.support.Support` of one replicate.

    Parameters
    ----------
    inputs : :class:`~nimare_stability.engines.base.EngineInputs`
    index : :obj:`int`
        The replicate's position in its schedule (for messages).
    retained : :class:`numpy.ndarray` of int
    seed : :obj:`int`
        The replicate estimator's ``random_state``.

    Raises
    ------
    ReplicateError
        When the fit or the correction raises; names the replicate and its left-out ids.
    """
    try:
        estimator = copy.deepcopy(inputs.estimator)
        if "random_state" in estimator.get_params(deep=False):
            estimator.set_params(random_state=seed)
        result = inputs.analyses.fit(estimator, retained)
        if inputs.corrector is not None:
            result = copy.deepcopy(inputs.corrector).transform(result)
    except Exception as exc:
        ids = inputs.analyses.ids
        left_out = ids[left_out_positions(retained, ids.size)]
        raise ReplicateError(
            f"Replicate {index} (seed {seed}; left out: {';'.join(left_out)}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return inputs.rule(result.maps)
