"""Resampling policies: which analyses each stability replicate retains.

A policy's ``split(ids, groups=None, strata=None, rng=None)`` yields sorted
``intp`` arrays of retained positions into ``ids``. Random policies draw
*distinct* subsets, reproducibly from ``rng``, in a deterministic order; with
``n_resamples=None`` they enumerate every possible subset (at most 1000).
"""

import inspect
import itertools
import math
import numbers
from importlib.metadata import entry_points

import numpy as np

ENTRY_POINT_GROUP = "nimare_stability.policies"
MAX_EXHAUSTIVE = 1000


def _check_int(name, value, low, high, context, alternative=""):
    """Return ``value`` as an int in [low, high]; raise naming ``name`` otherwise."""
    accepted = f"accepted: an int from {low} to {high}{alternative}."
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} is not an int; {accepted}")
    if not low <= value <= high:
        raise ValueError(f"{name}={value!r} is out of range {context}; {accepted}")
    return int(value)


def _resolve_target(target_n, total, unit):
    """Resolve an int count, or a fraction of ``total``, to an int count."""
    alternative = " or a float fraction in (0, 1]"
    if isinstance(target_n, numbers.Real) and not isinstance(target_n, numbers.Integral):
        if 0 < target_n <= 1:
            return max(1, round(target_n * total))
        raise ValueError(
            f"target_n={target_n!r} is not a fraction in (0, 1]; "
            f"accepted: an int from 1 to {total}{alternative}."
        )
    return _check_int("target_n", target_n, 1, total, f"for {total} {unit}", alternative)


def _n_analyses(ids):
    try:
        n = len(ids)
    except TypeError:
        raise TypeError(f"ids={ids!r} is not a sequence; accepted: analysis ids.") from None
    if n == 0:
        raise ValueError("ids is empty; accepted: at least one analysis id.")
    return n


def _label_units(name, labels, n, required_by=None):
    """Positions of each distinct label, labels in order of first appearance."""
    if labels is None:
        if required_by is None:
            return None
        raise ValueError(f"{name}=None, but {required_by} requires one {name} label per analysis.")
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} labels for {n} analyses; accepted: one each.")
    units = {}
    try:
        for pos, label in enumerate(labels):
            units.setdefault(label, []).append(pos)
    except TypeError:
        raise TypeError(f"{name} has an unhashable label; accepted: hashable labels.") from None
    return [np.asarray(pos, dtype=np.intp) for pos in units.values()]


def _singletons(positions):
    return list(np.asarray(positions, dtype=np.intp).reshape(-1, 1))


class BasePolicy:
    """Base class of resampling policies, with ``get_params`` and ``repr``."""

    def get_params(self):
        """Return the constructor arguments as a dict."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({args})"


class _SubsetPolicy(BasePolicy):
    """Distinct subsets drawn as combinations of units from one or more pools.

    Subclasses implement ``_space(n, groups, strata)``, returning a list of
    ``(units, r)`` pairs: ``units`` is a list of position arrays, ``r`` how
    many of them a replicate chooses. A replicate retains the chosen positions,
    or all the others when ``_drop_chosen`` is True. ``n_resamples=None``
    enumerates all subsets, allowed up to ``_max_exhaustive`` (None: no cap).
    """

    n_resamples = None
    _drop_chosen = False
    _max_exhaustive = MAX_EXHAUSTIVE

    def _schedule(self, ids, groups, strata):
        n = _n_analyses(ids)
        space = self._space(n, groups, strata)
        n_possible = math.prod(math.comb(len(units), r) for units, r in space)
        if self.n_resamples is not None:
            context = f"for the {n_possible} possible subsets"
            n_draws = _check_int("n_resamples", self.n_resamples, 1, n_possible, context)
            return n, space, n_possible, n_draws
        if self._max_exhaustive is not None and n_possible > self._max_exhaustive:
            raise ValueError(
                f"n_resamples=None asks {self!r} for all {n_possible} possible subsets, more than "
                f"{self._max_exhaustive}; accepted: an int n_resamples from 1 to {n_possible}."
            )
        return n, space, n_possible, n_possible

    def check(self, ids, groups=None, strata=None):
        """Raise ``ValueError``/``TypeError`` if the policy cannot split these analyses."""
        self._schedule(ids, groups, strata)

    def get_n_splits(self, ids, groups=None, strata=None):
        """Return the number of replicates ``split`` yields."""
        return self._schedule(ids, groups, strata)[3]

    def n_possible_subsets(self, ids, groups=None, strata=None):
        """Return M, the number of distinct subsets the policy can draw."""
        return self._schedule(ids, groups, strata)[2]

    def is_exhaustive(self, ids, groups=None, strata=None):
        """Return whether the schedule enumerates every possible subset."""
        _, _, n_possible, n_draws = self._schedule(ids, groups, strata)
        return n_draws == n_possible

    def retained_size(self, ids, groups=None, strata=None):
        """Return the number of analyses each replicate keeps, or None if it varies."""
        n, space, _, _ = self._schedule(ids, groups, strata)
        n_chosen = 0
        for units, r in space:
            sizes = sorted(len(unit) for unit in units)
            if 0 < r < len(units) and sizes[0] != sizes[-1]:
                return None
            n_chosen += sum(sizes) if r == len(units) else r * sizes[0]
        return n - n_chosen if self._drop_chosen else n_chosen

    def split(self, ids, groups=None, strata=None, rng=None):
        """Yield sorted ``intp`` arrays of retained positions into ``ids``.

        Parameters
        ----------
        ids : sequence
            Analysis ids; only their number is used.
        groups, strata : array-like of hashable, optional
            One label per analysis.
        rng : numpy.random.Generator, optional
            Source of randomness; ``np.random.default_rng()`` if None.
        """
        schedule = self._schedule(ids, groups, strata)
        return self._iter_splits(*schedule, np.random.default_rng(rng))

    def _iter_splits(self, n, space, n_possible, n_draws, rng):
        everything = np.arange(n, dtype=np.intp)
        for pick in _draw_combinations(space, n_possible, n_draws, rng):
            chosen = [units[i] for (units, _), idx in zip(space, pick) for i in idx]
            chosen = np.concatenate(chosen) if chosen else everything[:0]
            if self._drop_chosen:
                yield np.setdiff1d(everything, chosen, assume_unique=True)
            else:
                yield np.sort(chosen)


def _draw_combinations(space, n_possible, n_draws, rng):
    """Distinct tuples of per-pool index combinations, in lexicographic order."""
    pools = [(len(units), r) for units, r in space]
    if n_draws == n_possible or n_possible <= MAX_EXHAUSTIVE or 2 * n_draws > n_possible:
        # product() materializes each pool's combinations, at most M of them
        every = itertools.product(*(itertools.combinations(range(p), r) for p, r in pools))
        if n_draws == n_possible:
            yield from every
            return
        every = list(every)
        yield from (every[i] for i in np.sort(rng.choice(n_possible, n_draws, replace=False)))
    else:  # rejection sampling: each draw is new with probability above 1/2
        seen = set()
        while len(seen) < n_draws:
            pick = (np.sort(rng.choice(p, r, replace=False)) for p, r in pools)
            seen.add(tuple(tuple(idx.tolist()) for idx in pick))
        yield from sorted(seen)


class LeaveKOut(_SubsetPolicy):
    """Drop ``k`` analyses per replicate.

    Parameters
    ----------
    k : int
        Analyses left out, from 1 to n - 1.
    n_resamples : int, optional
        Number of distinct random subsets. If None, all ``C(n, k)`` subsets in
        ``itertools.combinations`` order of the left-out positions (at most 1000).
    """

    _drop_chosen = True

    def __init__(self, k, n_resamples=None):
        self.k = k
        self.n_resamples = n_resamples

    def _space(self, n, groups, strata):
        if n < 2:
            raise ValueError(f"ids has {n} analysis; accepted: at least 2 analyses.")
        return [(_singletons(range(n)), _check_int("k", self.k, 1, n - 1, f"for {n} analyses"))]


class LeaveOneOut(LeaveKOut):
    """Drop one analysis per replicate: ``n`` replicates, the i-th drops analysis i."""

    _max_exhaustive = None

    def __init__(self):
        super().__init__(k=1)


class _TargetSizePolicy(_SubsetPolicy):
    """Base of the policies that retain ``target_n`` units per replicate."""

    def __init__(self, target_n, n_resamples=None):
        self.target_n = target_n
        self.n_resamples = n_resamples


class Subsample(_TargetSizePolicy):
    """Retain ``target_n`` randomly chosen analyses per replicate.

    Parameters
    ----------
    target_n : int or float
        Retained analyses: an int from 1 to n, or a fraction in (0, 1] of n,
        resolved as ``max(1, round(target_n * n))`` (Python's ``round``).
    n_resamples : int, optional
        Number of distinct random subsets; if None, all of them (at most 1000).
    """

    def _space(self, n, groups, strata):
        return [(_singletons(range(n)), _resolve_target(self.target_n, n, "analyses"))]


class LeaveGroupOut(_SubsetPolicy):
    """Drop one whole group per replicate, groups in order of first appearance."""

    _drop_chosen = True
    _max_exhaustive = None

    def _space(self, n, groups, strata):
        units = _label_units("groups", groups, n, required_by="LeaveGroupOut")
        if len(units) < 2:
            raise ValueError(f"groups has only {len(units)} group; accepted: at least 2 groups.")
        return [(units, 1)]


class SubsampleGroups(_TargetSizePolicy):
    """Retain all analyses of ``target_n`` randomly chosen groups per replicate.

    Parameters
    ----------
    target_n : int or float
        Retained groups: an int from 1 to the number of groups, or a fraction in
        (0, 1] of it, resolved as ``max(1, round(target_n * n_groups))``.
    n_resamples : int, optional
        Number of distinct random group subsets; if None, all (at most 1000).
    """

    def _space(self, n, groups, strata):
        units = _label_units("groups", groups, n, required_by="SubsampleGroups")
        return [(units, _resolve_target(self.target_n, len(units), "groups"))]


class StratifiedSubsample(_TargetSizePolicy):
    """Retain ``target_n`` analyses per replicate, allocated to strata proportionally.

    Stratum s with ``n_s`` analyses gets ``floor(target_n * n_s / n)``; the
    leftover analyses go one each to the strata with the largest remainders
    (ties: first-appearing stratum first), so a stratum may get none when
    ``target_n`` is below the number of strata. Analyses are drawn at random
    within each stratum; there are ``prod_s C(n_s, allocation_s)`` possible
    subsets.

    Parameters
    ----------
    target_n : int or float
        Retained analyses: an int from 1 to n, or a fraction in (0, 1] of n,
        resolved as ``max(1, round(target_n * n))``.
    n_resamples : int, optional
        Number of distinct random subsets; if None, all of them (at most 1000).
    """

    def _space(self, n, groups, strata):
        units = _label_units("strata", strata, n, required_by="StratifiedSubsample")
        target = _resolve_target(self.target_n, n, "analyses")
        shares = [divmod(target * len(stratum), n) for stratum in units]
        allocation = [quota for quota, _ in shares]
        by_remainder = sorted(range(len(units)), key=lambda s: -shares[s][1])
        for s in by_remainder[: target - sum(allocation)]:
            allocation[s] += 1
        return [(_singletons(stratum), r) for stratum, r in zip(units, allocation)]


class SubsampleWithinStrata(_TargetSizePolicy):
    """Retain ``target_n`` randomly chosen analyses of EACH stratum per replicate.

    What a pairwise meta-analysis resampling both groups uses: the strata are the two
    groups, and ``target_n`` (an int, or a fraction of each group) applies within each.
    """

    def _space(self, n, groups, strata):
        units = _label_units("strata", strata, n, required_by="SubsampleWithinStrata")
        return [
            (_singletons(stratum), _resolve_target(self.target_n, len(stratum), "analyses"))
            for stratum in units
        ]


class SplitterPolicy(BasePolicy):
    """Wrap a scikit-learn style splitter; replicates retain its train indices.

    ``splitter.split`` gets ``X=np.zeros((n, 1))``, ``y=strata`` and
    ``groups=groups``; ``rng`` is ignored (the splitter has its own
    ``random_state``). M is unknown, so the schedule is never exhaustive.
    """

    def __init__(self, splitter):
        self.splitter = splitter

    def check(self, ids, groups=None, strata=None):
        """Raise if ``ids``, ``groups`` or ``strata`` are malformed; return n."""
        n = _n_analyses(ids)
        _label_units("groups", groups, n)
        _label_units("strata", strata, n)
        return n

    def split(self, ids, groups=None, strata=None, rng=None):
        """Yield the splitter's train indices, sorted, as ``intp`` arrays."""
        n = self.check(ids, groups, strata)
        splits = self.splitter.split(np.zeros((n, 1)), y=strata, groups=groups)
        return (np.sort(np.asarray(train, dtype=np.intp)) for train, _ in splits)

    def get_n_splits(self, ids, groups=None, strata=None):
        """Return the splitter's number of splits."""
        n = self.check(ids, groups, strata)
        return self.splitter.get_n_splits(np.zeros((n, 1)), y=strata, groups=groups)

    def n_possible_subsets(self, ids, groups=None, strata=None):
        return None

    def is_exhaustive(self, ids, groups=None, strata=None):
        return False

    def retained_size(self, ids, groups=None, strata=None):
        return None


def available_policies():
    """Return the sorted policy names registered under ``nimare_stability.policies``."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def resolve_policy(policy, k=None, target_n=None, n_resamples=None):
    """Turn a policy name, policy object or scikit-learn splitter into a policy.

    Parameters
    ----------
    policy : str, policy or splitter
        A name from :func:`available_policies`, an object whose ``split``
        takes ``rng`` (returned as is), or a splitter with
        ``split(X, y, groups)`` and ``get_n_splits`` (wrapped in
        :class:`SplitterPolicy`).
    k, target_n, n_resamples : optional
        Constructor arguments of a named policy; must be None otherwise.
    """
    options = {"k": k, "target_n": target_n, "n_resamples": n_resamples}
    given = {name: value for name, value in options.items() if value is not None}
    names = ", ".join(available_policies())
    if isinstance(policy, str):
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == policy]
        if not found:
            raise ValueError(f"resampling_policy={policy!r} is unknown; accepted: {names}.")
        cls = found[0].load()
        params = inspect.signature(cls).parameters
        takes = ", ".join(params) or "(none)"
        for name, value in given.items():
            if name not in params:
                raise ValueError(
                    f"{name}={value!r} is not used by resampling_policy={policy!r}; "
                    f"it takes: {takes}"
                )
        for name, param in params.items():
            if param.default is param.empty and name not in given:
                raise ValueError(
                    f"resampling_policy={policy!r} requires {name}; it takes: {takes}"
                )
        return cls(**given)
    if isinstance(policy, type) or not all(
        callable(getattr(policy, method, None)) for method in ("split", "get_n_splits")
    ):
        raise TypeError(
            f"resampling_policy={policy!r} is not supported; accepted: a policy name ({names}), "
            "or an instance of a policy or of a scikit-learn splitter."
        )
    if given:
        name, value = next(iter(given.items()))
        raise ValueError(f"{name}={value!r} cannot be combined with a resampling_policy object.")
    if "rng" in inspect.signature(policy.split).parameters:
        return policy
    return SplitterPolicy(policy)
