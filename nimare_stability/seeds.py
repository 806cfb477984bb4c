"""Seeds: one ``random_state`` fixes every random choice of a run.

``numpy.random.SeedSequence(random_state)`` spawns, in this order, the schedule's stream,
the null engine's root (which spawns one stream per block of iterations), and one seed per
replicate. Spawning the null root even when no null engine runs keeps each replicate's seed
the same whatever engine is used.
"""

import numbers

import numpy as np


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
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, numbers.Integral
    ):
        raise TypeError(
            f"random_state={random_state!r} is not accepted; accepted: a non-negative int "
            "or None."
        )
    if random_state < 0:
        raise ValueError(
            f"random_state={random_state} is negative; accepted: a non-negative int or None."
        )
    return int(random_state)


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
