"""Fragility's survival bound never clears a set that sinks a cluster under its screen."""

import itertools

import numpy as np
import pytest
from nimare.meta.cbma import ALE
from nimare.stats import null_to_p

from nimare_stability import FWECorrector, ResampledStability
from nimare_stability.core import grouping, names
from nimare_stability.core.clusters import vanishes
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.diagnostics.fragility import Fragility
from nimare_stability.diagnostics.fragility_screen import (
    THRESHOLD_MARGIN,
    SurvivalBound,
    baseline_null,
    significant_size,
    survival_bound,
)
from nimare_stability.diagnostics.fragility_search import Units
from nimare_stability.engines import EngineInputs
from nimare_stability.engines.fast import FastEngine
from nimare_stability.engines.kernels import KernelReplicates, collect_ma_maps

TARGET = names.DEFAULT_TARGET


@pytest.fixture(scope="module")
def nback_case():
    """120 n-back analyses by study, ALE, Monte Carlo FWE: the run, units and the bound."""
    nback = load_nback_flanker("nback")
    fitted = ALE().fit(nback.slice(list(nback.ids[:120])))
    result = FWECorrector(method="montecarlo", n_iters=200).transform(fitted)
    diagnostic = Fragility(target_image=TARGET, groups="study", progress=False)
    run = diagnostic._prepare(result)
    units = Units(grouping.analysis_labels("study", "groups", run.analyses))
    _, ma_maps, _, rows = collect_ma_maps(run.analyses.estimator)
    null = baseline_null(result.estimator)
    bound = survival_bound(diagnostic, run, units, ma_maps, rows, null[1])
    return result, run, units, null, bound


def _near_supports(run, null, retained):
    """Supports of the replicates under the screen's rule: own threshold, baseline null."""
    inputs = EngineInputs(
        estimator=run.analyses.estimator,
        corrector=run.corrector,
        analyses=run.analyses,
        rule=run.rule,
        n_iters=null[0].size,
        null_maxima=lambda kept: tuple(np.tile(values, (len(kept), 1)) for values in null),
    )
    return dict(FastEngine(inputs).run(retained, seeds=None, progress=False))


def test_cleared_sets_keep_every_cluster_under_the_screen(nback_case):
    _, run, units, null, bound = nback_case
    rng = np.random.default_rng(0)
    n_units = len(units.names)
    pairs = [tuple(sorted(rng.choice(n_units, 2, replace=False))) for _ in range(30)]
    sets = [(u,) for u in range(n_units)] + pairs
    supports = _near_supports(run, null, [units.retained(list(s)) for s in sets])
    cleared = 0
    for index, cluster in enumerate(run.clusters):
        for position, removed in enumerate(sets):
            if bound.survives(index, removed):
                cleared += 1
                assert not vanishes(supports[position], cluster), (index, removed)
    assert cleared > 0.5 * len(sets) * len(run.clusters)


def test_no_replicate_threshold_exceeds_the_bound(nback_case):
    _, run, units, _, _ = nback_case
    replicates = KernelReplicates.from_estimator(run.analyses.estimator)
    every = np.arange(len(run.analyses.ids))
    full = replicates.stat_threshold(every, 0.001)
    pairs = list(itertools.combinations(range(len(units.names)), 2))[::40]
    removals = [(u,) for u in range(len(units.names))] + pairs
    schedule = [units.retained(list(s)) for s in removals]
    assert max(replicates.stat_thresholds(schedule, 0.001, n_cores=2)) <= full + THRESHOLD_MARGIN


def test_significant_size_is_the_smallest_size_below_alpha():
    null = np.random.default_rng(1).integers(1, 400, size=1000).astype(float)
    size = significant_size(null, 0.05)
    assert null_to_p(float(size), null, tail="upper") < 0.05
    assert null_to_p(float(size - 1), null, tail="upper") >= 0.05 * (1 - 1e-3)
    assert significant_size(null, 0.05, cluster_threshold=size + 5) == size + 5
    assert significant_size(null[:10], 0.05) is None  # p never below 1 / 10


def test_a_bound_needs_enough_connected_voxels():
    # One cluster of 4 voxels in a row; one unit whose removal drops the middle voxel.
    log_total = np.log1p(-np.full(4, 0.5))
    per_unit = np.zeros((1, 4))
    per_unit[0, 1] = np.log1p(-0.49)  # without it the middle voxel falls to ~0.02
    boxes = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]])
    bound = SurvivalBound([per_unit], [log_total], [boxes], np.log1p(-0.1), 2)
    assert bound.survives(0, ())
    assert bound.survives(0, (0,))  # voxels 2 and 3 still connected
    strict = SurvivalBound([per_unit], [log_total], [boxes], np.log1p(-0.1), 3)
    assert strict.survives(0, ()) and not strict.survives(0, (0,))


def test_nback_fragility_one_is_exactly_where_leaving_one_study_out_sinks(nback_case):
    """Screened at scale (near screen and bound), Fragility by study still finds every
    cluster that one study's removal sinks under its own exact null: the clusters that
    ResampledStability's leave-one-study-out influence table (the same exact nulls,
    another code path) marks, and no other."""
    result = nback_case[0]
    common = dict(target_image=TARGET, groups="study", n_iters=100, random_state=0)
    common["progress"] = False
    fragile = Fragility(max_exact=1, max_removed=1, **common).transform(result)
    table = fragile.tables[names.table_key(TARGET, names.FRAGILITY, names.CLUSTERS)]
    stability = ResampledStability(resampling_policy="leave_group_out", **common)
    influence = stability.transform(result).tables[
        names.table_key(TARGET, names.STABILITY, names.INFLUENCE)
    ]
    for _, row in table.iterrows():
        column = names.cluster_column(row["tail"], row["cluster_id"])
        sinking = set(influence.loc[influence[column] == 1, "group"])
        if sinking:
            assert row["fragility"] == 1 and row["removed"] in sinking, column
        else:
            assert row["fragility"] == "> 1", column
