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
