"""Bad, non-finite, inapplicable and suspicious inputs to ResampledStability.

A specification of the public contract: bad input is a ``ValueError`` or ``TypeError``
naming the parameter, its value and what is accepted (``f"{name}={value!r} ... accepted:
..."``), never an ``IndexError``, ``KeyError`` or ``AttributeError`` from deep inside; legal
but suspicious input warns and still returns; the caller's ``MetaResult`` is never modified.
"""

import copy

import numpy as np
import pandas as pd
import pytest
from nimare.correct import FWECorrector
from nimare.io import convert_nimads_to_dataset
from nimare.meta.cbma import ALE, MKDAChi2
from nimare.meta.kernel import MKDAKernel
from nimare.results import MetaResult
from scipy import ndimage

from nimare_stability import ResampledStability, policies

FDR = "z_corr-FDR_method-indep"
FDR_FAMILY = (FDR, "p_corr-FDR_method-indep", "logp_corr-FDR_method-indep")
MC_SIZE = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
ASSOCIATION = "z_desc-association"
#: Tiny runs: two random replicates of 80% of the analyses.
SMALL = dict(resampling_policy="subsample", target_n=0.8, n_resamples=2)


def _quick(**params):
    defaults = dict(target_image=FDR, progress=False, random_state=0)
    return ResampledStability(**{**defaults, **params})


def _stem(target):
    return f"{target}_diag-ResampledStability"


# --------------------------------------------------------------------------------------
# A. The caller's result is never modified
# --------------------------------------------------------------------------------------


def _arrays_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _same(a, b):
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return _arrays_equal(a, b)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return repr(a) == repr(b)


def _snapshot(result):
    """What the caller can see of ``result``: maps, tables, estimator parameters, diagnostics."""
    return {
        "maps": {name: np.array(values, copy=True) for name, values in result.maps.items()},
        "tables": {name: table.copy() for name, table in result.tables.items()},
        "params": dict(result.estimator.get_params()),
        "n_diagnostics": len(result.diagnostics),
    }


def _assert_unchanged(result, snapshot):
    """Assert that ``result`` still looks as it did when ``snapshot`` was taken."""
    assert list(result.maps) == list(snapshot["maps"]), "the caller's maps dict changed"
    for name, before in snapshot["maps"].items():
        assert _arrays_equal(result.maps[name], before), f"the caller's map {name!r} changed"
    assert list(result.tables) == list(snapshot["tables"]), "the caller's tables dict changed"
    for name, before in snapshot["tables"].items():
        assert result.tables[name].equals(before), f"the caller's table {name!r} changed"
    params = result.estimator.get_params()
    assert params.keys() == snapshot["params"].keys(), "the estimator's parameters changed"
    for key, before in snapshot["params"].items():
        assert _same(params[key], before), f"the estimator's parameter {key!r} changed"
    assert len(result.diagnostics) == snapshot["n_diagnostics"], "diagnostics were appended"


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairwise(sleuth_pair):
    """MKDAChi2 on the two semantic Sleuth files (target ``z_desc-association``)."""
    return MKDAChi2().fit(*sleuth_pair)


@pytest.fixture(scope="module")
def pain_mkda_kernel(pain, n_iters):
    """ALE with an MKDA kernel on pain, corrected by Monte Carlo FWE: refit engine only."""
    result = ALE(kernel_transformer=MKDAKernel(), random_state=0).fit(pain)
    return FWECorrector(method="montecarlo", n_iters=n_iters).transform(result)


def _with_maps(result, **replacements):
    """A shallow copy of ``result`` whose maps dict is new, with ``replacements``."""
    out = copy.copy(result)
    out.maps = {**result.maps, **replacements}
    return out


def _all_nan_target(result):
    nan = np.full(result.maps[FDR].shape, np.nan, dtype=result.maps[FDR].dtype)
    return _with_maps(result, **{name: nan.copy() for name in FDR_FAMILY})


class _Splitter:
    """A scikit-learn-like splitter: one good split (all but the first three analyses), then
    ``bad`` as the train positions of the second."""

    def __init__(self, bad):
        self.bad = bad

    def split(self, X, y=None, groups=None):
        everything = np.arange(len(X))
        for train in (everything[3:], np.asarray(self.bad)):
            yield train, everything[~np.isin(everything, train)]

    def get_n_splits(self, X=None, y=None, groups=None):
        return 2

    def __repr__(self):
        return f"_Splitter(bad={self.bad!r})"


BAD_TRAINS = {
    "out_of_range": [0, 1, 999],
    "repeated": [0, 0, 1, 2],
    "empty": np.array([], dtype=np.intp),
    "float": [0.0, 1.0, 2.0],
}


def _fixture(name):
    return lambda request: request.getfixturevalue(name)


def _dataset(request):
    return convert_nimads_to_dataset(request.getfixturevalue("pain"))


def _fitted_estimator(request):
    return request.getfixturevalue("pain_ale").estimator


def _maps_dict(request):
    return dict(request.getfixturevalue("pain_fdr").maps)


def _nan_fdr(request):
    return _all_nan_target(request.getfixturevalue("pain_fdr"))


PAIN_FDR = _fixture("pain_fdr")


def _labels(result):
    """One hashable label per analysis of a single-group result, alternating 'a', 'b'."""
    return {id_: "ab"[i % 2] for i, id_ in enumerate(result.estimator.inputs_["id"])}


# (source, params, error, match), each source a function of pytest's ``request``.
NOT_A_RESULT = [
    pytest.param(_fixture("pain"), SMALL, TypeError, r"result=.*MetaResult", id="studyset"),
    pytest.param(_dataset, SMALL, TypeError, r"result=.*MetaResult", id="dataset"),
    pytest.param(lambda request: None, SMALL, TypeError, r"result=.*MetaResult", id="none"),
    pytest.param(
        _fitted_estimator,
        SMALL,
        TypeError,
        r"result=.*MetaResult",
        id="fitted_estimator",
    ),
    pytest.param(_maps_dict, SMALL, TypeError, r"result=.*MetaResult", id="dict"),
]
ALL_NAN = [
    pytest.param(_nan_fdr, SMALL, ValueError, r"target_image=.*NaN", id="all_nan_target"),
]
NUMBERS = [
    *(
        pytest.param(PAIN_FDR, {**SMALL, "alpha": alpha}, ValueError, r"alpha=", id=f"alpha={a}")
        for a, alpha in (
            ("nan", np.nan),
            ("inf", np.inf),
            ("0", 0),
            ("1", 1),
            ("-0.1", -0.1),
            ("1.5", 1.5),
        )
    ),
    *(
        pytest.param(
            PAIN_FDR,
            {**SMALL, "target_threshold": value},
            ValueError,
            r"target_threshold=",
            id=f"target_threshold={name}",
        )
        for name, value in (("nan", np.nan), ("inf", np.inf), ("-1", -1))
    ),
    pytest.param(PAIN_FDR, {**SMALL, "alpha": "0.05"}, TypeError, r"alpha='0.05'", id="alpha=str"),
]
NOT_APPLICABLE = [
    pytest.param(
        PAIN_FDR,
        dict(resampling_policy="leave_1_out", groups="study"),
        ValueError,
        r"groups='study'.*leave_1_out",
        id="groups_with_leave_1_out",
    ),
    pytest.param(
        PAIN_FDR,
        "strata",
        ValueError,
        r"strata=",
        id="strata_with_subsample",
    ),
    pytest.param(
        PAIN_FDR,
        {**SMALL, "resample_group": "group1"},
        ValueError,
        r"resample_group='group1'.*pairwise",
        id="resample_group_single_group",
    ),
    pytest.param(
        PAIN_FDR,
        {**SMALL, "progress": "yes"},
        TypeError,
        r"progress=",
        id="progress=str",
    ),
    pytest.param(PAIN_FDR, {**SMALL, "progress": 1}, TypeError, r"progress=", id="progress=1"),
    pytest.param(
        PAIN_FDR,
        {**SMALL, "generate_description": "no"},
        TypeError,
        r"generate_description=",
        id="generate_description=str",
    ),
    pytest.param(
        PAIN_FDR,
        {**SMALL, "null": "shared"},
        ValueError,
        r"null='shared'",
        id="shared_null_without_monte_carlo",
    ),
]
SPLITTERS = [
    pytest.param(
        PAIN_FDR,
        dict(resampling_policy=_Splitter(train), engine=engine),
        ValueError,
        r"resampling_policy=.*replicate",
        id=f"splitter_{name}-{engine}",
    )
    for name, train in BAD_TRAINS.items()
    for engine in ("refit", "fast")
]
FAST_MKDA_KERNEL = [
    pytest.param(
        _fixture("pain_mkda_kernel"),
        dict(
            target_image=MC_SIZE,
            resampling_policy="subsample",
            target_n=0.9,
            n_resamples=2,
            engine="fast",
        ),
        ValueError,
        r"engine='fast'.*MKDAKernel",
        id="fast_engine_ale_mkda_kernel",
    ),
]


def _resolve(request, source, params):
    """The object to transform and the diagnostic's parameters (``"strata"``: built from
    the result's own analysis ids)."""
    x = source(request)
    if params == "strata":
        params = {**SMALL, "strata": _labels(x)}
    return x, params


def _check_refused(request, source, params, error, match):
    x, params = _resolve(request, source, params)
    snapshot = _snapshot(x) if isinstance(x, MetaResult) else None
    with pytest.raises(error, match=match):
        _quick(**params).transform(x)
    if snapshot is not None:
        _assert_unchanged(x, snapshot)


# --------------------------------------------------------------------------------------
# C. NaN in the target (an all-NaN target: see the sweep at the end)
# --------------------------------------------------------------------------------------


def test_partly_nan_target_warns_and_its_nan_voxels_score_zero(pain_fdr):
    mask = np.asanyarray(pain_fdr.masker.mask_img_.dataobj).astype(bool)
    z = pain_fdr.maps[FDR]
    p = pain_fdr.maps["p_corr-FDR_method-indep"]
    volume = np.zeros(mask.shape, dtype=bool)
    volume[mask] = (p < 0.05) & (z > 0)
    labels, n_labels = ndimage.label(volume, ndimage.generate_binary_structure(3, 1))
    assert n_labels > 0
    in_mask = labels[mask]
    largest = np.argmax(np.bincount(in_mask)[1:]) + 1
    cluster = np.flatnonzero(in_mask == largest)
    assert cluster.size >= 10
    holes = cluster[::2]  # about half of one real cluster
    nan_z, nan_p = z.copy(), p.copy()
    nan_z[holes] = np.nan
    nan_p[holes] = np.nan
    result = _with_maps(pain_fdr, **{FDR: nan_z, "p_corr-FDR_method-indep": nan_p})
    snapshot = _snapshot(result)

    with pytest.warns(UserWarning, match="NaN"):
        out = _quick(**SMALL).transform(result)

    stability = out.maps[_stem(FDR)]
    assert not np.isnan(stability).any()
    assert np.all(stability[holes] == 0)
    _assert_unchanged(result, snapshot)


# --------------------------------------------------------------------------------------
# G. Legal but suspicious inputs warn
# --------------------------------------------------------------------------------------


def test_empty_baseline_warns_and_still_returns(pain_fdr):
    alpha = 1e-12
    assert pain_fdr.maps["p_corr-FDR_method-indep"].min() >= alpha  # nothing survives
    snapshot = _snapshot(pain_fdr)

    with pytest.warns(UserWarning, match=r"has no support"):
        out = _quick(alpha=alpha, **SMALL).transform(pain_fdr)

    assert isinstance(out, MetaResult)
    assert len(out.tables[f"{_stem(FDR)}_tab-clusters"]) == 0
    _assert_unchanged(pain_fdr, snapshot)


def test_replicates_of_a_single_analysis_warn(pain_fdr):
    snapshot = _snapshot(pain_fdr)

    with pytest.warns(UserWarning, match=r"keeps only 1 analysis"):
        _quick(resampling_policy="subsample", target_n=1, n_resamples=2).transform(pain_fdr)

    _assert_unchanged(pain_fdr, snapshot)


# --------------------------------------------------------------------------------------
# H. Engines
# --------------------------------------------------------------------------------------


def test_auto_engine_refits_ale_with_an_mkda_kernel(pain_mkda_kernel):
    snapshot = _snapshot(pain_mkda_kernel)

    out = _quick(
        target_image=MC_SIZE,
        resampling_policy="subsample",
        target_n=0.9,
        n_resamples=2,
        engine="auto",
    ).transform(pain_mkda_kernel)

    assert out.tables[f"{_stem(MC_SIZE)}_tab-summary"].loc[0, "engine"] == "refit"
    _assert_unchanged(pain_mkda_kernel, snapshot)


# --------------------------------------------------------------------------------------
# I. Policies
# --------------------------------------------------------------------------------------


def test_subsample_policy_object_keeps_its_share_of_each_pairwise_group(pairwise):
    snapshot = _snapshot(pairwise)

    out = _quick(
        target_image=ASSOCIATION,
        resampling_policy=policies.Subsample(target_n=0.8, n_resamples=2),
    ).transform(pairwise)

    ids1 = set(pairwise.estimator.inputs_["id1"])
    ids2 = set(pairwise.estimator.inputs_["id2"])
    replicates = out.tables[f"{_stem(ASSOCIATION)}_tab-replicates"]
    assert len(replicates) == 2
    for retained in replicates["retained"]:
        kept = retained.split(";")
        assert sum(id_ in ids1 for id_ in kept) == round(0.8 * len(ids1))
        assert sum(id_ in ids2 for id_ in kept) == round(0.8 * len(ids2))
        assert len(kept) == round(0.8 * len(ids1)) + round(0.8 * len(ids2))
    _assert_unchanged(pairwise, snapshot)


def test_leave_k_out_with_k_1_writes_the_leave_one_out_influence_table(pain_fdr):
    snapshot = _snapshot(pain_fdr)

    k_out = _quick(resampling_policy="leave_k_out", k=1).transform(pain_fdr)
    one_out = _quick(resampling_policy="leave_1_out").transform(pain_fdr)

    name = f"{_stem(FDR)}_tab-influence"
    assert name in one_out.tables
    assert name in k_out.tables
    pd.testing.assert_frame_equal(k_out.tables[name], one_out.tables[name])
    _assert_unchanged(pain_fdr, snapshot)


def test_policy_objects_round_trip_through_get_and_set_params():
    diagnostic = ResampledStability(resampling_policy=policies.LeaveKOut(k=2))
    diagnostic.set_params(**diagnostic.get_params())
    assert diagnostic.resampling_policy.k == 2

    diagnostic.set_params(resampling_policy__k=3)
    assert diagnostic.resampling_policy.k == 3


# --------------------------------------------------------------------------------------
# Sweep: every bad input is the ValueError or TypeError named and changes nothing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, params, error, match",
    [*NOT_A_RESULT, *ALL_NAN, *NUMBERS, *NOT_APPLICABLE, *SPLITTERS, *FAST_MKDA_KERNEL],
)
def test_bad_input_is_refused_by_name_and_changes_nothing(request, source, params, error, match):
    """B (not a MetaResult), C (all-NaN target), D (numbers), E (parameters that do not
    apply), F (malformed splitter replicates, both engines), H (fast engine, MKDA kernel):
    exactly the ValueError/TypeError named, never an error from deep inside."""
    _check_refused(request, source, params, error, match)
