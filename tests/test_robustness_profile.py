"""The robustness profile on planted truth: true regions robust, 1-, 2-, 3-analysis ones not."""

import os

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from helpers.planted import planted_studyset
from nimare.correct import FWECorrector
from nimare.diagnostics import Jackknife
from nimare.meta.cbma import ALE, KDA
from nimare.utils import get_resource_path

from nimare_stability import FailSafeN, Fragility, ResampledStability, robustness_table
from nimare_stability import Jackknife as FastJackknife

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
FRAGILE = (1, 2, 3)


@pytest.fixture(scope="module")
def planted():
    return planted_studyset(n_analyses=30, fragile=FRAGILE, seed=0)


@pytest.fixture(scope="module")
def profile(planted, n_iters):
    studyset, _ = planted
    result = FWECorrector(method="montecarlo", n_iters=n_iters).transform(KDA().fit(studyset))
    result = Jackknife(target_image=TARGET).transform(result.copy())
    common = {"target_image": TARGET, "random_state": 0, "progress": False}
    result = ResampledStability(**common).transform(result)
    result = Fragility(**common).transform(result)
    return FailSafeN(max_multiple=4, n_drawers=3, **common).transform(result)


def _row_near(table, clusters, xyz):
    peaks = clusters[["peak_x", "peak_y", "peak_z"]].to_numpy()
    distance = np.linalg.norm(peaks - np.asarray(xyz), axis=1)
    assert distance.min() < 10, f"no baseline cluster near {xyz}"
    cluster_id = clusters["cluster_id"].to_numpy()[distance.argmin()]
    return table.set_index("cluster_id").loc[cluster_id]


def test_true_regions_are_robust_and_fragile_ones_are_named(planted, profile):
    _, truth = planted
    table = robustness_table(profile, TARGET)
    clusters = profile.tables[f"{TARGET}_diag-ResampledStability_tab-clusters"]
    for xyz in truth["true"]:
        row = _row_near(table, clusters, xyz)
        assert row["verdict"] == "robust", row["reason"]
        assert row["fragility"] == "> 10" or row["fragility"] >= 4
    for k, planted_region in truth["fragile"].items():
        row = _row_near(table, clusters, planted_region["xyz"])
        assert row["verdict"] == "fragile", row["reason"]
        assert row["fragility"] == k
        assert sorted(row["fragility_removed"].split(";")) == sorted(planted_region["ids"])
        exact = profile.tables[f"{TARGET}_diag-Fragility_tab-clusters"].set_index("cluster_id")
        assert exact.loc[row.name, "exact"] == (k <= 2)
    lone = truth["fragile"][1]["ids"][0]
    assert (
        f"vanishes without {lone} (1 of 30 analyses)"
        in _row_near(table, clusters, truth["fragile"][1]["xyz"])["reason"]
    )


#: Names of the Harvard-Oxford cortical values around the planted true regions (FSL's
#: HarvardOxford-Cortical.xml, value = index + 1).
HARVARD_OXFORD = {
    7: "Precentral Gyrus",
    17: "Postcentral Gyrus",
    21: "Angular Gyrus",
    22: "Lateral Occipital Cortex superior division",
    28: "Paracingulate Gyrus",
}


def test_planted_clusters_are_labelled_by_the_region_at_their_peak(planted, profile):
    atlas = nib.load(
        os.path.join(get_resource_path(), "atlases", "HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
    )
    table = robustness_table(profile, TARGET)
    for xyz in planted[1]["true"]:
        row = _row_near(table, table, xyz)
        peak = row[["peak_x", "peak_y", "peak_z"]].to_numpy(float)
        ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(atlas.affine), peak)).astype(int)
        # NiMARE's 2 mm image and the 1 mm one we read can differ by a voxel at a border.
        near = np.asanyarray(atlas.dataobj)[tuple(slice(i - 1, i + 2) for i in ijk)]
        regions = {HARVARD_OXFORD[int(value)] for value in np.unique(near) if value}
        side = "Right" if peak[0] > 0 else "Left"  # the midline (x = 0) is Left's
        assert regions, f"no Harvard-Oxford region at {peak}"
        assert row["peak_label"] in {f"Harvard-Oxford: {side} {region}" for region in regions}
        assert (
            row["overlap_label"].startswith("Harvard-Oxford: ") and row["overlap_label"][-1] == ")"
        )


@pytest.fixture(scope="module")
def ale_profile(n_iters):
    """ALE: k analyses report the same tight patch, so one removal can sink the region."""
    studyset, truth = planted_studyset(n_analyses=30, fragile=(2, 3), seed=0, patch="tight")
    result = FWECorrector(method="montecarlo", n_iters=n_iters).transform(ALE().fit(studyset))
    common = {"target_image": TARGET, "random_state": 0, "progress": False}
    result = FastJackknife(target_image=TARGET, progress=False).transform(result)
    result = ResampledStability(**common).transform(result)
    result = Fragility(**common).transform(result)
    result = FailSafeN(max_multiple=4, n_drawers=2, **common).transform(result)
    return result, truth


def test_ale_region_on_few_analyses_is_fragile_and_withstands_fewer_null_analyses(ale_profile):
    result, truth = ale_profile
    table = robustness_table(result, TARGET)
    clusters = result.tables[f"{TARGET}_diag-ResampledStability_tab-clusters"]
    true_rows = [_row_near(table, clusters, xyz) for xyz in truth["true"]]
    assert all(row["verdict"] == "robust" for row in true_rows)
    weakest_true = min(row["fsn_min"] for row in true_rows)
    for k, planted_region in truth["fragile"].items():
        row = _row_near(table, clusters, planted_region["xyz"])
        assert row["verdict"] == "fragile", row["reason"]
        assert 1 <= row["fragility"] <= k
        assert set(row["fragility_removed"].split(";")) <= set(planted_region["ids"])
        if row["fragility"] == 1:
            assert row["vanishes_without"] != ""
            assert set(row["vanishes_without"].split(";")) <= set(planted_region["ids"])
            # A region one analysis carries withstands far fewer null analyses.
            assert weakest_true > 3 * row["fsn_mean"]


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"min_fragility": 0}, ValueError, "min_fragility=0"),
        ({"min_fragility": 2.5}, TypeError, "min_fragility=2.5"),
        ({"max_contribution": 1.5}, ValueError, "max_contribution=1.5"),
        ({"min_stability": "half"}, TypeError, "min_stability='half'"),
        ({"min_fsn_per_analysis": -1}, ValueError, "min_fsn_per_analysis=-1"),
        ({"target_image": "z_corr-FDR_method-indep"}, ValueError, "no ResampledStability"),
    ],
)
def test_bad_verdict_input_is_refused_by_name(profile, params, error, match):
    with pytest.raises(error, match=match):
        robustness_table(profile, **{"target_image": TARGET, **params})


def test_verdict_refuses_diagnostics_judging_different_clusters(profile):
    other = Fragility(TARGET, alpha=0.01, max_exact=1, max_removed=1, progress=False)
    mixed = other.transform(profile)
    with pytest.raises(ValueError, match="different support rules"):
        robustness_table(mixed, TARGET)


def test_verdict_is_the_first_failed_check_and_leaves_the_result_unchanged(profile):
    tables, diagnostics = dict(profile.tables), list(profile.diagnostics)
    strict = robustness_table(profile, TARGET, min_stability=0.99, min_fsn_per_analysis=100)
    assert profile.tables.keys() == tables.keys() and profile.diagnostics == diagnostics
    for _, row in strict.iterrows():
        fails = [
            row["fragility"] != "> 10" and row["fragility"] < 4,
            row["top_contribution"] > 0.5,
            row["mean_stability"] < 0.99,
            row["fsn_per_analysis"] < 100,
        ]
        names = ["fragile", "dominated", "unstable", "file-drawer"]
        assert row["verdict"] == names[fails.index(True)]
        assert row["reason"].count(";") == sum(fails) - 1


def test_a_run_without_random_state_records_the_seed_that_repeats_it(profile):
    quick = {"target_image": TARGET, "max_multiple": 1, "n_drawers": 1, "progress": False}
    stem = f"{TARGET}_diag-FailSafeN"
    first = FailSafeN(random_state=None, **quick).transform(profile)
    seed = first.metadata[f"{stem}_random_state"]
    again = FailSafeN(random_state=seed, **quick).transform(profile)
    assert isinstance(seed, int) and again.metadata[f"{stem}_random_state"] == seed
    pd.testing.assert_frame_equal(
        first.tables[f"{stem}_tab-drawers"], again.tables[f"{stem}_tab-drawers"]
    )
    assert profile.metadata[f"{TARGET}_diag-Fragility_random_state"] == 0
