"""Fragility's search reports the same sets whatever the batch it confirms at once."""

import numpy as np
import pytest

from nimare_stability.diagnostics.fragility_search import Search, Units


class _Judge:
    """An exact judge with a fixed answer: the sets that sink each cluster; counts passes."""

    def __init__(self, sinking):
        self.answer = sinking
        self.passes = 0

    def sinking(self, tried):
        self.passes += 1
        return {
            index: [s for s in sets if s in self.answer[index]] for index, sets in tried.items()
        }


@pytest.mark.parametrize(("batch", "passes"), [(1, 4), (2, 2), (4, 1), (8, 1)])
def test_the_first_confirmed_set_does_not_depend_on_the_batch(batch, passes):
    units = Units(np.array(list("abcdef")))
    search = Search(units, [None, None], np.ones((6, 2)), np.array([5]), confirm_batch=batch)
    screened = {
        0: (1, [(0,), (1,), (2,), (3,), (4,)]),  # the screen's sets, best first
        1: (2, [(0, 1), (2, 3)]),
        2: (1, []),  # nothing to confirm
    }
    judge = _Judge({0: {(3,), (4,)}, 1: {(0, 1)}})
    confirmed = search._confirm(judge, screened)
    assert confirmed[0][0] == 1 and confirmed[0][1][0] == (3,)
    assert confirmed[1][0] == 2 and confirmed[1][1][0] == (0, 1)
    assert confirmed[2] == (1, [])
    assert judge.passes == passes


class _Hashed:
    """A judge whose answer for (cluster, set) is a fixed coin flip, more likely for larger
    sets (``p + q * size ** 3``); counts passes."""

    def __init__(self, seed, p, q):
        self.seed, self.p, self.q = seed, p, q
        self.passes = 0

    def sinks(self, index, removed):
        key = np.random.SeedSequence([self.seed, index, len(removed), *removed])
        return np.random.default_rng(key).random() < self.p + self.q * len(removed) ** 3

    def sinking(self, tried):
        self.passes += 1
        return {index: [s for s in sets if self.sinks(index, s)] for index, sets in tried.items()}


def _search(seed, ahead):
    rng = np.random.default_rng(seed)
    units = Units(np.repeat(np.arange(12), rng.integers(1, 4, 12)).astype(str))
    contributions = rng.random((12, 5)) * (rng.random((12, 5)) < 0.8)
    search = Search(units, [None] * 5, contributions, np.array([14]), 2, ahead=ahead)
    screen, exact = _Hashed(seed, 0.02, 0.001), _Hashed(seed + 1000, 0.5, 0)
    search.run(screen, exact, max_exact=2, max_removed=8, progress=False)
    return search.found, exact.passes


@pytest.mark.parametrize("seed", range(40))
def test_screening_and_confirming_ahead_finds_the_same_sets(seed):
    """Whatever the screen and exact judges say, judging every greedy size at once and
    confirming each cluster's next screened size alongside its last sets finds the same
    set for every cluster, in no more passes of the exact judge."""
    found, passes = _search(seed, ahead=False)
    found_ahead, passes_ahead = _search(seed, ahead=True)
    assert found_ahead == found
    assert passes_ahead <= passes


def test_confirming_ahead_saves_the_pass_of_the_next_size():
    """A cluster whose screened pair fails its confirmation is confirmed at the next
    (greedy) size in the same pass: one pass of the exact judge instead of two."""
    units = Units(np.array(list("abcdef")))
    contributions = np.array([[6.0], [5.0], [4.0], [3.0], [2.0], [1.0]])
    results = []
    for ahead in (False, True):
        search = Search(units, [None], contributions, np.array([5]), 4, ahead=ahead)
        screen = _Judge({0: {(0, 1), (0, 1, 2)}})
        exact = _Judge({0: {(0, 1, 2)}})
        search.run(screen, exact, max_exact=2, max_removed=4, progress=False)
        results.append((search.found, exact.passes))
    assert results == [({0: (3, (0, 1, 2))}, 2), ({0: (3, (0, 1, 2))}, 1)]
