"""Figures of a diagnosed :class:`~nimare.results.MetaResult` (nilearn and matplotlib).

Each function takes the result (and ``target_image`` when it holds several diagnosed
targets), finds the maps and tables itself, draws into ``axes`` or ``figure`` when given
and returns the figure or nilearn display. :func:`policy_table` is the numbers behind a
policy comparison. matplotlib and nilearn's plotting are imported when a function runs.
"""

import functools

import numpy as np
import pandas as pd

from nimare_stability.core import names
from nimare_stability.reporting.cluster_map import plot_cluster_map
from nimare_stability.reporting.style import VERDICT_COLORS, cheap_collections

STABILITY = names.STABILITY
#: The stability levels the figures mark.
LEVELS = (0.5, 0.8)


def diagnosed_target(result, target_image=None, diagnostic=STABILITY):
    """Return the target image whose ``diagnostic`` outputs ``result`` holds.

    Raises
    ------
    ValueError
        When there are none, or several and ``target_image`` is None or not one of them.
    """
    found = names.diagnosed_targets(result.tables, diagnostic)
    if target_image in found or (target_image is None and len(found) == 1):
        return target_image or found[0]
    raise ValueError(
        f"target_image={target_image!r}: accepted: one of the targets with {diagnostic} "
        f"outputs in this result, {found or 'none (run the diagnostic first)'}."
    )


@cheap_collections
def plot_stability(result, target_image=None, kind="mosaic", axes=None, figure=None, **kwargs):
    """Plot the stability map on a 0-1 colour scale.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        With ResampledStability outputs.
    target_image : str, optional
        Needed when the result holds stability maps of several targets.
    kind : {"mosaic", "glass"}, default "mosaic"
        An axial mosaic (:func:`nilearn.plotting.plot_stat_map`) or a glass brain.
    axes, figure : optional
        Where to draw.
    **kwargs
        Passed to nilearn (``cut_coords``, ``title``, ``cmap``, ...).

    Returns
    -------
    nilearn display
        Two-tailed maps are drawn as the magnitude (each voxel's stability in its tail).
    """
    from nilearn import plotting

    target = diagnosed_target(result, target_image)
    image = _image(result, np.abs(result.maps[names.diagnostic_stem(target, STABILITY)]))
    options = {"title": "Stability", "cmap": "viridis", "vmax": 1, "colorbar": True}
    if kind == "mosaic":
        options.update(display_mode="z", cut_coords=7, vmin=0, symmetric_cbar=False)
        draw = plotting.plot_stat_map
    elif kind == "glass":
        options.update(plot_abs=False, vmin=0, symmetric_cbar=False, threshold=1e-6)
        draw = plotting.plot_glass_brain
    else:
        raise ValueError(f"kind={kind!r} is not accepted; accepted: 'mosaic' or 'glass'.")
    options.update(kwargs)
    return draw(image, axes=axes, figure=figure, **options)


@cheap_collections
def plot_overview(result, target_image=None, figure=None, cut_coords=6):
    """Three rows: the baseline corrected map, its cluster labels and the stability map.

    ``cut_coords``: the axial slices (z in mm) shared by the rows, or how many to place
    through the baseline clusters.

    Returns
    -------
    :class:`matplotlib.figure.Figure`
        Axes titled "Baseline: <target>", "Cluster labels" and "Stability".
    """
    import matplotlib.pyplot as plt
    from nilearn import plotting

    target = diagnosed_target(result, target_image)
    figure = figure or plt.figure(figsize=(11, 7.5))
    rows = figure.subplots(3, 1)
    labels = _labels(result, target)
    baseline = _image(result, np.where(labels != 0, np.nan_to_num(result.maps[target]), 0))
    if np.isscalar(cut_coords):
        cut_coords = plotting.find_cut_slices(baseline, direction="z", n_cuts=cut_coords)
    common = {"display_mode": "z", "cut_coords": cut_coords, "figure": figure}
    plotting.plot_stat_map(baseline, axes=rows[0], title=f"Baseline: {target}", **common)
    if np.any(labels):
        plotting.plot_roi(
            _image(result, labels),
            axes=rows[1],
            title="Cluster labels",
            colorbar=False,
            cmap="tab10",
            vmin=0.5,
            vmax=max(labels.max(), 10) + 0.5,
            **common,
        )
    else:
        rows[1].set_title("Cluster labels")
        rows[1].text(0.5, 0.5, "no clusters", ha="center", va="center")
        rows[1].set_axis_off()
    plot_stability(result, target, axes=rows[2], **common)
    return figure


def plot_cluster_stability(result, target_image=None, axes=None):
    """Forest plot: each cluster's mean voxel stability and the range over its voxels.

    Lines mark 0.5 and 0.8; points are coloured by verdict when the result holds the
    robustness table (``<target>_tab-robustness``).

    Returns
    -------
    :class:`matplotlib.figure.Figure`
    """
    target = diagnosed_target(result, target_image)
    table = _table(result, target, STABILITY, names.CLUSTERS)
    verdicts = _verdicts(result, target)
    stability = np.abs(result.maps[names.diagnostic_stem(target, STABILITY)])
    axes, figure = _axes(axes, (7, 1 + 0.45 * max(len(table), 1)))
    for row, cluster in enumerate(table.itertuples()):
        voxels = _cluster_voxels(result, target, cluster)
        low, high = (stability[voxels].min(), stability[voxels].max()) if voxels.size else (0, 0)
        verdict = verdicts.get((cluster.tail, cluster.cluster_id), "undetermined")
        color = VERDICT_COLORS[verdict]
        axes.plot([low, high], [row, row], color=color, linewidth=2)
        axes.plot(cluster.mean, row, "o", color=color, markersize=8, label=verdict)
    for level in LEVELS:
        axes.axvline(level, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(range(len(table)), [_cluster_name(c) for c in table.itertuples()])
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("voxel stability (point: mean; line: min to max)")
    axes.set_title("Stability per cluster")
    axes.invert_yaxis()
    if verdicts:
        handles, legend = axes.get_legend_handles_labels()
        unique = dict(zip(legend, handles))
        axes.legend(unique.values(), unique.keys(), loc="lower left", fontsize="small")
    return figure


def plot_influence(result, target_image=None, diagnostic=STABILITY, axes=None):
    """Heatmap of analyses (rows) by clusters (columns) from a per-analysis table.

    Parameters
    ----------
    diagnostic : str, default "ResampledStability"
        Whose per-analysis tables to draw: ``"ResampledStability"`` (its
        leave-one(-group)-out ``_tab-influence``, one row per analysis or group, else the
        share of the replicates without an analysis in which the cluster vanished),
        ``"Fragility"`` (the sinking sets) or NiMARE's ``"Jackknife"`` (contributions):
        ``<target>_diag-<diagnostic>_tab-counts[_tail-<tail>]``.

    Returns
    -------
    :class:`matplotlib.figure.Figure`
    """
    target = diagnosed_target(result, target_image, diagnostic)
    influence = result.tables.get(names.table_key(target, diagnostic, names.INFLUENCE))
    keys = (names.counts_key(target, diagnostic, tail) for tail in (None, *names.TAILS.values()))
    parts = (
        [influence.set_index(influence.columns[0])]
        if influence is not None
        else [
            result.tables[key].set_index("id") for key in keys if result.tables.get(key) is not None
        ]
    )
    if not parts:
        raise ValueError(f"target_image={target!r} has no {diagnostic} per-analysis table.")
    table = pd.concat(parts, axis=1).fillna(0).drop(columns=names.CONTRAST_GROUP, errors="ignore")
    axes, figure = _axes(axes, (2.5 + 0.6 * table.shape[1], 1.5 + 0.22 * table.shape[0]))
    image = axes.imshow(table.to_numpy(float), aspect="auto", cmap="magma_r", vmin=0)
    axes.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right")
    axes.set_yticks(range(table.shape[0]), table.index, fontsize="small")
    axes.set_title(f"{diagnostic}: analyses by cluster")
    figure.colorbar(image, ax=axes, fraction=0.05)
    return figure


def plot_stability_histogram(results, labels=None, target_image=None, axes=None, bins=20):
    """Histograms of the nonzero voxel stabilities of one or several results.

    Parameters
    ----------
    results : MetaResult, list of MetaResult, or dict label -> MetaResult
    labels : list of str, optional
        Legend entries; default: each result's policy (and retained size).

    Returns
    -------
    :class:`matplotlib.figure.Figure`
    """
    axes, figure = _axes(axes, (7, 4))
    edges = np.linspace(0, 1, bins + 1)
    for label, result in _labelled(results, labels, target_image):
        target = diagnosed_target(result, target_image)
        values = np.abs(result.maps[names.diagnostic_stem(target, STABILITY)])
        axes.hist(values[values > 0], bins=edges, histtype="step", linewidth=2, label=label)
    for level in LEVELS:
        axes.axvline(level, color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel("stability")
    axes.set_ylabel("voxels")
    axes.set_title("Stability of the voxels significant in any replicate")
    axes.legend()
    return figure


def policy_table(results, labels=None, target_image=None):
    """Compare runs: replicates and stability counts, one row per result.

    Returns
    -------
    :class:`pandas.DataFrame`
        Index: the labels; columns ``policy``, ``replicates``, ``retained``, ``voxels > 0``,
        ``voxels >= .5``, ``voxels >= .8``, ``mean nonzero``.
    """
    rows = {}
    for label, result in _labelled(results, labels, target_image):
        target = diagnosed_target(result, target_image)
        summary = _table(result, target, STABILITY, names.SUMMARY).iloc[0]
        rows[label] = {
            "policy": summary["resampling_policy"],
            "replicates": summary["n_resamples"],
            "retained": summary["target_n"],
            "voxels > 0": summary["n_voxels_nonzero"],
            "voxels >= .5": summary["n_voxels_ge50"],
            "voxels >= .8": summary["n_voxels_ge80"],
            "mean nonzero": round(float(summary["mean_nonzero"]), 3),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def contrast_title(result, groups=None):
    """Return the direction of a contrast's clusters in words, or None for one group.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        A pairwise estimator's result (e.g. ``ALESubtraction``) has a contrast.
    groups : tuple of str, optional
        Names of group 1 and group 2 (default ``("group 1", "group 2")``).
    """
    from nimare.meta.cbma.base import PairwiseCBMAEstimator

    if not isinstance(getattr(result, "estimator", None), PairwiseCBMAEstimator):
        return None
    first, second = groups or ("group 1", "group 2")
    return (
        f"{first} minus {second}: positive clusters {first} > {second}, negative {second} > {first}"
    )


def figures(result, target_image, groups=None):
    """Yield ``(name, caption, figure)`` for every figure the outputs on a target allow.

    The figures a report shows: the numbered clusters (with any of this package's
    diagnostics); with ResampledStability, the overview, the stability map
    (mosaic and glass brain), the per-cluster stability, the histogram and the per-analysis
    heatmap; the Fragility and Jackknife heatmaps when present. ``figure`` is None where a
    run has no such output (e.g. no per-analysis table). A contrast's figures and captions
    say its direction (:func:`contrast_title`, ``groups`` naming its groups).
    """
    title = contrast_title(result, groups)
    for name, caption, figure in _figures(result, target_image):
        if title is not None:
            caption = f"{caption} ({title})"
            if figure is not None:
                figure.suptitle(title, y=1.02)
        yield name, caption, figure


def _figures(result, target_image):
    if any(
        names.has_tables(result.tables, target_image, name)
        for name in (STABILITY, names.FRAGILITY, names.FAILSAFE)
    ):
        caption = "Baseline clusters, numbered as in the tables and coloured by verdict"
        yield "clusters", caption, plot_cluster_map(result, target_image).frame_axes.figure
    plots = {
        names.STABILITY: [
            ("overview", "Baseline clusters and their stability", plot_overview),
            ("stability_mosaic", "Stability, axial slices", plot_stability),
            ("stability_glass", "Stability, glass brain", _glass),
            ("cluster_stability", "Stability per cluster", plot_cluster_stability),
            ("stability_histogram", "Voxel stabilities", _histogram),
            (
                "influence",
                "Share of the replicates without each analysis that lost each cluster",
                plot_influence,
            ),
        ],
        names.FRAGILITY: [("fragility", "Fragility: the sinking sets", _heatmap(names.FRAGILITY))],
        names.JACKKNIFE: [("jackknife", "Jackknife: contributions", _heatmap(names.JACKKNIFE))],
    }
    for diagnostic, entries in plots.items():
        if not names.has_tables(result.tables, target_image, diagnostic):
            continue
        for name, caption, plot in entries:
            try:
                drawn = plot(result, target_image)
            except ValueError:  # an output this run does not have
                yield name, caption, None
                continue
            frame = getattr(drawn, "frame_axes", None)
            yield name, caption, drawn if frame is None else frame.figure


def _glass(result, target):
    return plot_stability(result, target, kind="glass")


def _histogram(result, target):
    return plot_stability_histogram(result, target_image=target)


def _heatmap(diagnostic):
    return functools.partial(plot_influence, diagnostic=diagnostic)


def _labelled(results, labels, target_image):
    """Pair results with labels (dict keys, ``labels`` or each run's policy)."""
    if isinstance(results, dict):
        return list(results.items())
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    if labels is None:
        labels = []
        for result in results:
            target = diagnosed_target(result, target_image)
            summary = _table(result, target, STABILITY, names.SUMMARY).iloc[0]
            labels.append(f"{summary['resampling_policy']} ({summary['n_resamples']})")
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} entries; accepted: one per result.")
    return list(zip(labels, results))


def _table(result, target, diagnostic, what):
    return result.tables[names.table_key(target, diagnostic, what)]


def _verdicts(result, target):
    table = result.tables.get(names.robustness_key(target))
    if table is None:
        return {}
    return {(row.tail, row.cluster_id): row.verdict for row in table.itertuples()}


def _labels(result, target):
    """In-mask cluster labels: positive-tail clusters first, then negative-tail ones."""
    labels = np.zeros(np.asarray(result.maps[target]).size)
    for tail in names.TAILS.values():
        tail_labels = result.maps.get(names.label_map_name(target, tail))
        if tail_labels is not None:
            tail_labels = np.asarray(tail_labels, dtype=np.float64)
            labels = np.where(tail_labels > 0, tail_labels + labels.max(), labels)
    return labels


def _cluster_voxels(result, target, cluster):
    """In-mask positions of a ``_tab-clusters`` row's cluster (empty if labelled otherwise)."""
    tail_labels = result.maps.get(names.label_map_name(target, cluster.tail))
    if tail_labels is None:
        return np.array([], dtype=int)
    voxels = np.flatnonzero(np.asarray(tail_labels) == cluster.cluster_id)
    return voxels if voxels.size == cluster.n_voxels else np.array([], dtype=int)


def _cluster_name(cluster):
    return (
        f"{'+' if cluster.tail == 'positive' else '-'}{cluster.cluster_id} ({cluster.n_voxels} vx)"
    )


def _image(result, values):
    return result.masker.inverse_transform(np.asarray(values, dtype=np.float32))


def _axes(axes, size):
    import matplotlib.pyplot as plt

    if axes is None:
        figure, axes = plt.subplots(figsize=size, layout="constrained")
        return axes, figure
    return axes, axes.figure
