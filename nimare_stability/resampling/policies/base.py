"""The policy interface and the machinery of the built-in policies.

Built-in policies draw distinct subsets as combinations of units (analyses or groups) from
one or more pools.
"""

import inspect
import itertools
import math
import numbers
from abc import ABC, abstractmethod

import numpy as np

from nimare_stability.core.validation import check_number

#: Random schedules enumerate every subset when ``n_resamples`` is None, up to this many.
MAX_EXHAUSTIVE = 1000


class BasePolicy(ABC):
    """Base class of resampling policies.

    A policy decides which analyses each replicate retains. Subclasses implement
    :meth:`split` and :meth:`get_n_splits`; the other methods answer the questions a
    diagnostic asks about a schedule, with defaults that suit a policy that knows nothing
    more (no grouping, not exhaustive, sizes unknown).

    Constructors only store their arguments, so :meth:`get_params` and :meth:`set_params`
    round-trip, as in scikit-learn.

    .. versionadded:: 0.1.0
    """

    #: Whether :meth:`split` reads ``groups`` / ``strata``; a diagnostic refuses labels a
    #: policy would ignore.
    uses_groups = False
    uses_strata = False

    @abstractmethod
    def split(self, ids, groups=None, strata=None, rng=None):
        """Yield sorted ``intp`` arrays of retained positions into ``ids``.

        Parameters
        ----------
        ids : sequence
            Analysis ids; only their number is used.
        groups, strata : array-like of hashable, optional
            One label per analysis.
        rng : :class:`numpy.random.Generator`, optional
            Source of randomness; ``np.random.default_rng()`` if None.
        """

    @abstractmethod
    def get_n_splits(self, ids, groups=None, strata=None):
        """Return the number of replicates :meth:`split` yields."""

    def check(self, ids, groups=None, strata=None):
        """Raise ``ValueError``/``TypeError`` if the policy cannot split these analyses."""
        self.get_n_splits(ids, groups=groups, strata=strata)

    def n_possible_subsets(self, ids, groups=None, strata=None):
        """Return M, the number of distinct subsets the policy can draw (None: unknown)."""
        return None

    def is_exhaustive(self, ids, groups=None, strata=None):
        """Return whether the schedule enumerates every possible subset."""
        return False

    def retained_size(self, ids, groups=None, strata=None):
        """Return the number of analyses each replicate keeps, or None if it varies."""
        return None

    def left_out_unit(self):
        """Return the unit each replicate leaves out exactly one of, or None.

        ``"id"`` (one analysis) or ``"group"`` (one group): the rows of an influence table.
        """
        return None

    def within_strata(self):
        """Return the policy that applies this one's size within each stratum, or None.

        A pairwise meta-analysis resampling both groups passes its group membership as
        strata to the returned policy.
        """
        return None

    def get_params(self, deep=True):
        """Return the constructor arguments as a dict (``deep`` is accepted and unused)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def set_params(self, **params):
        """Set constructor arguments; return the policy.

        Raises
        ------
        ValueError
            For a name the constructor does not take.
        """
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{name}={value!r} is not a parameter of {type(self).__name__}; "
                    f"accepted: {', '.join(valid) or '(none)'}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({args})"


def n_analyses(ids):
    """Return ``len(ids)``; raise when ``ids`` is no sequence or empty."""
    try:
        n = len(ids)
    except TypeError:
        raise TypeError(f"ids={ids!r} is not a sequence; accepted: analysis ids.") from None
    if n == 0:
        raise ValueError("ids is empty; accepted: at least one analysis id.")
    return n


def label_units(name, labels, n, required_by=None):
    """Positions of each distinct label, labels in order of first appearance.

    Returns None when ``labels`` is None and no policy (``required_by``) needs them.
    """
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


def singletons(positions):
    """One unit per position."""
    return list(np.asarray(positions, dtype=np.intp).reshape(-1, 1))


def resolve_size(target_n, total, unit):
    """Resolve an int count, or a fraction of ``total``, to an int count."""
    also = " or a float fraction in (0, 1]"
    if isinstance(target_n, numbers.Real) and not isinstance(target_n, numbers.Integral):
        if 0 < target_n <= 1:
            return max(1, round(target_n * total))
        raise ValueError(
            f"target_n={target_n!r} is not a fraction in (0, 1]; "
            f"accepted: an int from 1 to {total}{also}."
        )
    return int(
        check_number(
            "target_n",
            target_n,
            1,
            total,
            integer=True,
            optional=False,
            context=f" for {total} {unit}",
            also=also,
        )
    )


class SubsetPolicy(BasePolicy):
    """Distinct subsets drawn as combinations of units from one or more pools.

    Subclasses implement ``_space(n, groups, strata)``, returning a list of ``(units, r)``
    pairs: ``units`` is a list of position arrays, ``r`` how many of them a replicate
    chooses. A replicate retains the chosen positions, or all the others when
    ``_drop_chosen`` is True. ``n_resamples=None`` enumerates all subsets, allowed up to
    ``_max_exhaustive`` (None: no cap).
    """

    n_resamples = None
    _drop_chosen = False
    _max_exhaustive = MAX_EXHAUSTIVE

    @abstractmethod
    def _space(self, n, groups, strata):
        """Return the pools of units and how many units of each a replicate chooses."""

    def _schedule(self, ids, groups, strata):
        n = n_analyses(ids)
        space = self._space(n, groups, strata)
        n_possible = math.prod(math.comb(len(units), r) for units, r in space)
        if self.n_resamples is not None:
            n_draws = check_number(
                "n_resamples",
                self.n_resamples,
                1,
                n_possible,
                integer=True,
                context=f" for the {n_possible} possible subsets",
            )
            return n, space, n_possible, int(n_draws)
        if self._max_exhaustive is not None and n_possible > self._max_exhaustive:
            raise ValueError(
                f"n_resamples=None asks {self!r} for all {n_possible} possible subsets, more than "
                f"{self._max_exhaustive}; accepted: an int n_resamples from 1 to {n_possible}."
            )
        return n, space, n_possible, n_possible

    def get_n_splits(self, ids, groups=None, strata=None):
        """Return the number of replicates :meth:`split` yields."""
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
        """Yield sorted ``intp`` arrays of retained positions (see :meth:`BasePolicy.split`)."""
        schedule = self._schedule(ids, groups, strata)
        return self._iter_splits(*schedule, np.random.default_rng(rng))

    def _iter_splits(self, n, space, n_possible, n_draws, rng):
        everything = np.arange(n, dtype=np.intp)
        enumerate_all = self.n_resamples is None
        for pick in _draw_combinations(space, n_possible, n_draws, rng, enumerate_all):
            chosen = [units[i] for (units, _), idx in zip(space, pick) for i in idx]
            chosen = np.concatenate(chosen) if chosen else everything[:0]
            if self._drop_chosen:
                yield np.setdiff1d(everything, chosen, assume_unique=True)
            else:
                yield np.sort(chosen)


def _draw_combinations(space, n_possible, n_draws, rng, enumerate_all):
    """Distinct tuples of per-pool index combinations.

    ``enumerate_all``: every one, in ``itertools.product`` of ``itertools.combinations``
    order. Otherwise ``n_draws`` at random, in the order drawn: a random permutation of all
    of them when there are at most :data:`MAX_EXHAUSTIVE`, else draws with the repeats
    skipped. Either way the stream does not depend on ``n_draws``, so a schedule of ``n``
    draws is the first ``n`` replicates of any longer one from the same ``rng``.
    """
    pools = [(len(units), r) for units, r in space]
    if enumerate_all or n_possible <= MAX_EXHAUSTIVE:
        # product() materializes each pool's combinations, at most M of them
        every = itertools.product(*(itertools.combinations(range(p), r) for p, r in pools))
        if enumerate_all:
            yield from every
            return
        every = list(every)
        yield from (every[i] for i in rng.permutation(n_possible)[:n_draws])
        return
    seen = set()
    while len(seen) < n_draws:
        pick = (np.sort(rng.choice(p, r, replace=False)) for p, r in pools)
        pick = tuple(tuple(idx.tolist()) for idx in pick)
        if pick not in seen:
            seen.add(pick)
            yield pick
