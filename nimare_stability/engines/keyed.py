"""Keyed replicates: sets of retained analyses that a search names and judges in batches.

Fragility and FailSafeN search over replicates they choose one batch at a time (a batch of
removals, a batch of added null analyses). Each replicate is named by a *key* (a tuple of
ints: what it removes or adds), which fixes its seed whatever order it is judged in; each
batch goes through one engine's ``run``, so it is refit and re-corrected exactly as
ResampledStability's replicates are.
"""


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
    """

    def __init__(self, engine, seed_of, n_cores=1, progress=False):
        self.engine = engine
        self.seed_of = seed_of
        self.n_cores = n_cores
        self.progress = progress

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
        retained = [replicates[key] for key in keys]
        seeds = [self.seed_of(key) for key in keys]
        judged = dict(self.engine.run(retained, seeds, self.n_cores, self.progress))
        return {key: judged[index] for index, key in enumerate(keys)}
