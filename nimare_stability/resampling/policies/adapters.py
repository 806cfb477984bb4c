"""Policies that wrap objects written for other interfaces.

Scikit-learn splitters, and third-party policies that implement only ``split`` and
``get_n_splits``.
"""

import numpy as np

from nimare_stability.resampling.policies.base import BasePolicy, label_units, n_analyses


class SplitterPolicy(BasePolicy):
    """Wrap a scikit-learn style splitter; replicates retain its train indices.

    ``splitter.split`` gets ``X=np.zeros((n, 1))``, ``y=strata`` and ``groups=groups``;
    ``rng`` is ignored (the splitter has its own ``random_state``). M is unknown, so the
    schedule is never exhaustive.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    splitter : object
        With ``split(X, y=None, groups=None)`` and ``get_n_splits(X, y=None, groups=None)``,
        e.g. :class:`sklearn.model_selection.GroupKFold`.

    Examples
    --------
    >>> from sklearn.model_selection import KFold
    >>> from nimare_stability.policies import SplitterPolicy
    >>> [s.tolist() for s in SplitterPolicy(KFold(n_splits=2)).split(list("abcd"))]
    [[2, 3], [0, 1]]
    """

    uses_groups = True
    uses_strata = True

    def __init__(self, splitter):
        self.splitter = splitter

    def check(self, ids, groups=None, strata=None):
        """Raise if ``ids``, ``groups`` or ``strata`` are malformed; return n."""
        n = n_analyses(ids)
        label_units("groups", groups, n)
        label_units("strata", strata, n)
        return n

    def split(self, ids, groups=None, strata=None, rng=None):
        """Yield the splitter's train indices, sorted (checked by the schedule)."""
        n = self.check(ids, groups, strata)
        splits = self.splitter.split(np.zeros((n, 1)), y=strata, groups=groups)
        return (np.sort(np.asarray(train)) for train, _ in splits)

    def get_n_splits(self, ids, groups=None, strata=None):
        """Return the splitter's number of splits."""
        n = self.check(ids, groups, strata)
        return self.splitter.get_n_splits(np.zeros((n, 1)), y=strata, groups=groups)


class ForeignPolicy(SplitterPolicy):
    """Wrap a third-party policy object that implements only ``split`` and ``get_n_splits``.

    ``split(ids, groups, strata, rng)`` and ``get_n_splits(ids, groups, strata)`` are called
    with keywords.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    policy : object
    """

    def __init__(self, policy):
        self.policy = policy

    def split(self, ids, groups=None, strata=None, rng=None):
        """Yield the wrapped policy's retained positions, sorted (checked by the schedule)."""
        self.check(ids, groups, strata)
        splits = self.policy.split(ids, groups=groups, strata=strata, rng=rng)
        return (np.sort(np.asarray(kept)) for kept in splits)

    def get_n_splits(self, ids, groups=None, strata=None):
        """Return the wrapped policy's number of splits."""
        self.check(ids, groups, strata)
        return self.policy.get_n_splits(ids, groups=groups, strata=strata)
