"""Engines say what they can do, and a new one is one class and one registry entry."""

import copy

import numpy as np
import pytest

from nimare_stability import Fragility, ResampledStability
from nimare_stability.cli import parser
from nimare_stability.core.support import Support
from nimare_stability.engines import (
    DRAWS_NULLS,
    ENGINES,
    TAKES_NULLS,
    Engine,
    EngineInputs,
    resolve_engine,
)

FDR = "z_corr-FDR_method-indep"


class EverywhereEngine(Engine):
    """A toy engine: every replicate supports every voxel (so no cluster ever vanishes)."""

    name = "everywhere"
    calls = []

    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        EverywhereEngine.calls.append([kept.tolist() for kept in retained])
        everywhere = Support(np.ones(self.inputs.rule.mask.sum(), dtype=np.int8), 1)
        for index in range(len(retained)):
            if index not in skip:
                yield index, everywhere


@pytest.fixture
def everywhere(monkeypatch):
    """``EverywhereEngine`` registered last: never chosen by ``"auto"``."""
    monkeypatch.setitem(ENGINES, EverywhereEngine.name, EverywhereEngine)
    EverywhereEngine.calls = []
    return EverywhereEngine


def test_engines_declare_their_capabilities():
    fast, refit = ENGINES["fast"], ENGINES["refit"]
    assert fast.can(DRAWS_NULLS) and fast.can(TAKES_NULLS) and fast.can(DRAWS_NULLS, TAKES_NULLS)
    assert not refit.can(DRAWS_NULLS) and not refit.can(TAKES_NULLS)
    pairwise = ENGINES["pairwise"]
    assert not pairwise.can(DRAWS_NULLS) and pairwise.can(TAKES_NULLS)
    chi2 = ENGINES["chi2"]
    assert not chi2.can(DRAWS_NULLS) and not chi2.can(TAKES_NULLS)
    # "auto" prefers the compiled engines, refit last
    assert list(ENGINES) == ["fast", "pairwise", "chi2", "refit"]


def test_an_engine_takes_null_maxima_only_when_it_says_so(pain_fdr):
    from nimare_stability.core.analyses import AnalysisSet
    from nimare_stability.core.baseline import support_rule

    estimator = pain_fdr.estimator
    rule = support_rule(pain_fdr, ResampledStability(target_image=FDR))
    inputs = EngineInputs(estimator, None, AnalysisSet(estimator), rule)
    fast = ENGINES["fast"](inputs)
    provided = fast.with_null_maxima(len)
    assert provided.inputs.null_maxima is len and fast.inputs.null_maxima is None
    assert provided.replicates is fast.replicates  # the MA-map cache is shared, not rebuilt
    shared = fast.with_inputs(null="shared", n_iters=7)
    assert (shared.inputs.null, shared.inputs.n_iters) == ("shared", 7)
    assert (fast.inputs.null, fast.inputs.n_iters) == ("replicate", None)
    assert shared.replicates is fast.replicates
    with pytest.raises(TypeError, match="refit engine cannot take null maxima"):
        ENGINES["refit"](inputs).with_null_maxima(len)


def test_a_registered_engine_serves_every_diagnostic_and_the_command_line(everywhere, pain_fdr):
    out = ResampledStability(target_image=FDR, engine="everywhere", progress=False).transform(
        copy.deepcopy(pain_fdr)
    )
    summary = out.tables[f"{FDR}_diag-ResampledStability_tab-summary"]
    assert summary.loc[0, "engine"] == "everywhere"
    assert len(everywhere.calls) == 1 and len(everywhere.calls[0]) == 21  # leave-one-out
    assert (out.maps[f"{FDR}_diag-ResampledStability"] == 1).all()
    # Fragility judges keyed replicates through the same interface: nothing sinks.
    fragile = Fragility(
        target_image=FDR, engine="everywhere", max_exact=1, max_removed=1, progress=False
    )
    table = fragile.transform(pain_fdr).tables[f"{FDR}_diag-Fragility_tab-clusters"]
    assert len(table) and (table["fragility"] == "> 1").all()
    # The command line's choices come from the registry.
    args = parser._parser().parse_args(["demo", "--output-dir", "x", "--engine", "everywhere"])
    assert args.engine == "everywhere"
    assert resolve_engine("auto", pain_fdr.estimator, None, {}) is ENGINES["fast"]
