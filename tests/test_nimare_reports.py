"""NiMARE's ``run_reports`` shows our diagnostics: the cluster outputs it reads, our heatmaps."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from conftest import MASS
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE
from nimare.reports import run_reports
from nimare.reports.base import Report
from nimare.workflows import CBMAWorkflow

import nimare_stability
from nimare_stability import Fragility, ResampledStability
from nimare_stability.diagnostics.nimare_outputs import HEATMAP_TEXT

LABEL = "label_desc-mass_level-cluster_corr-FWE_method-montecarlo_tail-positive"
CLUST = f"{MASS}_tab-clust"
STEM = f"{MASS}_diag-ResampledStability"
LABEL_FIGURE = "diagnostics_tail-positive_figure.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _heatmap(diagnostic):
    return f"diagnostics_diag-{diagnostic}_tab-counts_tail-positive_figure.html"


def _workflow_and_report(diagnostics, studyset, n_iters, out_dir):
    """Fit a CBMAWorkflow naming ``diagnostics`` and run NiMARE's report on its result."""
    nimare_stability.enable_workflows()
    try:
        result = CBMAWorkflow(
            estimator=ALE(random_state=0),
            corrector=FWECorrector(method="montecarlo", n_iters=n_iters),
            diagnostics=diagnostics,
        ).fit(studyset)
        run_reports(result, out_dir)
    finally:
        nimare_stability.disable_workflows()
    return result


def _shows_figure(out_dir, page, name):
    """The figure exists and the report shows it (HTML inlined, PNG linked)."""
    figure = out_dir / "figures" / name
    assert figure.is_file(), name
    if name.endswith(".png"):
        assert figure.read_bytes().startswith(PNG_MAGIC)
        assert f'src="./figures/{name}"' in page
    else:
        assert figure.read_text(encoding="utf-8") in page


def test_run_reports_shows_our_heatmap_when_ours_is_the_only_diagnostic(pain, n_iters, tmp_path):
    result = _workflow_and_report(["resampledstability"], pain, n_iters, tmp_path)

    assert [type(d).__name__ for d in result.diagnostics] == ["ResampledStability"]
    # NiMARE's report reads these; only our diagnostic can have written them here.
    assert CLUST in result.tables and LABEL in result.maps
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    _shows_figure(tmp_path, page, _heatmap("ResampledStability"))
    _shows_figure(tmp_path, page, LABEL_FIGURE)
    _shows_figure(tmp_path, page, "diagnostics_tab-clust_table.html")
    assert HEATMAP_TEXT["ResampledStability"] in page
    # The heatmap draws our table: its rows are the analyses, its columns the clusters.
    heatmap = (tmp_path / "figures" / _heatmap("ResampledStability")).read_text(encoding="utf-8")
    counts = result.tables[f"{STEM}_tab-counts_tail-positive"]
    assert all(name in heatmap for name in [*counts["id"], *counts.columns[1:]])


def test_run_reports_shows_jackknife_and_our_heatmaps_side_by_side(pain, n_iters, tmp_path):
    result = _workflow_and_report(["jackknife", "resampledstability"], pain, n_iters, tmp_path)

    assert [type(d).__name__ for d in result.diagnostics] == ["Jackknife", "ResampledStability"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for diagnostic in ("Jackknife", "ResampledStability"):
        _shows_figure(tmp_path, page, _heatmap(diagnostic))
    _shows_figure(tmp_path, page, LABEL_FIGURE)
    assert HEATMAP_TEXT["ResampledStability"] in page


def test_disable_workflows_restores_report_index():
    original = Report.__dict__["index"]
    nimare_stability.enable_workflows()
    try:
        nimare_stability.enable_workflows()  # idempotent: still wraps the original once
        assert Report.__dict__["index"] is not original
    finally:
        nimare_stability.disable_workflows()
    assert Report.__dict__["index"] is original
    nimare_stability.disable_workflows()  # a second call is a no-op
    assert Report.__dict__["index"] is original


@pytest.fixture(scope="module")
def ours_alone(pain_montecarlo):
    """Leave-one-out ResampledStability on MASS at the workflows' threshold, no Jackknife."""
    return ResampledStability(
        target_image=MASS, target_threshold=1.65, random_state=0, progress=False
    ).transform(pain_montecarlo)


def _main_rows(clust):
    """Rows of a ``_tab-clust`` table that are clusters (Jackknife adds subpeaks "1a")."""
    return clust[clust["Cluster ID"].str.fullmatch(r"(Positive|Negative)Tail \d+")]


def _row_set(clust):
    values = clust[["X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)"]].astype(float)
    return {tuple(row) for row in values.round(3).itertuples(index=False)}


def test_cluster_table_and_label_maps_agree_with_nimare_jackknife(ours_alone, pain_jackknife):
    jackknife = pain_jackknife
    label_maps = sorted(name for name in jackknife.maps if name.startswith("label"))
    assert label_maps == [LABEL]
    assert sorted(name for name in ours_alone.maps if name.startswith("label")) == label_maps
    assert np.array_equal(ours_alone.maps[LABEL], jackknife.maps[LABEL])

    ours, theirs = ours_alone.tables[CLUST], _main_rows(jackknife.tables[CLUST])
    assert list(ours.columns) == list(jackknife.tables[CLUST].columns)
    assert len(ours) == len(theirs) >= 2
    assert set(ours["Cluster ID"]) == set(theirs["Cluster ID"])
    # The same clusters (peak, peak value, volume); Jackknife numbers its rows by the peaks
    # of the uncorrected map, ours by label value (NiMARE's ids do not match its own label
    # map for cluster-level targets).
    assert _row_set(ours) == _row_set(theirs)

    # Our rows are numbered as the label map: "PositiveTail k" describes label value k.
    labels = np.asarray(ours_alone.maps[LABEL])
    masker = ours_alone.masker
    volume = np.asanyarray(masker.inverse_transform(labels.astype(np.float32)).dataobj)
    to_ijk = np.linalg.inv(masker.mask_img_.affine)
    voxel_mm3 = float(np.prod(masker.mask_img_.header.get_zooms()[:3]))
    z = np.asarray(ours_alone.maps["z"])
    for row in ours.itertuples(index=False):
        k = int(row[0].split()[-1])
        ijk = np.round(nib.affines.apply_affine(to_ijk, [row.X, row.Y, row.Z])).astype(int)
        assert volume[tuple(ijk)] == k
        assert row[5] == pytest.approx((labels == k).sum() * voxel_mm3)
        assert row[4] == pytest.approx(z[labels == k].max())

    # Our heatmap table has Jackknife's layout: the same rows and cluster columns.
    jk_counts = jackknife.tables[f"{MASS}_diag-Jackknife_tab-counts_tail-positive"]
    our_counts = ours_alone.tables[f"{STEM}_tab-counts_tail-positive"]
    assert list(our_counts.columns) == list(jk_counts.columns)
    assert list(our_counts["id"]) == list(jk_counts["id"])


def test_leave_one_out_counts_are_the_influence_table(ours_alone):
    counts = ours_alone.tables[f"{STEM}_tab-counts_tail-positive"]
    influence = ours_alone.tables[f"{STEM}_tab-influence"]
    assert list(counts.columns) == list(influence.columns)
    assert list(counts["id"]) == list(influence["id"])
    values = counts.iloc[:, 1:].to_numpy(dtype=float)
    np.testing.assert_array_equal(values, influence.iloc[:, 1:].to_numpy(dtype=float))
    assert values.any(), "some cluster must vanish without some analysis for this to test"


def _vanished(z, labels, threshold):
    """Per positive cluster of ``labels``: no voxel with z above the threshold."""
    return {
        f"PositiveTail {c}": not (z[labels == c] > threshold).any()
        for c in np.unique(labels[labels > 0])
    }


def test_subsample_counts_are_vanish_shares_of_brute_force_refits(pain, pain_ale):
    threshold = 3.1  # on the uncorrected z map: deterministic refits, small clusters
    out = ResampledStability(
        target_image="z",
        target_threshold=threshold,
        resampling_policy="subsample",
        target_n=11,
        n_resamples=5,
        random_state=0,
        progress=False,
    ).transform(pain_ale)
    counts = out.tables["z_diag-ResampledStability_tab-counts_tail-positive"].set_index("id")
    replicates = out.tables["z_diag-ResampledStability_tab-replicates"]
    labels = np.asarray(out.maps["label_tail-positive"])

    # Refit each replicate with NiMARE itself; a cluster vanishes when no voxel of it is
    # above the threshold (the support rule for a target_threshold, no cluster_threshold).
    vanished, left_out = [], []
    for retained, out_ids in zip(replicates["retained"], replicates["left_out"]):
        z = ALE(random_state=7).fit(pain.slice(retained.split(";"))).maps["z"]
        vanished.append(_vanished(np.asarray(z), labels, threshold))
        left_out.append(set(out_ids.split(";")))
    expected = pd.DataFrame(0.0, index=counts.index, columns=counts.columns)
    for analysis in counts.index:
        without = [v for v, out_ids in zip(vanished, left_out) if analysis in out_ids]
        for column in counts.columns:
            if without:
                expected.loc[analysis, column] = np.mean([v[column] for v in without])
    pd.testing.assert_frame_equal(counts, expected, check_dtype=False)
    values = counts.to_numpy()
    assert ((values > 0) & (values < 1)).any(), "shares strictly between 0 and 1 expected"


def test_fragility_counts_mark_the_smallest_sinking_set(pain, pain_ale):
    threshold = 3.1
    out = Fragility(
        target_image="z",
        target_threshold=threshold,
        max_exact=1,
        max_removed=2,
        random_state=0,
        progress=False,
    ).transform(pain_ale)
    clusters = out.tables["z_diag-Fragility_tab-clusters"]
    counts = out.tables["z_diag-Fragility_tab-counts_tail-positive"].set_index("id")
    labels = np.asarray(out.maps["label_tail-positive"])
    assert list(counts.columns) == [f"PositiveTail {c}" for c in clusters["cluster_id"]]
    assert set(np.unique(counts.to_numpy())) <= {0.0, 1.0}
    sunk = clusters[clusters["removed"] != ""]
    assert 0 < len(sunk) < len(clusters), "both sunk and surviving clusters expected"
    for row in clusters.itertuples(index=False):
        column = counts[f"PositiveTail {row.cluster_id}"]
        removed = row.removed.split(";") if row.removed else []
        assert sorted(counts.index[column == 1]) == sorted(removed)
        if removed:
            assert len(removed) == row.fragility
    # Brute force: without its set, a sunk cluster has no voxel above the threshold.
    for removed, group in sunk.groupby("removed"):
        kept = [i for i in counts.index if i not in removed.split(";")]
        z = np.asarray(ALE(random_state=7).fit(pain.slice(kept)).maps["z"])
        gone = _vanished(z, labels, threshold)
        assert all(gone[f"PositiveTail {c}"] for c in group["cluster_id"]), removed


def test_ours_after_jackknife_keeps_its_cluster_table_and_label_maps(
    pain_jackknife, pain_jackknife_stability
):
    before, after = pain_jackknife, pain_jackknife_stability
    pd.testing.assert_frame_equal(after.tables[CLUST], before.tables[CLUST])
    assert after.tables[CLUST]["Cluster ID"].str.contains("a").any()  # Jackknife's subpeaks
    labels = [name for name in before.maps if name.startswith("label")]
    assert sorted(name for name in after.maps if name.startswith("label")) == sorted(labels)
    for name in labels:
        assert after.maps[name].dtype == before.maps[name].dtype
        assert np.array_equal(after.maps[name], before.maps[name])
    # Ours still adds its heatmap, its columns the clusters of Jackknife's label map.
    counts = after.tables[f"{STEM}_tab-counts_tail-positive"]
    values = np.unique(before.maps[LABEL])
    assert list(counts.columns[1:]) == [f"PositiveTail {int(v)}" for v in values[values > 0]]
    assert list(counts.columns) == list(
        before.tables[f"{MASS}_diag-Jackknife_tab-counts_tail-positive"].columns
    )
