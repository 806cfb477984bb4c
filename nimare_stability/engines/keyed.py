"""Keyed replicates: sets of retained analyses that a search names and judges in batches.

Fragility and FailSafeN search over replicates they choose one batch at a time (a batch of
removals, a batch of added null analyses). Each replicate is named by a *key* (a tuple of
ints: what it removes or adds), which fixes its seed whatever order it is judged in; each
batch goes through one engine's ``run``, so it is refit and re-corrected exactly as
ResampledStability's replicates are. With a checkpoint, each replicate's support is saved
under its key, and the engine's shared work under the batch's keys: a resumed search
judges only what it had not.
"""

import hashlib

from nimare_stability.engines.batches import judge_resumable


class Judge:
    """Judge batches of keyed replicates with one engine.

    Parameters
    ----------
    engine : :class:`~nimare_stability.engines.Engine`
        An engine instance (its inputs fix the estimator, corrector and support rule).
    seed_of : callable
        Maps a replicate's key (a tuple of ints naming it) to its int seed.
    n_cores : int
    progress : bool
    store : :class:`~nimare_stability.engines.checkpoint.Checkpoint`, optional
        Where supports (``replicate-<key>``) and the engine's shared work are kept.
    """

    def __init__(self, engine, seed_of, n_cores=1, progress=False, store=None):
        self.engine = engine
        self.seed_of = seed_of
        self.n_cores = n_cores
        self.progress = progress
        self.store = store

    def __call__(self, replicates):
        """Return the :class:`~nimare_stability.core.support.Support` of each replicate.

        Parameters
        ----------
        replicates : dict
            Key (tuple of ints) -> sorted int array of retained positions.

        Returns
        -------
        dict
            Key -> Support.
        """
        keys = list(replicates)
        if not keys:
            return {}
        names = ["-".join(str(int(part)) for part in key) for key in keys]
        judged = dict(
            judge_resumable(
                self.engine,
                [replicates[key] for key in keys],
                [self.seed_of(key) for key in keys],
                self.n_cores,
                self.progress,
                self.store,
                [f"replicate-{name}" for name in names],
                f"batch-{hashlib.sha256(' '.join(names).encode()).hexdigest()[:16]}",
            )
        )
        return {key: judged[index] for index, key in enumerate(keys)}
