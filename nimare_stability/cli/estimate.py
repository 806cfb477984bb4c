"""How long a command-line run will take, and how much memory, said before the costly work.

The baseline Monte Carlo correction is timed on short pilots (its fixed cost and its cost
per iteration, on one core), then extrapolated to the run's iterations and cores. Each
diagnostic's time is the compiled engine's correction time (the command's default
corrector, :class:`nimare_stability.FWECorrector`) times the ratio measured on NiMARE's
pain data (21 analyses, ALE, 1000 iterations, two cores; ``benchmarks/bench_cli.py``
prints the ratios); with ``--nimare-corrector`` that time is NiMARE's correction time
divided by how much slower NiMARE's corrector was there (``benchmarks/bench_corrector.py``
prints it). The estimate is rough: with hundreds of analyses Fragility and FailSafeN grow
faster than the correction. The memory is each diagnostic's own estimate
(:meth:`~nimare_stability.diagnostics.base.ClusterDiagnostic._memory`); they run one after
another, so the run needs the largest.
"""

import copy
import os
import time

from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.engines import memory
from nimare_stability.resampling.seeds import SeedPlan

#: Seconds of each diagnostic per second of the baseline Monte Carlo correction on the
#: compiled engine (pain).
RATIOS = {"jackknife": 0.2, "resampledstability": 1.6, "fragility": 8.2, "failsafen": 6.7}
#: Seconds of NiMARE's Monte Carlo correction per second of the compiled engine's (pain).
NIMARE_CORRECTOR_SLOWDOWN = 7.1
#: Iterations of the pilot corrections, on one core: the first warms up (compilation,
#: caches) and is not counted; the other two give the fixed cost and the cost per iteration.
PILOT_ITERS = (1, 10, 30)


def correction_seconds(corrector, result, n_iters):
    """Return the seconds ``corrector`` (a Monte Carlo ``FWECorrector``) takes at ``n_iters``.

    The pilots run on deep copies of ``corrector`` and ``result`` (neither changes); the
    cost per iteration is divided among the corrector's cores.
    """
    seconds = []
    for pilot_iters in PILOT_ITERS:
        pilot = copy.deepcopy(corrector)
        pilot.parameters.update(n_iters=pilot_iters, n_cores=1)
        start = time.perf_counter()
        pilot.transform(copy.deepcopy(result))
        seconds.append(time.perf_counter() - start)
    _, short, long = seconds
    per_iteration = max(long - short, 0.0) / (PILOT_ITERS[2] - PILOT_ITERS[1])
    fixed = max(short - per_iteration * PILOT_ITERS[1], 0.0)
    n_cores = corrector.parameters.get("n_cores", 1)
    n_cores = os.cpu_count() if n_cores <= 0 else min(n_cores, os.cpu_count())
    return fixed + per_iteration * n_iters / n_cores


def describe(correction, diagnostics, nimare_corrector=False):
    """Return one log line: the correction's and each diagnostic's time, and the total.

    Parameters
    ----------
    correction : :obj:`float`
        Seconds of the run's Monte Carlo correction (:func:`correction_seconds`).
    diagnostics : sequence of :obj:`str`
        The diagnostics the run applies, by their names in :data:`RATIOS`.
    nimare_corrector : :obj:`bool`, default=False
        Whether ``correction`` is NiMARE's corrector's time rather than the engine's.
    """
    engine = correction / NIMARE_CORRECTOR_SLOWDOWN if nimare_corrector else correction
    parts = {"correction": correction}
    parts.update({name: engine * RATIOS[name] for name in diagnostics})
    listed = ", ".join(f"{name} ~{_minutes(seconds)}" for name, seconds in parts.items())
    return (
        f"Estimated time: ~{_minutes(sum(parts.values()))} ({listed}; scaled from a pilot "
        "correction with ratios measured on 21 analyses: longer with many more)."
    )


def _minutes(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def log_memory(diagnostics, result, corrector, random_state):
    """Log the memory of the most demanding of ``diagnostics``; warn if the machine has less.

    Parameters
    ----------
    diagnostics : :obj:`dict`
        Name -> diagnostic, as the run will apply them to ``result``.
    result : :class:`~nimare.results.MetaResult`
        The fitted (not yet corrected) result.
    corrector : :class:`~nimare.correct.Corrector` or None
        The corrector the run will apply.
    random_state : :obj:`int`
    """
    analyses = AnalysisSet(result.estimator)
    plan = SeedPlan(random_state)
    estimates = {
        name: diagnostic._memory(analyses, corrector, None, plan)
        for name, diagnostic in diagnostics.items()
        if hasattr(diagnostic, "_memory")
    }
    estimates = {name: found for name, found in estimates.items() if found is not None}
    if estimates:
        name = max(estimates, key=lambda key: estimates[key].total)
        memory.log_estimate(estimates[name], f"The largest step ({name})")
