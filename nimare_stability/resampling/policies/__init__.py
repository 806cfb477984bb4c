"""Resampling policies: which analyses each stability replicate retains.

A policy's ``split(ids, groups=None, strata=None, rng=None)`` yields sorted ``intp`` arrays
of retained positions into ``ids``. Random policies draw *distinct* subsets, reproducibly
from ``rng``, in the order drawn: the first ``n`` replicates of a schedule are the
schedule of ``n_resamples=n``. With ``n_resamples=None`` they enumerate every possible
subset (at most 1000). Policies are found by name through the
``nimare_stability.policies`` entry-point group; scikit-learn splitters are wrapped.
"""

import inspect
from importlib.metadata import entry_points

from nimare_stability.resampling.policies.adapters import ForeignPolicy, SplitterPolicy
from nimare_stability.resampling.policies.base import MAX_EXHAUSTIVE, BasePolicy
from nimare_stability.resampling.policies.builtin import (
    LeaveGroupOut,
    LeaveKOut,
    LeaveOneOut,
    StratifiedSubsample,
    Subsample,
    SubsampleGroups,
    SubsampleWithinStrata,
)

ENTRY_POINT_GROUP = "nimare_stability.policies"

__all__ = [
    "MAX_EXHAUSTIVE",
    "BasePolicy",
    "ForeignPolicy",
    "LeaveGroupOut",
    "LeaveKOut",
    "LeaveOneOut",
    "SplitterPolicy",
    "StratifiedSubsample",
    "Subsample",
    "SubsampleGroups",
    "SubsampleWithinStrata",
    "available_policies",
    "policy_name",
    "resolve_policy",
]


def available_policies():
    """Return the sorted policy names registered under ``nimare_stability.policies``."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def policy_name(policy):
    """Return the name a policy was given by, or its class name."""
    return policy if isinstance(policy, str) else type(policy).__name__


def resolve_policy(policy, k=None, target_n=None, n_resamples=None):
    """Turn a policy name, policy object or scikit-learn splitter into a policy.

    Parameters
    ----------
    policy : :obj:`str`, :class:`BasePolicy` or splitter
        A name from :func:`available_policies`, a :class:`BasePolicy` (returned as is),
        another object whose ``split`` takes ``rng`` (wrapped in :class:`ForeignPolicy`),
        or a splitter with ``split(X, y, groups)`` and ``get_n_splits`` (wrapped in
        :class:`SplitterPolicy`).
    k, target_n, n_resamples : optional
        Constructor arguments of a named policy; must be None otherwise.

    Returns
    -------
    :class:`BasePolicy`
    """
    options = {"k": k, "target_n": target_n, "n_resamples": n_resamples}
    given = {name: value for name, value in options.items() if value is not None}
    if isinstance(policy, str):
        return _wrap(_named_policy(policy, given))
    names = ", ".join(available_policies())
    if isinstance(policy, type) or not all(
        callable(getattr(policy, method, None)) for method in ("split", "get_n_splits")
    ):
        raise TypeError(
            f"resampling_policy={policy!r} is not supported; accepted: a policy name ({names}), "
            "or an instance of a policy or of a scikit-learn splitter."
        )
    if given:
        name, value = next(iter(given.items()))
        raise ValueError(
            f"{name}={value!r} cannot be combined with a resampling_policy object; accepted: "
            f"{name}=None (set it on the policy)."
        )
    return _wrap(policy)


def _named_policy(name, given):
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise ValueError(
            f"resampling_policy={name!r} is unknown; accepted: {', '.join(available_policies())}."
        )
    cls = found[0].load()
    params = inspect.signature(cls).parameters
    takes = ", ".join(params) or "(none)"
    for parameter, value in given.items():
        if parameter not in params:
            raise ValueError(
                f"{parameter}={value!r} is not used by resampling_policy={name!r}; "
                f"it takes: {takes}"
            )
    for parameter, param in params.items():
        if param.default is param.empty and parameter not in given:
            raise ValueError(f"resampling_policy={name!r} requires {parameter}; it takes: {takes}")
    return cls(**given)


def _wrap(policy):
    if isinstance(policy, BasePolicy):
        return policy
    if "rng" in inspect.signature(policy.split).parameters:
        return ForeignPolicy(policy)
    return SplitterPolicy(policy)
