"""Where the clusters are: a glass brain with each cluster's number at its peak.

The numbers are the ``cluster_id`` of every clusters table (negative-tail clusters carry a
minus sign), coloured by verdict, so that a table row and the picture meet.
"""

import numpy as np

from nimare_stability.core import names
from nimare_stability.diagnostics.verdict import robustness_table
from nimare_stability.reporting.style import VERDICT_COLORS, cheap_collections


@cheap_collections
def plot_cluster_map(result, target_image, figure=None):
    """Glass brain of the baseline clusters, each numbered at its peak, coloured by verdict.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        Diagnosed on ``target_image`` by at least one of this package's diagnostics.
    target_image : str
    figure : :class:`matplotlib.figure.Figure`, optional

    Returns
    -------
    :class:`nilearn.plotting.displays.OrthoProjector`
        Each axes holds one text per cluster (``gid`` "cluster"): its number (``"-2"`` for
        negative cluster 2).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from nilearn import plotting

    table = result.tables.get(names.robustness_key(target_image))
    if table is None:
        table = robustness_table(result, target_image)
    extent = np.zeros(np.asarray(result.maps[target_image]).size, dtype=np.float32)
    for tail in names.TAILS.values():
        labels = result.maps.get(names.label_map_name(target_image, tail))
        if labels is not None:
            extent[np.asarray(labels) > 0] = 1
    figure = figure or plt.figure(figsize=(11, 4))
    display = plotting.plot_glass_brain(
        result.masker.inverse_transform(extent),
        figure=figure,
        display_mode="ortho",
        cmap="Greys",
        vmin=0,
        vmax=2.5,
        colorbar=False,
        threshold=0.5,
        title=f"Clusters of {target_image}",
    )
    for row in table.itertuples():
        number = f"{'-' if row.tail == 'negative' else ''}{row.cluster_id}"
        peak = np.array([row.peak_x, row.peak_y, row.peak_z])
        color = VERDICT_COLORS.get(row.verdict, "black")
        for axes in display.axes.values():
            keep = [i for i in range(3) if "xyz"[i] != axes.direction]
            axes.ax.text(
                *peak[keep],
                number,
                color="white",
                fontsize=9,
                fontweight="bold",
                ha="center",
                va="center",
                bbox={"boxstyle": "circle,pad=0.2", "facecolor": color, "edgecolor": "none"},
                zorder=1000,
                gid="cluster",
            )
    verdicts = dict.fromkeys(table["verdict"])
    if verdicts:
        handles = [Patch(color=VERDICT_COLORS.get(v, "black"), label=v) for v in verdicts]
        figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    return display
