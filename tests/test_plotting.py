"""The figures of ``nimare_stability.plotting`` show the result's own numbers."""

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_hex
from nimare.diagnostics import Jackknife

from nimare_stability import ResampledStability, plotting, robustness_table
from nimare_stability.diagnostics.verdict import RobustnessVerdict

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
STEM = f"{TARGET}_diag-ResampledStability"


@pytest.fixture(scope="module")
def loo(pain_montecarlo):
    """Leave-one-out stability, Jackknife and the verdict on pain."""
    result = ResampledStability(target_image=TARGET, random_state=0, progress=False).transform(
        pain_montecarlo
    )
    result = Jackknife(target_image=TARGET, target_threshold=1.65).transform(result)
    return RobustnessVerdict(target_image=TARGET).transform(result)


@pytest.fixture(scope="module")
def subsample(pain_montecarlo):
    return ResampledStability(
        target_image=TARGET,
        resampling_policy="subsample",
        target_n=0.7,
        n_resamples=5,
        random_state=0,
        progress=False,
    ).transform(pain_montecarlo)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(figure):
    return {text.get_text() for ax in figure.axes for text in [ax.title, *ax.texts]}


def test_mosaic_has_one_panel_per_slice_and_a_0_to_1_scale(loo):
    display = plotting.plot_stability(loo, cut_coords=5)
    assert len(display.axes) == 5
    image = display.frame_axes.figure
    colorbar = [ax for ax in image.axes if ax not in [a.ax for a in display.axes.values()]]
    assert any(np.isclose(ax.get_ylim()[1], 1) for ax in colorbar)
    assert "Stability" in {t.get_text() for t in image.texts} | _texts(image)


def test_glass_brain_draws_three_views(loo):
    display = plotting.plot_stability(loo, kind="glass")
    assert set(display.axes) == {"x", "y", "z"}


def test_unknown_kind_is_refused(loo):
    with pytest.raises(ValueError, match="kind='surface'.*'mosaic' or 'glass'"):
        plotting.plot_stability(loo, kind="surface")


def test_overview_has_baseline_labels_and_stability_rows(loo):
    figure = plotting.plot_overview(loo, cut_coords=[-10, 10, 40])
    texts = {t.get_text() for t in figure.texts} | _texts(figure)
    assert {f"Baseline: {TARGET}", "Cluster labels", "Stability"} <= texts
    assert "no clusters" not in texts
    assert len(figure.axes) >= 9  # three rows of three slices


def test_cluster_stability_has_one_point_per_cluster_coloured_by_verdict(loo):
    clusters = loo.tables[f"{STEM}_tab-clusters"]
    verdicts = loo.tables[f"{TARGET}_tab-robustness"]
    figure = plotting.plot_cluster_stability(loo)
    axes = figure.axes[0]
    points = [line for line in axes.lines if line.get_marker() == "o"]
    assert len(points) == len(clusters) > 0
    np.testing.assert_allclose([p.get_xdata()[0] for p in points], clusters["mean"])
    expected = [to_hex(plotting.VERDICT_COLORS[v]) for v in verdicts["verdict"]]
    assert [to_hex(p.get_color()) for p in points] == expected
    levels = {line.get_xdata()[0] for line in axes.lines if line.get_linestyle() == "--"}
    assert levels == {0.5, 0.8}
    assert len(axes.get_yticklabels()) == len(clusters)


def test_influence_heatmap_is_the_influence_table(loo):
    influence = loo.tables[f"{STEM}_tab-influence"].set_index("id")
    figure = plotting.plot_influence(loo)
    image = figure.axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(np.asarray(image), influence.to_numpy(float))
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == list(influence.index)


def test_jackknife_heatmap_is_jackknifes_table(loo):
    counts = loo.tables[f"{TARGET}_diag-Jackknife_tab-counts_tail-positive"].set_index("id")
    figure = plotting.plot_influence(loo, diagnostic="Jackknife")
    image = np.asarray(figure.axes[0].get_images()[0].get_array())
    np.testing.assert_allclose(image, counts.to_numpy(float))


def test_histogram_counts_every_nonzero_voxel_of_each_result(loo, subsample):
    figure = plotting.plot_stability_histogram([loo, subsample])
    axes = figure.axes[0]
    assert len(axes.get_legend().get_texts()) == 2
    for patch, result in zip(axes.patches, [loo, subsample]):
        heights = patch.get_path().vertices[:, 1]
        stability = np.abs(result.maps[STEM])
        # a step histogram's outline visits each bar's height twice
        assert heights.sum() / 2 == pytest.approx(np.count_nonzero(stability))


def test_policy_table_counts_voxels_from_the_maps(loo, subsample):
    table = plotting.policy_table({"loo": loo, "subsample": subsample})
    assert list(table.index) == ["loo", "subsample"]
    for label, result in (("loo", loo), ("subsample", subsample)):
        stability = np.abs(result.maps[STEM])
        row = table.loc[label]
        assert row["voxels > 0"] == np.count_nonzero(stability)
        assert row["voxels >= .5"] == np.count_nonzero(stability >= 0.5)
        assert row["voxels >= .8"] == np.count_nonzero(stability >= 0.8)
    assert table.loc["loo", "replicates"] == 21 and table.loc["subsample", "replicates"] == 5


def test_several_targets_need_target_image(loo):
    other = ResampledStability(
        target_image="z", alpha=0.001, random_state=0, progress=False
    ).transform(loo)
    with pytest.raises(ValueError, match="target_image=None"):
        plotting.plot_cluster_stability(other)
    histogram = plotting.plot_stability_histogram(other, target_image="z")
    assert [t.get_text() for t in histogram.axes[0].get_legend().get_texts()] == [
        "leave_1_out (21)"
    ]
    assert list(plotting.policy_table(other, target_image="z")["replicates"]) == [21]
    figure = plotting.plot_cluster_stability(other, target_image="z")
    assert len(figure.axes[0].get_yticklabels()) == len(
        other.tables["z_diag-ResampledStability_tab-clusters"]
    )


def test_figures_yield_each_available_figure_and_leave_the_result_alone(loo, subsample):
    maps, tables = set(loo.maps), set(loo.tables)
    names = [name for name, _, figure in plotting.figures(loo, TARGET) if figure is not None]
    assert names[:6] == [
        "clusters",
        "overview",
        "stability_mosaic",
        "stability_glass",
        "cluster_stability",
        "stability_histogram",
    ]
    assert {"influence", "jackknife"} <= set(names)
    assert (set(loo.maps), set(loo.tables)) == (maps, tables)
    assert robustness_table(loo, TARGET).shape[0] == len(loo.tables[f"{STEM}_tab-clusters"])


def test_cluster_map_numbers_each_cluster_at_its_peak_in_its_verdict_colour(loo):
    display = plotting.plot_cluster_map(loo, TARGET)
    verdicts = loo.tables[f"{TARGET}_tab-robustness"]
    assert len(verdicts) >= 2
    for axes in display.axes.values():
        kept = [i for i in range(3) if "xyz"[i] != axes.direction]
        texts = {t.get_text(): t for t in axes.ax.texts if t.get_gid() == "cluster"}
        assert set(texts) == {str(c) for c in verdicts["cluster_id"]}
        for row in verdicts.itertuples():
            text = texts[str(row.cluster_id)]
            peak = np.array([row.peak_x, row.peak_y, row.peak_z])[kept]
            np.testing.assert_allclose(text.get_position(), peak)
            colour = to_hex(text.get_bbox_patch().get_facecolor())
            assert colour == plotting.VERDICT_COLORS[row.verdict]


def test_grouped_influence_has_one_row_per_group(pain_fdr):
    ids = list(pain_fdr.estimator.inputs_["id"])
    groups = {id_: f"lab-{i // 2:02d}" for i, id_ in enumerate(ids)}  # 11 labs
    target = "z_corr-FDR_method-indep"
    grouped = ResampledStability(
        target_image=target,
        resampling_policy="leave_group_out",
        groups=groups,
        random_state=0,
        progress=False,
    ).transform(pain_fdr)
    influence = grouped.tables[f"{target}_diag-ResampledStability_tab-influence"]
    figure = plotting.plot_influence(grouped)
    rows = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert rows == sorted(set(groups.values())) == list(influence["group"])
    image = np.asarray(figure.axes[0].get_images()[0].get_array())
    np.testing.assert_array_equal(image, influence.drop(columns="group").to_numpy(float))
