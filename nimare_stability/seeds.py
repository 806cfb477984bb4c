"""Seeds: one ``random_state`` fixes every random choice of a run.

``numpy.random.SeedSequence(random_state)`` spawns, in this order, the schedule's stream,
the null engine's root (which spawns one stream per block of iterations), and one seed per
replicate. Spawning the null root even when no null engine runs keeps each replicate's seed
the same whatever engine is used.
"""

import numpy as np

from nimare_stability._validation import check_number


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

    def replicate_seeds(self, n_replicates):
        """Return one int seed per replicate, ``int(child.generate_state(1)[0])``."""
        return [int(child.generate_state(1)[0]) for child in self._replicates.spawn(n_replicates)]
