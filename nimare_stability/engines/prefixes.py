"""States of a computation over sorted rows, kept for later sets that start alike.

ALE's statistic map and its approximate-null histogram are both built by adding a set's
analyses one by one, in row order. Two sets that start with the same rows share the state
after those rows: FailSafeN's replicates (the real analyses plus the first ``m`` null
ones) share every row up to their last null one, and a set that leaves analyses out
shares every row before the first one it drops. :class:`KeptPrefixes` keeps such states
every ``step`` rows; going on from the longest kept one adds the same rows in the same
order, so the result is the one computed from scratch.
"""

import threading
from collections import OrderedDict


class KeptPrefixes:
    """States after the first ``n`` rows of sets, for ``n`` a multiple of ``step``.

    Parameters
    ----------
    step : int
        States are kept after every ``step`` rows.
    max_kept : int
        States kept at most (the least recently used is dropped first).

    Safe to share between threads.
    """

    def __init__(self, step, max_kept):
        self.step = step
        self.max_kept = max_kept
        self._kept = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"step": self.step, "max_kept": self.max_kept}  # a copy starts empty

    def __setstate__(self, state):
        self.__init__(**state)

    def __len__(self):
        return len(self._kept)

    def longest(self, rows, tag=None, usable=None):
        """Return ``(n, state)``: the most first rows of ``rows`` kept, and their state.

        ``(0, None)`` when none is kept. ``tag`` tells computations apart (it is part of
        the key); ``usable(state)``, when given, must be true of the state returned.
        """
        with self._lock:
            for n in range(len(rows) // self.step * self.step, 0, -self.step):
                key = (tag, rows[:n].tobytes())
                state = self._kept.get(key)
                if state is not None and (usable is None or usable(state)):
                    self._kept.move_to_end(key)
                    return n, state
        return 0, None

    def keep(self, first_rows, state, tag=None):
        """Keep ``state``, the state after ``first_rows`` (not copied: do not change it)."""
        key = (tag, first_rows.tobytes())
        with self._lock:
            self._kept[key] = state
            self._kept.move_to_end(key)
            if len(self._kept) > self.max_kept:
                self._kept.popitem(last=False)
