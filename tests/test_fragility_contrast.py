"""Fragility of a contrast: planted truth, and NiMARE's own refits of what it reports.

The planted contrast (``helpers.planted_contrast``): group 1 has 3 analyses, group 2 100.
A region of group 1 only, reported by all of group 1, is a true difference: a contrast keeps
at least one analysis per group, and one is enough. A region reported by exactly two
analyses of group 1 vanishes only without both (with one left, the permutation p is about
``2 * 2 / 102``). A region reported by two thirds of each group is no difference.
"""

import numpy as np
import pytest
from helpers.planted_contrast import planted_contrast
from nimare.correct import FWECorrector
from nimare.meta.cbma.ale import ALESubtraction as NiMAREALESubtraction

from nimare_stability import ALESubtraction, Fragility
from nimare_stability.core import grouping, names
from nimare_stability.core.clusters import vanishes
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.diagnostics.fragility_screen import baseline_null, contrast_bound
from nimare_stability.diagnostics.fragility_search import Units
from nimare_stability.engines.base import EngineInputs
from nimare_stability.engines.pairwise import PairwiseEngine

TARGET = "z_desc-group1MinusGroup2"
P_MAP = "p_desc-group1MinusGroup2"
N_ITERS = 200
ALPHA = 0.05


@pytest.fixture(scope="module")
def planted():
    return planted_contrast()


@pytest.fixture(scope="module")
def fragility(planted):
    group1, group2, _ = planted
    result = ALESubtraction(n_iters=N_ITERS, random_state=0).fit(group1, group2)
    diagnostic = Fragility(
        target_image=TARGET,
        max_exact=1,
        max_removed=2,
        cluster_threshold=10,
        random_state=0,
        progress=False,
    )
    return result, diagnostic.transform(result)


def _voxel(result, xyz):
    """Index of the MNI point ``xyz`` in the result's masked maps."""
    mask = result.masker.mask_img_
    ijk = np.round(np.linalg.solve(mask.affine, np.r_[xyz, 1.0])[:3]).astype(int)
    inside = np.asarray(mask.dataobj) > 0
    assert inside[tuple(ijk)]
    flat = np.flatnonzero(inside)  # masked maps list the mask's voxels in C order
    return int(np.searchsorted(flat, np.ravel_multi_index(tuple(ijk), inside.shape)))


def _cluster_row(out, xyz, tail="positive"):
    """The Fragility row of the baseline cluster holding ``xyz`` (None: in no cluster)."""
    labels = np.asarray(out.maps[names.label_map_name(TARGET, tail)])
    label = labels[_voxel(out, xyz)]
    if label == 0:
        return None
    table = out.tables[names.table_key(TARGET, names.FRAGILITY, names.CLUSTERS)]
    rows = table[(table["cluster_id"] == label) & (table["tail"] == tail)]
    assert len(rows) == 1
    return rows.iloc[0]


def _significant(group1, group2, xyz, drop=()):
    """Whether NiMARE's own subtraction, refit without ``drop``, has p < ALPHA at ``xyz``."""
    group1 = group1.slice([i for i in group1.ids if i not in set(drop)])
    result = NiMAREALESubtraction(n_iters=N_ITERS, random_state=0).fit(group1, group2)
    return result.maps[P_MAP][_voxel(result, xyz)] < ALPHA


def test_region_of_group1_only_is_robust(planted, fragility):
    _, out = fragility
    row = _cluster_row(out, planted[2]["group1_only"]["xyz"])
    assert row is not None
    assert row["fragility"] == "> 2"


def test_difference_of_two_analyses_has_fragility_two_naming_them(planted, fragility):
    _, out = fragility
    truth = planted[2]["two_analyses"]
    row = _cluster_row(out, truth["xyz"])
    assert row["fragility"] == 2
    assert sorted(row["removed"].split(";")) == truth["ids"]
    assert row["removed_groups"] == "group1;group1"


def test_region_of_both_groups_is_no_cluster(planted, fragility):
    result, out = fragility
    xyz = planted[2]["both"]["xyz"]
    assert result.maps[P_MAP][_voxel(result, xyz)] > ALPHA
    assert all(_cluster_row(out, xyz, tail) is None for tail in names.TAILS.values())


def test_nimare_refits_confirm_the_fragility_of_two(planted):
    """NiMARE's subtraction keeps the difference without either analysis, loses it without both."""
    group1, group2, truth = planted
    region = truth["two_analyses"]
    assert _significant(group1, group2, region["xyz"])
    for analysis in region["ids"]:
        assert _significant(group1, group2, region["xyz"], drop=[analysis])
    assert not _significant(group1, group2, region["xyz"], drop=region["ids"])


@pytest.fixture(scope="module")
def contrast_screen():
    """120 n-back vs 100 flanker analyses, voxel FWE, by study: run, units, engine, bound."""
    nback, flanker = load_nback_flanker("nback"), load_nback_flanker("flanker")
    fitted = ALESubtraction(n_iters=200, random_state=0).fit(
        nback.slice(sorted(nback.ids)[:120]), flanker.slice(sorted(flanker.ids)[:100])
    )
    result = FWECorrector(method="montecarlo", vfwe_only=True).transform(fitted)
    target = "z_desc-group1MinusGroup2_level-voxel_corr-FWE_method-montecarlo"
    diagnostic = Fragility(target_image=target, groups="study", alpha=0.5, progress=False)
    run = diagnostic._prepare(result)
    labels = grouping.analysis_labels("study", "groups", run.analyses)
    units = Units(labels, run.analyses.membership)
    engine = PairwiseEngine(
        EngineInputs(result.estimator, run.corrector, run.analyses, rule=run.rule)
    )
    null = baseline_null(result.estimator)
    bound = contrast_bound(diagnostic, run, units, engine, null[0])
    return run, units, engine, null, bound


def test_contrast_bound_never_clears_a_set_that_sinks_a_cluster_under_the_screen(
    contrast_screen,
):
    run, units, engine, null, bound = contrast_screen
    assert run.clusters and bound is not None
    rng = np.random.default_rng(0)
    n_units = len(units.names)
    pairs = [tuple(sorted(rng.choice(n_units, 2, replace=False))) for _ in range(30)]
    sets = [(u,) for u in range(n_units)] + pairs
    near = engine.with_null_maxima(
        lambda kept: tuple(None if v is None else np.tile(v, (len(kept), 1)) for v in null)
    )
    retained = [units.retained(list(s)) for s in sets]
    supports = dict(near.run(retained, seeds=[0] * len(sets), progress=False))
    cleared = sunk = 0
    for index, cluster in enumerate(run.clusters):
        for position, removed in enumerate(sets):
            gone = vanishes(supports[position], cluster)
            sunk += gone
            if bound.survives(index, removed):
                cleared += 1
                assert not gone, (index, removed)
    assert cleared > 0.5 * len(sets) * len(run.clusters)
    assert sunk > 0  # the screen does sink some: the bound is tested where it matters
