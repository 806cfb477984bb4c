"""Fragility checked against an independent computation with NiMARE, nilearn and scipy.

Nothing here calls nimare_stability's helpers: baseline clusters come from nilearn's label
map of the target's z map (the labels NiMARE's Jackknife uses), modeled activation from
NiMARE's kernel, and every claim the table makes (this set sinks the cluster; no single
analysis does; these analyses contribute) is re-derived by refitting NiMARE on
``studyset.slice(...)`` and thresholding the refit with scipy.
"""

import copy
import itertools

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from helpers.planted import BORDERLINE, planted_studyset
from nilearn.reporting import get_clusters_table
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import KDA, MKDAChi2, MKDADensity
from scipy import ndimage

from nimare_stability import Fragility

FDR = "z_corr-FDR_method-indep"
MC_SIZE = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
MC_LOGP = "logp_desc-size_level-cluster_corr-FWE_method-montecarlo"
THRESHOLD = 3.1
MIN_SIZE = 10
FDR_PARAMS = dict(target_image=FDR, target_threshold=THRESHOLD, cluster_threshold=MIN_SIZE)
pytestmark = pytest.mark.filterwarnings(
    "ignore:Attention. At least one of the .sub.peaks falls outside:UserWarning",
    "ignore:target_image='z_desc-group1MinusGroup2' has no support:UserWarning",
)
#: Pairs of pain analyses share a label: pain_01 + pain_02 -> g01, ..., pain_21 -> g11.
N_PAIRS = 11


def _table(result, target):
    return result.tables[f"{target}_diag-Fragility_tab-clusters"]


def _fragility(result, **params):
    defaults = dict(progress=False, random_state=0)
    return Fragility(**{**defaults, **params}).transform(result)


# --------------------------------------------------------------------------------------
# Independent computations (NiMARE + nilearn + scipy only)
# --------------------------------------------------------------------------------------


def _mask(result):
    img = result.masker.mask_img_
    return np.asanyarray(img.dataobj) > 0, img.affine


def _volume(result, name):
    mask, affine = _mask(result)
    volume = np.zeros(mask.shape, dtype=np.float64)
    volume[mask] = np.asarray(result.maps[name], dtype=np.float64).ravel()
    return volume, affine


def _baseline_labels(result):
    """nilearn's label map (in-mask values) of the target's positive clusters."""
    volume, affine = _volume(result, FDR)
    _, label_maps = get_clusters_table(
        nib.Nifti1Image(volume.astype(np.float32), affine),
        stat_threshold=THRESHOLD,
        cluster_threshold=MIN_SIZE,
        two_sided=False,
        return_label_maps=True,
    )
    mask, _ = _mask(result)
    return np.asanyarray(label_maps[0].dataobj)[mask].astype(int)


def _support(result):
    """In-mask positive support: z > 3.1 in face-connected clusters of >= 10 voxels."""
    volume, _ = _volume(result, FDR)
    labels, n = ndimage.label(volume > THRESHOLD, ndimage.generate_binary_structure(3, 1))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= MIN_SIZE
    keep[0] = False
    mask, _ = _mask(result)
    return keep[labels][mask]


def _refit_support(studyset, kept_ids):
    refit = FDRCorrector(alpha=0.05).transform(MKDADensity().fit(studyset.slice(kept_ids)))
    return _support(refit)


def _modeled_activation(studyset, result):
    """(n_analyses, n_voxels) MKDA modeled activation, one analysis per row (sorted ids)."""
    ids = sorted(map(str, result.estimator.inputs_["id"]))
    kernel = MKDADensity().kernel_transformer
    rows = [
        np.asarray(
            kernel.transform(studyset.slice([id_]), masker=result.masker, return_type="array")
        ).ravel()
        for id_ in ids
    ]
    return ids, np.vstack(rows)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_fdr(pain):
    """MKDADensity on pain, FDR-corrected, and a copy of it taken before any Fragility ran."""
    result = FDRCorrector(alpha=0.05).transform(MKDADensity().fit(pain))
    snapshot = {
        "maps": {k: np.array(v, copy=True) for k, v in result.maps.items()},
        "tables": {k: v.copy() for k, v in result.tables.items()},
        "diagnostics": copy.deepcopy(result.diagnostics),
        "description": copy.copy(result.description_),
        "metadata": copy.deepcopy(getattr(result, "metadata", {})),
        "ids": np.array(result.estimator.inputs_["id"], copy=True),
    }
    return result, snapshot


@pytest.fixture(scope="module")
def mkda_fdr(fitted_fdr):
    return fitted_fdr[0]


@pytest.fixture(scope="module")
def mkda_fdr_snapshot(fitted_fdr):
    return fitted_fdr[1]


@pytest.fixture(scope="module")
def fdr_fragility(mkda_fdr):
    return _fragility(mkda_fdr, **FDR_PARAMS)


@pytest.fixture(scope="module")
def fdr_table(fdr_fragility):
    return _table(fdr_fragility, FDR)


@pytest.fixture(scope="module")
def labels(mkda_fdr):
    return _baseline_labels(mkda_fdr)


@pytest.fixture(scope="module")
def contributors(pain, mkda_fdr, labels):
    """{cluster_id: set of analysis ids with nonzero modeled activation in the cluster}."""
    ids, ma = _modeled_activation(pain, mkda_fdr)
    return {
        int(cluster_id): {id_ for id_, row in zip(ids, ma) if np.any(row[labels == cluster_id])}
        for cluster_id in np.unique(labels[labels > 0])
    }


@pytest.fixture(scope="module")
def all_ids(mkda_fdr):
    return [str(id_) for id_ in mkda_fdr.estimator.inputs_["id"]]


def _group_map(ids):
    return {id_: f"g{(int(id_[5:7]) + 1) // 2:02d}" for id_ in ids}


# --------------------------------------------------------------------------------------
# 1. Real data: the table's claims hold in independent refits
# --------------------------------------------------------------------------------------


def test_pain_fdr_case_covers_fragility_one_to_four(fdr_table):
    """The real-data case exercises fragility 1, 2, 3 and 4 (else the checks below are thin)."""
    values = {v for v in fdr_table["fragility"] if not isinstance(v, str)}
    assert {1, 2, 3, 4} <= values


def test_independent_refit_of_all_analyses_reproduces_the_baseline_support(pain, labels, all_ids):
    """Validates the independent pipeline the other checks rely on."""
    np.testing.assert_array_equal(_refit_support(pain, all_ids), labels > 0)


def test_removing_the_reported_set_makes_the_cluster_vanish(pain, fdr_table, labels, all_ids):
    checked = 0
    for row in fdr_table.itertuples():
        if isinstance(row.fragility, str):
            continue
        removed = row.removed.split(";")
        assert len(removed) == row.fragility
        assert set(removed) <= set(all_ids)
        kept = [id_ for id_ in all_ids if id_ not in removed]
        footprint = labels == row.cluster_id
        assert footprint.sum() >= MIN_SIZE
        support = _refit_support(pain, kept)
        assert not np.any(support[footprint]), (
            f"cluster {row.cluster_id} keeps {int(support[footprint].sum())} voxels without "
            f"{row.removed}"
        )
        checked += 1
    assert checked >= 4


def test_exact_fragility_means_no_single_contributor_sinks_the_cluster(
    pain, fdr_table, labels, contributors, all_ids
):
    exact = [
        row
        for row in fdr_table.itertuples()
        if row.exact and not isinstance(row.fragility, str) and row.fragility >= 2
    ]
    assert len(exact) >= 1
    for row in exact:
        footprint = labels == row.cluster_id
        for id_ in sorted(contributors[row.cluster_id]):
            support = _refit_support(pain, [i for i in all_ids if i != id_])
            assert np.any(support[footprint]), (
                f"cluster {row.cluster_id} (fragility {row.fragility}, exact) vanishes "
                f"without {id_} alone"
            )


def test_fragility_above_max_exact_means_no_pair_of_contributors_sinks_the_cluster(
    pain, fdr_table, labels, contributors, all_ids
):
    """Every set of up to max_exact=2 contributors was tried before the greedy step.

    Checked on the smallest such cluster only (one refit per single and pair).
    """
    beyond = [
        row
        for row in fdr_table.itertuples()
        if not isinstance(row.fragility, str) and row.fragility > 2
    ]
    assert beyond
    row = min(beyond, key=lambda r: (len(contributors[r.cluster_id]), r.cluster_id))
    footprint = labels == row.cluster_id
    candidates = sorted(contributors[row.cluster_id])
    for size in (1, 2):
        for removed in itertools.combinations(candidates, size):
            support = _refit_support(pain, [i for i in all_ids if i not in removed])
            assert np.any(support[footprint]), (
                f"cluster {row.cluster_id} (fragility {row.fragility}) vanishes without {removed}"
            )


def test_exact_flag_marks_sizes_searched_exhaustively(fdr_table):
    max_exact = 2
    for row in fdr_table.itertuples():
        if isinstance(row.fragility, str):
            assert row.fragility == "> 10" and not row.exact and row.removed == ""
        else:
            assert bool(row.exact) == (row.fragility <= max_exact)


def test_contributing_analyses_match_nonzero_modeled_activation(fdr_table, contributors):
    for row in fdr_table.itertuples():
        assert row.n_contributing == len(contributors[row.cluster_id])
        # pain has one analysis per study
        assert row.n_contributing_studies == row.n_contributing
        if row.removed:
            assert set(row.removed.split(";")) <= contributors[row.cluster_id]


# --------------------------------------------------------------------------------------
# 2. Rows are the baseline clusters; the caller's result is untouched
# --------------------------------------------------------------------------------------


def test_rows_are_exactly_nilearns_baseline_clusters(fdr_table, labels):
    present = sorted(int(v) for v in np.unique(labels[labels > 0]))
    assert sorted(fdr_table["cluster_id"].tolist()) == present
    assert fdr_table["cluster_id"].is_unique
    assert set(fdr_table["tail"]) == {"positive"}
    assert list(fdr_table.columns) == [
        "cluster_id",
        "tail",
        "peak_x",
        "peak_y",
        "peak_z",
        "peak_label",
        "overlap_label",
        "n_contributing",
        "n_contributing_studies",
        "fragility",
        "exact",
        "removed",
    ]


def test_returns_a_new_result_and_leaves_the_callers_unchanged(
    mkda_fdr, mkda_fdr_snapshot, fdr_fragility
):
    assert fdr_fragility is not mkda_fdr
    assert f"{FDR}_diag-Fragility_tab-clusters" not in mkda_fdr.tables
    before = mkda_fdr_snapshot
    assert sorted(mkda_fdr.maps) == sorted(before["maps"])
    for name, values in before["maps"].items():
        np.testing.assert_array_equal(mkda_fdr.maps[name], values)
    assert sorted(mkda_fdr.tables) == sorted(before["tables"])
    for name, table in before["tables"].items():
        pd.testing.assert_frame_equal(mkda_fdr.tables[name], table)
    assert repr(mkda_fdr.diagnostics) == repr(before["diagnostics"])
    assert len(mkda_fdr.diagnostics) == len(before["diagnostics"])
    assert mkda_fdr.description_ == before["description"]
    assert getattr(mkda_fdr, "metadata", {}) == before["metadata"]
    np.testing.assert_array_equal(mkda_fdr.estimator.inputs_["id"], before["ids"])
    # the new result carries the caller's outputs plus the Fragility table
    assert set(before["maps"]) <= set(fdr_fragility.maps)
    assert len(fdr_fragility.diagnostics) == len(before["diagnostics"]) + 1


# --------------------------------------------------------------------------------------
# 3. Reproducible
# --------------------------------------------------------------------------------------


def test_fdr_table_does_not_depend_on_n_cores(mkda_fdr, fdr_table):
    again = _table(_fragility(mkda_fdr, n_cores=2, **FDR_PARAMS), FDR)
    pd.testing.assert_frame_equal(again, fdr_table)


def test_montecarlo_table_repeats_with_the_same_seed_and_any_n_cores(pain_montecarlo):
    params = dict(target_image=MC_SIZE, max_removed=2, random_state=11)
    first = _table(_fragility(pain_montecarlo, n_cores=1, **params), MC_SIZE)
    second = _table(_fragility(pain_montecarlo, n_cores=2, **params), MC_SIZE)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) >= 1
    assert set(first["fragility"].map(str)) <= {"1", "2", "> 2"}


@pytest.fixture(scope="module")
def borderline(n_iters):
    """KDA + Monte Carlo FWE on the borderline planted case: result, truth, Fragility table."""
    studyset, truth = planted_studyset(**BORDERLINE)
    fit = KDA(random_state=0).fit(studyset)
    result = FWECorrector(method="montecarlo", n_iters=n_iters).transform(fit)
    return result, truth, _table(_fragility(result, target_image=MC_SIZE, max_removed=4), MC_SIZE)


def _significant_labels(result):
    """nilearn's label map (in-mask values) of the clusters with p < 0.05 on MC_SIZE."""
    p = 10.0 ** -np.asarray(result.maps[MC_LOGP], dtype=np.float64)
    z = np.asarray(result.maps[MC_SIZE], dtype=np.float64)
    mask, affine = _mask(result)
    volume = np.zeros(mask.shape, dtype=np.float32)
    volume[mask] = np.where(p < 0.05 * (1 - 1e-5), z, 0)
    _, label_maps = get_clusters_table(
        nib.Nifti1Image(volume, affine), 0, 0, two_sided=False, return_label_maps=True
    )
    return np.asanyarray(label_maps[0].dataobj)[mask].astype(int)


def test_weak_planted_regions_beside_distractors_get_exactly_their_planted_fragility(
    borderline,
):
    """Each fragile analysis reports 7 of the patch's 12 foci (a region of one analysis
    with one focus fewer is at the edge of significance) and two other analyses report a
    focus 10-12 mm from its centre: still each region's fragility is its number of
    analyses and the removed set is theirs.

    The truth is NiMARE's (``test_planted.py``: gone without the ``k`` analyses, standing
    on one of them without the distractors; a brute-force refit over every set of up to
    ``k`` contributors found no other sinking set).
    """
    result, truth, table = borderline
    labels = _significant_labels(result)
    mask, affine = _mask(result)
    world = np.argwhere(mask) @ affine[:3, :3].T + affine[:3, 3]
    rows = table.set_index("cluster_id")
    for k, region in truth["fragile"].items():
        distance = np.linalg.norm(world - np.asarray(region["xyz"]), axis=1)
        distance[labels == 0] = np.inf
        assert distance.min() <= 6, f"no significant cluster at fragile region k={k}"
        cluster_id = labels[np.argmin(distance)]
        row = rows.loc[cluster_id]
        assert row["fragility"] == k
        assert sorted(row["removed"].split(";")) == sorted(region["ids"])
        assert bool(row["exact"]) == (k <= 2)
        assert row["n_contributing"] > k, "no distractor among the candidates"


# --------------------------------------------------------------------------------------
# 4. groups
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grouped_result(mkda_fdr, all_ids):
    groups = _group_map(all_ids)
    assert len(set(groups.values())) == N_PAIRS
    return groups, _fragility(mkda_fdr, groups=groups, **FDR_PARAMS)


@pytest.fixture(scope="module")
def grouped(grouped_result):
    groups, result = grouped_result
    return groups, _table(result, FDR)


def test_groups_removed_column_lists_group_labels(grouped, fdr_table):
    groups, table = grouped
    assert table["cluster_id"].tolist() == fdr_table["cluster_id"].tolist()
    pd.testing.assert_series_equal(table["n_contributing"], fdr_table["n_contributing"])
    found = table[table["removed"] != ""]
    assert len(found) >= 1
    for row in found.itertuples():
        removed = row.removed.split(";")
        assert set(removed) <= set(groups.values())
        assert len(removed) == row.fragility


def test_removing_the_reported_groups_makes_the_cluster_vanish(pain, grouped, labels, all_ids):
    groups, table = grouped
    for row in table[table["removed"] != ""].itertuples():
        removed = set(row.removed.split(";"))
        kept = [id_ for id_ in all_ids if groups[id_] not in removed]
        assert len(kept) < len(all_ids)
        support = _refit_support(pain, kept)
        assert not np.any(support[labels == row.cluster_id]), (
            f"cluster {row.cluster_id} survives without groups {row.removed}"
        )


def test_exact_group_fragility_means_no_single_group_sinks_the_cluster(
    pain, grouped, labels, contributors, all_ids
):
    groups, table = grouped
    exact = [
        row
        for row in table.itertuples()
        if row.exact and not isinstance(row.fragility, str) and row.fragility >= 2
    ]
    assert exact
    for row in exact:
        footprint = labels == row.cluster_id
        for group in sorted({groups[i] for i in contributors[row.cluster_id]}):
            support = _refit_support(pain, [i for i in all_ids if groups[i] != group])
            assert np.any(support[footprint]), (
                f"cluster {row.cluster_id} (group fragility {row.fragility}, exact) "
                f"vanishes without group {group} alone"
            )


# --------------------------------------------------------------------------------------
# 5. Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error", "named"),
    [
        (dict(max_exact=-1), ValueError, "max_exact=-1"),
        (dict(max_exact=1.5), TypeError, "max_exact=1.5"),
        (dict(max_removed=0), ValueError, "max_removed=0"),
        (dict(max_exact=3, max_removed=2), ValueError, "max_removed=2"),
        (dict(engine="nope"), ValueError, "engine='nope'"),
        (dict(alpha=2), ValueError, "alpha=2"),
        (dict(n_iters=0), ValueError, "n_iters=0"),
        (dict(groups="no_such_column"), ValueError, "groups='no_such_column'"),
    ],
)
def test_bad_parameters_raise_naming_parameter_and_value(mkda_fdr, params, error, named):
    with pytest.raises(error) as info:
        Fragility(target_image=FDR, progress=False, **params).transform(mkda_fdr)
    assert named in str(info.value)


def test_pairwise_estimator_without_ale_maps_is_refused(pain, all_ids):
    half = len(all_ids) // 2
    result = MKDAChi2().fit(pain.slice(all_ids[:half]), pain.slice(all_ids[half:]))
    with pytest.raises(ValueError, match="Fragility does not judge a pairwise.*ALESubtraction"):
        Fragility(target_image="z_desc-uniformity", progress=False).transform(result)


def test_counts_tables_mark_each_clusters_removed_analyses_for_nimares_report(
    fdr_fragility, fdr_table, all_ids
):
    stem = f"{FDR}_diag-Fragility_tab-counts_tail-"
    counts = pd.concat(
        [
            fdr_fragility.tables[key].set_index("id")
            for key in (f"{stem}positive", f"{stem}negative")
            if key in fdr_fragility.tables
        ],
        axis=1,
    )
    assert list(counts.index) == all_ids
    for row in fdr_table.itertuples():
        column = counts[
            f"{'PositiveTail' if row.tail == 'positive' else 'NegativeTail'} {row.cluster_id}"
        ]
        removed = set(row.removed.split(";")) if row.removed else set()
        assert set(column.index[column == 1]) == removed
        assert set(column.unique()) <= {0.0, 1.0}
    assert f"{FDR}_tab-clust" in fdr_fragility.tables


def test_counts_tables_mark_the_analyses_of_removed_groups(grouped_result, grouped, all_ids):
    groups, table = grouped
    result = grouped_result[1]
    counts = result.tables[f"{FDR}_diag-Fragility_tab-counts_tail-positive"].set_index("id")
    for row in table[(table["removed"] != "") & (table["tail"] == "positive")].itertuples():
        marked = set(counts.index[counts[f"PositiveTail {row.cluster_id}"] == 1])
        assert marked == {id_ for id_ in all_ids if groups[id_] in row.removed.split(";")}
