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

LGR = logging.getLogger(__name__)

#: Schedules whose estimated run time exceeds this many seconds are logged as a warning.
LONG_RUN_SECONDS = 60.0


class ReplicateError(RuntimeError):
    """A replicate's fit or correction raised."""


class RefitEngine:
    """Fit and judge replicates.

    Parameters
    ----------
    estimator : fitted NiMARE estimator
        Never modified: each replicate works on a deep copy.
    corrector : :class:`~nimare.correct.Corrector` or None
        Already a private copy; deep-copied again per replicate.
    analyses : :class:`~nimare_stability.analyses.AnalysisSet`
        What ``estimator`` was fit on; schedules index ``analyses.ids``.
    rule : :class:`~nimare_stability.support.SupportRule`
    """

    name = "refit"

    def __init__(self, estimator, corrector, analyses, rule):
        self.estimator = estimator
        self.corrector = corrector
        self.analyses = analyses
        self.rule = rule

    def support(self, index, retained, seed):
        """Return the :class:`~nimare_stability.support.Support` of one replicate."""
        try:
            estimator = copy.deepcopy(self.estimator)
            if "random_state" in estimator.get_params(deep=False):
                estimator.set_params(random_state=seed)
            result = self.analyses.fit(estimator, retained)
            if self.corrector is not None:
                result = copy.deepcopy(self.corrector).transform(result)
        except Exception as exc:
            ids = self.analyses.ids
            left_out = sorted(set(ids) - set(ids[retained]))
            raise ReplicateError(
                f"Replicate {index} (seed {seed}; left out: {';'.join(left_out)}) failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return self.rule(result.maps)

    def run(self, schedule, seeds, n_cores=1, progress=True):
        """Yield ``(index, support)`` for every replicate, in schedule order.

        The first replicate runs alone and times the schedule; the rest stream through
        joblib, so at most a few replicate maps are held at once.
        """
        start = time.perf_counter()
        first = self.support(0, schedule[0], seeds[0])
        estimate = (time.perf_counter() - start) * len(schedule) / max(n_cores, 1)
        log = LGR.warning if estimate > LONG_RUN_SECONDS else LGR.info
        log(f"{len(schedule)} replicates with the refit engine: about {estimate:.0f} s.")
        bar = tqdm(total=len(schedule), desc="ResampledStability", disable=not progress)
        bar.update()
        yield 0, first
        rest = Parallel(n_jobs=n_cores, return_as="generator")(
            delayed(self.support)(index, schedule[index], seeds[index])
            for index in range(1, len(schedule))
        )
        for index, support in enumerate(rest, start=1):
            bar.update()
            yield index, support
        bar.close()
