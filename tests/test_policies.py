"""Tests for nimare_stability.policies."""

import doctest
import itertools
import math
from collections import Counter

import numpy as np
import pytest
from nimare_stability.policies import (
    LeaveGroupOut,
    LeaveKOut,
    LeaveOneOut,
    SplitterPolicy,
    StratifiedSubsample,
    Subsample,
    SubsampleGroups,
    adapters,
    available_policies,
    builtin,
    resolve_policy,
)
from sklearn.model_selection import GroupKFold, KFold

IDS = [f"study{i}-1" for i in range(8)]
BUILTINS = {
    "leave_1_out": (LeaveOneOut, {}),
    "leave_k_out": (LeaveKOut, {"k": 2}),
    "subsample": (Subsample, {"target_n": 5}),
    "leave_group_out": (LeaveGroupOut, {}),
    "subsample_groups": (SubsampleGroups, {"target_n": 2}),
    "stratified_subsample": (StratifiedSubsample, {"target_n": 4}),
}


def _schedule(policy, ids=IDS, seed=0, **labels):
    return [tuple(s) for s in policy.split(ids, rng=np.random.default_rng(seed), **labels)]


def test_available_policies_lists_the_six_builtins():
    assert available_policies() == sorted(BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_resolves_by_name_through_entry_points(name):
    cls, params = BUILTINS[name]
    policy = resolve_policy(name, **params)
    assert type(policy) is cls
    assert policy.get_params() == {**policy.get_params(), **params}


def test_leave_one_out_drops_each_analysis_in_position_order():
    splits = list(LeaveOneOut().split(IDS))
    assert len(splits) == LeaveOneOut().get_n_splits(IDS) == 8
    for i, kept in enumerate(splits):
        assert kept.dtype == np.intp
        np.testing.assert_array_equal(kept, np.delete(np.arange(8), i))


def test_exhaustive_leave_k_out_yields_all_subsets_in_combinations_order():
    splits = list(LeaveKOut(k=3).split(IDS))
    expected = [
        tuple(sorted(set(range(8)) - set(out))) for out in itertools.combinations(range(8), 3)
    ]
    assert [tuple(s) for s in splits] == expected
    assert len(set(expected)) == math.comb(8, 3)
    assert all(s.dtype == np.intp and len(s) == 5 for s in splits)


@pytest.mark.parametrize(
    "policy, n",
    [
        (LeaveKOut(k=2, n_resamples=10), 8),  # small M: enumerate and choose
        (Subsample(target_n=20, n_resamples=30), 40),  # large M: rejection sampling
        (Subsample(target_n=3, n_resamples=50), 8),  # n_resamples > M / 2
    ],
)
def test_random_schedules_are_distinct_sorted_and_reproducible(policy, n):
    ids = list(range(n))
    first = _schedule(policy, ids, seed=1)
    assert len(first) == len(set(first)) == policy.get_n_splits(ids)
    assert all(list(s) == sorted(set(s)) for s in first)
    assert first == _schedule(policy, ids, seed=1)
    assert first != _schedule(policy, ids, seed=2)


def test_leave_k_out_random_subsets_leave_k_out():
    splits = _schedule(LeaveKOut(k=4, n_resamples=25), list(range(30)))
    assert {len(s) for s in splits} == {26}


@pytest.mark.parametrize(
    "make, labels",
    [
        (lambda n: LeaveKOut(k=2, n_resamples=n), {}),  # M = 28: a random permutation
        (lambda n: Subsample(target_n=20, n_resamples=n), {}),  # M huge: skip repeats
        (lambda n: SubsampleGroups(target_n=3, n_resamples=n), {"groups": list("aabbccdd")}),
        (lambda n: StratifiedSubsample(target_n=4, n_resamples=n), {"strata": list("xxxxyyyy")}),
    ],
)
def test_a_shorter_random_schedule_is_the_start_of_a_longer_one(make, labels):
    ids = list(range(8)) if "groups" in labels or "strata" in labels else list(range(40))
    ids = ids if make(1).get_params().get("k") is None else IDS
    longer = _schedule(make(4), ids, seed=3, **labels)
    for n in (1, 2, 3):
        assert _schedule(make(n), ids, seed=3, **labels) == longer[:n]
    assert len(set(longer)) == 4


def test_all_subsets_drawn_at_random_come_in_random_order():
    every = _schedule(LeaveKOut(k=2), IDS)  # n_resamples=None: combinations order
    drawn = _schedule(LeaveKOut(k=2, n_resamples=28), IDS, seed=5)
    assert sorted(drawn) == sorted(every) and drawn != every
    assert LeaveKOut(k=2, n_resamples=28).is_exhaustive(IDS)


def test_subsample_fraction_is_rounded_share_of_analyses():
    policy = Subsample(target_n=0.3, n_resamples=5)
    assert policy.retained_size(list(range(25))) == 8  # round(7.5) == 8
    assert {len(s) for s in _schedule(policy, list(range(25)))} == {8}
    assert Subsample(target_n=0.01).retained_size(IDS) == 1


def test_subsample_with_none_enumerates_all_subsets():
    splits = _schedule(Subsample(target_n=6), IDS)
    assert splits == list(itertools.combinations(range(8), 6))


def test_leave_group_out_drops_each_whole_group_once():
    groups = ["b", "a", "b", "c", "a", "b", "c", "d"]
    policy = LeaveGroupOut()
    splits = list(policy.split(IDS, groups=groups))
    assert policy.get_n_splits(IDS, groups=groups) == len(splits) == 4
    dropped = [sorted(set(range(8)) - set(s)) for s in splits]
    by_group = {g: [i for i, x in enumerate(groups) if x == g] for g in "bacd"}
    assert dropped == list(by_group.values())  # order of first appearance
    assert policy.retained_size(IDS, groups=groups) is None
    assert policy.retained_size(IDS, groups=list("aabbccdd")) == 6


def test_subsample_groups_retains_whole_groups():
    groups = np.array(["g1", "g1", "g2", "g3", "g3", "g3", "g4", "g5"])
    policy = SubsampleGroups(target_n=0.4)  # 2 of 5 groups
    splits = list(policy.split(IDS, groups=groups, rng=np.random.default_rng(0)))
    assert len(splits) == math.comb(5, 2)
    for kept in splits:
        kept_groups = set(groups[kept])
        assert len(kept_groups) == 2
        np.testing.assert_array_equal(kept, np.flatnonzero(np.isin(groups, list(kept_groups))))


def test_stratified_subsample_keeps_per_stratum_proportions():
    strata = ["x"] * 10 + ["y"] * 6 + ["z"] * 4
    policy = StratifiedSubsample(target_n=10, n_resamples=20)
    ids = list(range(20))
    assert policy.n_possible_subsets(ids, strata=strata) == (
        math.comb(10, 5) * math.comb(6, 3) * math.comb(4, 2)
    )
    splits = _schedule(policy, ids, strata=strata)
    assert len(set(splits)) == 20
    for kept in splits:
        assert Counter(strata[i] for i in kept) == {"x": 5, "y": 3, "z": 2}


def test_stratified_subsample_gives_leftovers_to_largest_remainders():
    strata = ["x"] * 5 + ["y"] * 3 + ["z"] * 2  # shares of 4: 2.0, 1.2, 0.8
    kept = next(StratifiedSubsample(target_n=4).split(list(range(10)), strata=strata))
    assert Counter(strata[i] for i in kept) == {"x": 2, "y": 1, "z": 1}


@pytest.mark.parametrize(
    "policy, labels, n_possible, exhaustive",
    [
        (LeaveOneOut(), {}, 8, True),
        (LeaveKOut(k=2), {}, 28, True),
        (LeaveKOut(k=2, n_resamples=5), {}, 28, False),
        (Subsample(target_n=4, n_resamples=70), {}, 70, True),
        (LeaveGroupOut(), {"groups": list("aabbccdd")}, 4, True),
        (SubsampleGroups(target_n=2, n_resamples=3), {"groups": list("aabbccdd")}, 6, False),
        (StratifiedSubsample(target_n=4), {"strata": list("aaaabbbb")}, 36, True),
    ],
)
def test_n_possible_subsets_and_is_exhaustive(policy, labels, n_possible, exhaustive):
    assert policy.n_possible_subsets(IDS, **labels) == n_possible
    assert policy.is_exhaustive(IDS, **labels) is exhaustive


def test_leave_one_out_is_exhaustive_beyond_1000_analyses():
    ids = list(range(1500))
    assert LeaveOneOut().get_n_splits(ids) == 1500
    assert LeaveOneOut().is_exhaustive(ids)


@pytest.mark.parametrize(
    "policy, labels, error, match",
    [
        (LeaveKOut(k=25), {}, ValueError, r"k=25 is out of range for 8 analyses.*1 to 7"),
        (LeaveKOut(k=2.5), {}, TypeError, r"k=2\.5 .*an int"),
        (LeaveKOut(k=True), {}, TypeError, r"k=True"),
        (Subsample(target_n="a"), {}, TypeError, r"target_n='a'"),
        (Subsample(target_n=9), {}, ValueError, r"target_n=9 .*1 to 8"),
        (Subsample(target_n=1.5), {}, ValueError, r"target_n=1\.5 .*\(0, 1\]"),
        (Subsample(target_n=2, n_resamples=0), {}, ValueError, r"n_resamples=0"),
        (Subsample(target_n=2, n_resamples=False), {}, TypeError, r"n_resamples=False"),
        (LeaveKOut(k=2, n_resamples=29), {}, ValueError, r"n_resamples=29 .*28 possible"),
        (LeaveGroupOut(), {}, ValueError, r"groups=None"),
        (LeaveGroupOut(), {"groups": ["a"] * 8}, ValueError, r"at least 2 groups"),
        (LeaveGroupOut(), {"groups": ["a", "b"]}, ValueError, r"groups has 2 labels for 8"),
        (SubsampleGroups(target_n=5), {"groups": list("aabbccdd")}, ValueError, r"target_n=5 .*4"),
        (StratifiedSubsample(target_n=2), {}, ValueError, r"strata=None"),
        (LeaveOneOut(), {"groups": [[1]] * 8}, None, None),  # groups ignored by LeaveOneOut
    ],
)
def test_bad_inputs_name_the_parameter_and_value(policy, labels, error, match):
    if error is None:
        policy.check(IDS, **labels)
        return
    with pytest.raises(error, match=match):
        policy.check(IDS, **labels)
    with pytest.raises(error, match=match):
        policy.split(IDS, **labels)  # raises before iteration
    with pytest.raises(error, match=match):
        policy.get_n_splits(IDS, **labels)


def test_too_many_subsets_without_n_resamples_asks_for_it():
    with pytest.raises(ValueError, match=r"n_resamples=None .*3003 possible subsets"):
        Subsample(target_n=5).check(list(range(15)))
    assert Subsample(target_n=5, n_resamples=10).get_n_splits(list(range(15))) == 10


def test_resolve_policy_rejects_unknown_and_unused_parameters():
    with pytest.raises(ValueError, match=r"'nope'.*leave_1_out, leave_group_out, leave_k_out"):
        resolve_policy("nope")
    message = r"k=3 is not used by resampling_policy='leave_1_out'; it takes: \(none\)"
    with pytest.raises(ValueError, match=message):
        resolve_policy("leave_1_out", k=3)
    with pytest.raises(ValueError, match=r"requires k"):
        resolve_policy("leave_k_out", n_resamples=3)
    with pytest.raises(TypeError, match="resampling_policy"):
        resolve_policy(3)
    with pytest.raises(TypeError, match="resampling_policy"):
        resolve_policy(LeaveOneOut)


def test_resolve_policy_passes_policy_objects_through():
    policy = LeaveKOut(k=2)
    assert resolve_policy(policy) is policy
    with pytest.raises(ValueError, match="n_resamples=4"):
        resolve_policy(policy, n_resamples=4)


def test_sklearn_kfold_is_wrapped_and_yields_its_train_indices():
    splitter = KFold(n_splits=4, shuffle=True, random_state=0)
    policy = resolve_policy(splitter)
    assert isinstance(policy, SplitterPolicy)
    expected = [np.sort(train) for train, _ in splitter.split(np.zeros((8, 1)))]
    splits = list(policy.split(IDS, rng=np.random.default_rng(0)))
    assert policy.get_n_splits(IDS) == len(splits) == 4
    for kept, train in zip(splits, expected):
        assert kept.dtype == np.intp
        np.testing.assert_array_equal(kept, train)
    assert policy.n_possible_subsets(IDS) is None
    assert policy.is_exhaustive(IDS) is False


def test_sklearn_group_kfold_receives_groups():
    groups = list("aabbccdd")
    policy = resolve_policy(GroupKFold(n_splits=4))
    for kept in policy.split(IDS, groups=groups):
        kept_groups = {groups[i] for i in kept}
        assert len(kept) == 6 and len(kept_groups) == 3


def test_leave_k_out_needs_two_analyses():
    with pytest.raises(ValueError, match=r"ids has 1 analysis"):
        LeaveOneOut().check(["only"])


def test_subsample_within_strata_keeps_target_n_of_each_stratum():
    from nimare_stability.policies import SubsampleWithinStrata

    strata = ["a"] * 6 + ["b"] * 9
    splits = list(
        SubsampleWithinStrata(0.5, n_resamples=5).split(
            list(range(15)), strata=strata, rng=np.random.default_rng(0)
        )
    )
    assert len({tuple(s) for s in splits}) == 5
    for kept in splits:
        assert (np.sum(kept < 6), np.sum(kept >= 6)) == (3, 4)


@pytest.mark.parametrize("module", [builtin, adapters], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
