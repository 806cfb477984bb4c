"""A run's schedule: the replicates a policy drew, checked, with what was left out of each."""

import copy
from dataclasses import dataclass, replace

import numpy as np


def left_out_positions(retained, n_analyses):
    """Positions (sorted) of the analyses a replicate retaining ``retained`` leaves out."""
    return np.setdiff1d(np.arange(n_analyses), retained)


@dataclass(frozen=True)
class Schedule:
    """The replicates of a run and the policy, ids, groups and strata that drew them.

    Build with :meth:`draw`. ``splits`` holds one sorted ``intp`` array of retained
    positions into ``ids`` per replicate.
    """

    policy: object
    ids: np.ndarray
    groups: np.ndarray
    strata: np.ndarray
    splits: list

    @classmethod
    def draw(cls, policy, ids, groups, strata, rng, name):
        """Draw and check the replicates of ``policy``.

        Parameters
        ----------
        policy : :class:`~nimare_stability.policies.BasePolicy`
        ids : :class:`numpy.ndarray` of str
        groups, strata : :class:`numpy.ndarray` or None
        rng : :class:`numpy.random.Generator`
        name : :obj:`str`
            How the caller named the policy, for messages.

        Raises
        ------
        ValueError
            When the policy yields no replicate, or a replicate that is not a non-empty set
            of distinct integer positions into ``ids``.
        """
        splits = [
            _check_split(kept, index, ids.size, name)
            for index, kept in enumerate(policy.split(ids, groups=groups, strata=strata, rng=rng))
        ]
        if not splits:
            raise ValueError(
                f"resampling_policy={name!r} produced no replicates; accepted: a policy that "
                "yields at least one set of retained analyses."
            )
        return cls(policy, ids, groups, strata, splits)

    def __len__(self):
        return len(self.splits)

    def head(self, n_replicates):
        """Return the first ``n_replicates``: the schedule of ``n_resamples=n_replicates``.

        Random policies draw in order (a shorter schedule is the start of a longer one), so
        this is what a run asking for ``n_replicates`` draws.
        """
        if n_replicates == len(self):
            return self
        policy = copy.deepcopy(self.policy).set_params(n_resamples=n_replicates)
        return replace(self, policy=policy, splits=self.splits[:n_replicates])

    def _ask(self, question):
        return question(self.ids, groups=self.groups, strata=self.strata)

    def retained_size(self):
        """Analyses each replicate keeps, or None if it varies."""
        return self._ask(self.policy.retained_size)

    def n_possible_subsets(self):
        """How many distinct subsets the policy can draw (None: unknown)."""
        return self._ask(self.policy.n_possible_subsets)

    def is_exhaustive(self):
        """Whether the schedule enumerates every possible subset."""
        return bool(self._ask(self.policy.is_exhaustive))

    def left_out(self, index):
        """Positions of the analyses replicate ``index`` leaves out."""
        return left_out_positions(self.splits[index], self.ids.size)

    def influence_rows(self):
        """Return ``(row name, row labels)`` of the influence table, or None.

        None unless each replicate leaves out exactly one analysis or one group.
        """
        unit = self.policy.left_out_unit()
        if unit is None:
            return None
        labels = self.ids if unit == "id" else self.groups
        return unit, [labels[self.left_out(index)][0] for index in range(len(self))]


def capped_policy(policy, name, cap, ids, groups=None, strata=None):
    """Return a copy of ``policy`` drawing ``min(cap, M)`` random subsets (``n_resamples="auto"``).

    Raises
    ------
    ValueError
        When the policy draws no random subsets (it has no ``n_resamples``).
    """
    if "n_resamples" not in policy.get_params():
        raise ValueError(
            f"n_resamples='auto' needs a policy drawing random subsets; resampling_policy="
            f"{name!r} does not. Accepted: an int or None n_resamples, or a policy such as "
            "subsample, subsample_groups, stratified_subsample or leave_k_out."
        )
    policy = copy.deepcopy(policy).set_params(n_resamples=1)
    n_possible = policy.n_possible_subsets(ids, groups=groups, strata=strata)
    return policy.set_params(n_resamples=min(cap, n_possible))


def _check_split(kept, index, n_analyses, name):
    positions = np.asarray(kept)
    problem = None
    if positions.ndim != 1 or not np.issubdtype(positions.dtype, np.integer):
        problem = f"positions of dtype {positions.dtype} and shape {positions.shape}"
    elif positions.size == 0:
        problem = "no retained analysis"
    elif positions.min() < 0 or positions.max() >= n_analyses:
        problem = f"positions outside [0, {n_analyses}): {positions.min()}..{positions.max()}"
    elif np.unique(positions).size != positions.size:
        problem = "repeated positions"
    if problem is not None:
        raise ValueError(
            f"resampling_policy={name!r} yielded replicate {index} with {problem}; accepted: "
            f"distinct integer positions into the {n_analyses} analyses."
        )
    return np.sort(positions).astype(np.intp)
