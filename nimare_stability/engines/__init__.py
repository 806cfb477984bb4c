"""Engines judge replicates; ONE registry says which exist and what each supports.

An engine (:class:`~nimare_stability.engines.base.Engine`) is given a run's
:class:`~nimare_stability.engines.base.EngineInputs` and yields the support of each
replicate (a set of retained analyses) it is asked to judge. Each declares what it
supports (:meth:`~nimare_stability.engines.base.Engine.unsupported`), the diagnostic
parameters only it reads (``options``) and its ``capabilities`` (:data:`DRAWS_NULLS`,
:data:`TAKES_NULLS`), which diagnostics ask for instead of naming engines.

- ``"fast"`` (:class:`~nimare_stability.engines.fast.FastEngine`): kernel CBMA (the table in
  :mod:`~nimare_stability.engines.families`) from MA maps cached once, with the compiled
  Monte Carlo null.
- ``"pairwise"`` (:class:`~nimare_stability.engines.pairwise.PairwiseEngine`):
  ``ALESubtraction`` from both groups' MA maps cached once, each replicate's permutations
  (NiMARE's own) on the compiled loop of :mod:`~nimare_stability.engines.permutations`.
- ``"chi2"`` (:class:`~nimare_stability.engines.chi2.Chi2Engine`): ``MKDAChi2`` from both
  groups' binary MA maps cached once, its label permutations (NiMARE's own) on the
  compiled loop of :mod:`~nimare_stability.engines._numba_chi2`.
- ``"refit"`` (:class:`~nimare_stability.engines.refit.RefitEngine`): NiMARE's own fit and
  corrector per replicate; any estimator.

``engine="auto"`` takes the first engine of :data:`ENGINES` that supports the estimator
and corrector. The same layer holds what engines share: parallel backends
(:mod:`~nimare_stability.engines.parallel`), checkpoints and their locks, judging in
batches and keyed replicates.

Adding an engine (a GPU one, say) is one new module here defining an
:class:`~nimare_stability.engines.base.Engine` subclass, and one entry in :data:`ENGINES`,
placed by preference for ``"auto"``. Nothing else changes: every diagnostic's ``engine``
parameter and the command line's ``--engine`` take their choices from :data:`ENGINES`, and
the checkpoint fingerprint records the engine a run resolved to. Describe it in the
``engine`` entry of the diagnostics' shared parameter documentation
(:data:`nimare_stability.diagnostics.docs.DOCDICT`) and test that it equals the refit
engine on the estimators it supports.
"""

from nimare_stability.engines.base import DRAWS_NULLS, TAKES_NULLS, Engine, EngineInputs
from nimare_stability.engines.chi2 import Chi2Engine
from nimare_stability.engines.fast import FastEngine
from nimare_stability.engines.pairwise import PairwiseEngine
from nimare_stability.engines.refit import RefitEngine, ReplicateError

#: Every engine by name, in order of preference for ``engine="auto"``.
ENGINES = {
    FastEngine.name: FastEngine,
    PairwiseEngine.name: PairwiseEngine,
    Chi2Engine.name: Chi2Engine,
    RefitEngine.name: RefitEngine,
}

__all__ = [
    "DRAWS_NULLS",
    "ENGINES",
    "TAKES_NULLS",
    "Engine",
    "EngineInputs",
    "ReplicateError",
    "resolve_engine",
]


def resolve_engine(requested, estimator, corrector, options):
    """Return the engine class that will judge the replicates.

    Parameters
    ----------
    requested : "auto" or a name in :data:`ENGINES`
    estimator : fitted NiMARE estimator
    corrector : :class:`~nimare.correct.Corrector` or None
    options : :obj:`dict`
        Engine-specific options as the caller set them (``null``, ``null_histogram``).

    Raises
    ------
    ValueError
        When the requested engine cannot reproduce this estimator and corrector, or an
        option other than its default needs an engine that does not apply.
    """
    if requested == "auto":
        chosen = next(
            cls for cls in ENGINES.values() if cls.unsupported(estimator, corrector) is None
        )
    else:
        chosen = ENGINES[requested]
        reason = chosen.unsupported(estimator, corrector)
        if reason is not None:
            raise ValueError(
                f"engine={requested!r} does not support {reason}. Accepted: engine='auto' or "
                f"one of {', '.join(repr(n) for n in ENGINES if n != requested)}."
            )
    for option, value in options.items():
        owner = next((cls for cls in ENGINES.values() if option in cls.options), chosen)
        default = owner.options.get(option, value)
        if value != default and option not in chosen.options:
            raise ValueError(
                f"{option}={value!r} needs the {owner.name} engine, which does not apply here "
                f"(engine={requested!r}, {type(estimator).__name__}); accepted: "
                f"{option}={default!r}."
            )
    return chosen
