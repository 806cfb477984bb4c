"""The built-in resampling policies.

Found by name through the ``nimare_stability.policies`` entry-point group.
"""

from nimare_stability.core.validation import check_number
from nimare_stability.resampling.policies.base import (
    SubsetPolicy,
    label_units,
    resolve_size,
    singletons,
)


class LeaveKOut(SubsetPolicy):
    """Drop ``k`` analyses per replicate.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    k : :obj:`int`
        Analyses left out, from 1 to n - 1.
    n_resamples : :obj:`int`, optional
        Number of distinct random subsets. If None, all ``C(n, k)`` subsets in
        ``itertools.combinations`` order of the left-out positions (at most 1000).

    Examples
    --------
    >>> from nimare_stability.policies import LeaveKOut
    >>> [s.tolist() for s in LeaveKOut(k=2).split(["a", "b", "c"])]
    [[2], [1], [0]]
    """

    _drop_chosen = True

    def __init__(self, k, n_resamples=None):
        self.k = k
        self.n_resamples = n_resamples

    def _space(self, n, groups, strata):
        if n < 2:
            raise ValueError(f"ids has {n} analysis; accepted: at least 2 analyses.")
        k = check_number(
            "k", self.k, 1, n - 1, integer=True, optional=False, context=f" for {n} analyses"
        )
        return [(singletons(range(n)), int(k))]

    def left_out_unit(self):
        """``"id"`` when ``k == 1`` (each replicate leaves out one analysis), else None."""
        return "id" if self.k == 1 else None


class LeaveOneOut(LeaveKOut):
    """Drop one analysis per replicate: ``n`` replicates, the i-th drops analysis i.

    .. versionadded:: 0.1.0

    Examples
    --------
    >>> from nimare_stability.policies import LeaveOneOut
    >>> [s.tolist() for s in LeaveOneOut().split(["a", "b", "c"])]
    [[1, 2], [0, 2], [0, 1]]
    """

    _max_exhaustive = None

    def __init__(self):
        super().__init__(k=1)


class Subsample(SubsetPolicy):
    """Retain ``target_n`` randomly chosen analyses per replicate.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_n : :obj:`int` or :obj:`float`
        Retained analyses: an int from 1 to n, or a fraction in (0, 1] of n, resolved as
        ``max(1, round(target_n * n))`` (Python's ``round``).
    n_resamples : :obj:`int`, optional
        Number of distinct random subsets; if None, all of them (at most 1000).

    Examples
    --------
    >>> import numpy as np
    >>> from nimare_stability.policies import Subsample
    >>> policy = Subsample(target_n=0.5, n_resamples=2)
    >>> [len(s) for s in policy.split(list("abcdef"), rng=np.random.default_rng(0))]
    [3, 3]
    """

    def __init__(self, target_n, n_resamples=None):
        self.target_n = target_n
        self.n_resamples = n_resamples

    def _space(self, n, groups, strata):
        return [(singletons(range(n)), resolve_size(self.target_n, n, "analyses"))]

    def within_strata(self):
        """Return the same ``target_n`` applied within each stratum."""
        return SubsampleWithinStrata(self.target_n, self.n_resamples)


class LeaveGroupOut(SubsetPolicy):
    """Drop one whole group per replicate, groups in order of first appearance.

    .. versionadded:: 0.1.0

    Examples
    --------
    >>> from nimare_stability.policies import LeaveGroupOut
    >>> [s.tolist() for s in LeaveGroupOut().split(list("abc"), groups=["x", "x", "y"])]
    [[2], [0, 1]]
    """

    uses_groups = True
    _drop_chosen = True
    _max_exhaustive = None

    def _space(self, n, groups, strata):
        units = label_units("groups", groups, n, required_by="LeaveGroupOut")
        if len(units) < 2:
            raise ValueError(f"groups has only {len(units)} group; accepted: at least 2 groups.")
        return [(units, 1)]

    def left_out_unit(self):
        """``"group"``: each replicate leaves out one group."""
        return "group"


class SubsampleGroups(Subsample):
    """Retain all analyses of ``target_n`` randomly chosen groups per replicate.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_n : :obj:`int` or :obj:`float`
        Retained groups: an int from 1 to the number of groups, or a fraction in (0, 1] of
        it, resolved as ``max(1, round(target_n * n_groups))``.
    n_resamples : :obj:`int`, optional
        Number of distinct random group subsets; if None, all (at most 1000).

    Examples
    --------
    >>> from nimare_stability.policies import SubsampleGroups
    >>> policy = SubsampleGroups(target_n=2)
    >>> [s.tolist() for s in policy.split(list("abcd"), groups=["x", "x", "y", "z"])]
    [[0, 1, 2], [0, 1, 3], [2, 3]]
    """

    uses_groups = True

    def _space(self, n, groups, strata):
        units = label_units("groups", groups, n, required_by="SubsampleGroups")
        return [(units, resolve_size(self.target_n, len(units), "groups"))]

    def within_strata(self):
        """None: grouped subsamples are not split by strata."""
        return None


class StratifiedSubsample(Subsample):
    """Retain ``target_n`` analyses per replicate, allocated to strata proportionally.

    Stratum s with ``n_s`` analyses gets ``floor(target_n * n_s / n)``; the leftover
    analyses go one each to the strata with the largest remainders (ties: first-appearing
    stratum first), so a stratum may get none when ``target_n`` is below the number of
    strata. Analyses are drawn at random within each stratum; there are
    ``prod_s C(n_s, allocation_s)`` possible subsets.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_n : :obj:`int` or :obj:`float`
        Retained analyses: an int from 1 to n, or a fraction in (0, 1] of n, resolved as
        ``max(1, round(target_n * n))``.
    n_resamples : :obj:`int`, optional
        Number of distinct random subsets; if None, all of them (at most 1000).

    Examples
    --------
    >>> from nimare_stability.policies import StratifiedSubsample
    >>> policy = StratifiedSubsample(target_n=2)
    >>> [s.tolist() for s in policy.split(list("abcd"), strata=["x", "x", "y", "y"])]
    [[0, 2], [0, 3], [1, 2], [1, 3]]
    """

    uses_strata = True

    def _space(self, n, groups, strata):
        units = label_units("strata", strata, n, required_by="StratifiedSubsample")
        target = resolve_size(self.target_n, n, "analyses")
        shares = [divmod(target * len(stratum), n) for stratum in units]
        allocation = [quota for quota, _ in shares]
        by_remainder = sorted(range(len(units)), key=lambda s: -shares[s][1])
        for s in by_remainder[: target - sum(allocation)]:
            allocation[s] += 1
        return [(singletons(stratum), r) for stratum, r in zip(units, allocation)]

    def within_strata(self):
        """None: the strata already shape the allocation."""
        return None


class SubsampleWithinStrata(Subsample):
    """Retain ``target_n`` randomly chosen analyses of EACH stratum per replicate.

    What a pairwise meta-analysis resampling both groups uses: the strata are the two
    groups, and ``target_n`` (an int, or a fraction of each group) applies within each.

    .. versionadded:: 0.1.0

    Examples
    --------
    >>> from nimare_stability.policies import SubsampleWithinStrata
    >>> policy = SubsampleWithinStrata(target_n=0.5)
    >>> [s.tolist() for s in policy.split(list("abcd"), strata=["x", "x", "y", "y"])]
    [[0, 2], [0, 3], [1, 2], [1, 3]]
    """

    uses_strata = True

    def _space(self, n, groups, strata):
        units = label_units("strata", strata, n, required_by="SubsampleWithinStrata")
        return [
            (singletons(stratum), resolve_size(self.target_n, len(stratum), "analyses"))
            for stratum in units
        ]

    def within_strata(self):
        """Itself: it already subsamples within strata."""
        return self


__all__ = [
    "LeaveGroupOut",
    "LeaveKOut",
    "LeaveOneOut",
    "StratifiedSubsample",
    "Subsample",
    "SubsampleGroups",
    "SubsampleWithinStrata",
]
