"""Seeds: one ``random_state`` fixes every random choice of a run.

``numpy.random.SeedSequence(random_state)`` spawns, in this order, the schedule's stream,
the null engine's root (which spawns one stream per block of iterations), and one seed per
replicate. Spawning the null root even when no null engine runs keeps each replicate's seed
the same whatever engine is used.
"""

import numpy as np

from nimare_stability.core.validation import check_number


def check_random_state(random_state):
    """Validate ``random_state`` and return the int the run is seeded with.

    Parameters
    ----------
    random_state : int or None
        None draws fresh entropy once; the drawn value is returned so it can be recorded.

    Returns
    -------
    int
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return int(check_number("random_state", random_state, low=0, integer=True, also=" or None"))


class SeedPlan:
    """Spawn the streams of one run from its seed.

    Parameters
    ----------
    seed : int
        The value returned by :func:`check_random_state`.
    """

    def __init__(self, seed):
        self.seed = seed
        root = np.random.SeedSequence(seed)
        self._schedule, self.null_root, self._replicates = root.spawn(3)

    def schedule_rng(self):
        """Return a fresh :class:`numpy.random.Generator` for the resampling schedule."""
        return np.random.default_rng(self._schedule)

    def stream_rngs(self, n_streams):
        """Return ``n_streams`` independent Generators, children of the schedule's stream.

        For diagnostics whose random draws are not a schedule (FailSafeN's null analyses:
        one stream per drawer).
        """
        children = child_sequences(self._schedule, n_streams)
        return [np.random.default_rng(child) for child in children]

    def keyed_seed(self, key):
        """Return the int seed of a replicate named by ``key`` (a sequence of ints).

        A key always gives the same seed, whatever order replicates are judged in (the
        searches of Fragility and FailSafeN name a replicate by what it removes or adds).
        """
        return int(_descendant(self._replicates, key).generate_state(1)[0])

    def replicate_seeds(self, n_replicates):
        """Return one int seed per replicate, ``int(child.generate_state(1)[0])``."""
        return [int(child.generate_state(1)[0]) for child in self._replicates.spawn(n_replicates)]


def child_sequences(seed_sequence, n_children):
    """Return the first ``n_children`` children ``seed_sequence.spawn`` would give.

    The sequence itself is not advanced.
    """
    if not isinstance(seed_sequence, np.random.SeedSequence):
        seed_sequence = np.random.SeedSequence(seed_sequence)
    return [_descendant(seed_sequence, (b,)) for b in range(n_children)]


def _descendant(seed_sequence, key):
    """Return the SeedSequence reached from ``seed_sequence`` by spawn indices ``key``."""
    return np.random.SeedSequence(
        seed_sequence.entropy,
        spawn_key=(*seed_sequence.spawn_key, *map(int, key)),
        pool_size=seed_sequence.pool_size,
    )
