"""What NiMARE's ``run_reports`` reads of a diagnostic, written in NiMARE's own form.

``nimare.reports.run_reports`` reads, per diagnostic, ``<target>_tab-clust``, the label
maps ``label<rest of the target's name>_tail-<tail>`` and the heatmap tables
``<target>_diag-<Name>_tab-counts_tail-<tail>`` (an ``id`` column, one column per
cluster). NiMARE's own diagnostics write the first two; ours add them when absent (from the
same baseline clusters, so the label values are our ``cluster_id``) and their per-analysis
table as the third. :func:`report_sections` names the heatmaps of our diagnostics for
NiMARE's report configuration (``enable_workflows`` adds them).
"""

import numpy as np
import pandas as pd

from nimare_stability.core import names

#: ``<target>_tab-clust`` columns, as NiMARE's Diagnostics write them.
CLUST_COLUMNS = ["Cluster ID", "X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)"]

#: What NiMARE's report says under each of our heatmaps, by diagnostic name.
HEATMAP_TEXT = {
    names.STABILITY: (
        "ResampledStability: for each analysis (row) and cluster (column), the share of the "
        "replicates leaving that analysis out in which no voxel of the cluster stayed "
        "significant (leave-one-out: 1 = the cluster vanishes without it)."
    ),
    names.FRAGILITY: (
        "Fragility: 1 marks the analyses of the smallest set whose removal makes the cluster "
        "vanish (a column of zeros: no set of up to max_removed analyses sinks it)."
    ),
}


def cluster_outputs(result, target_image, clusters):
    """Return ``(maps, tables)`` of NiMARE's cluster outputs that ``result`` lacks.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
    target_image : str
    clusters : list of :class:`~nimare_stability.core.clusters.Cluster`
        The baseline clusters of the target.

    Returns
    -------
    maps : dict
        Label maps (1D, in-mask, the cluster ids as values), one per tail with clusters.
    tables : dict
        ``<target>_tab-clust``: one row per cluster, ``Cluster ID`` as ``"PositiveTail 1"``
        (the column names of the ``_tab-counts`` tables), the peak, its value in the
        uncorrected map and the cluster's volume.
    """
    clust_name = names.clust_key(target_image)
    if clust_name in result.tables:
        return {}, {}
    n_voxels = np.asarray(result.maps[target_image]).size
    voxel_mm3 = float(np.prod(result.masker.mask_img_.header.get_zooms()[:3]))
    maps = {}
    for tail in names.TAILS.values():
        in_tail = [cluster for cluster in clusters if cluster.tail == tail]
        name = names.label_map_name(target_image, tail)
        if in_tail and name not in result.maps:
            labels = np.zeros(n_voxels, dtype=np.int32)
            for cluster in in_tail:
                labels[cluster.voxels] = cluster.cluster_id
            maps[name] = labels
    rows = [
        [
            cluster.label,
            *cluster.peak_xyz,
            cluster.peak_value,
            cluster.voxels.size * voxel_mm3,
        ]
        for cluster in clusters
    ]
    return maps, {clust_name: pd.DataFrame(rows, columns=CLUST_COLUMNS)}


def counts_tables(target_image, diagnostic, ids, clusters, values):
    """Return the per-analysis heatmap tables of a diagnostic, one per tail with clusters.

    Parameters
    ----------
    target_image, diagnostic : str
    ids : sequence of str
        Analysis ids, the rows.
    clusters : list of :class:`~nimare_stability.core.clusters.Cluster`
    values : (len(ids), len(clusters)) array
    """
    values = np.asarray(values, dtype=np.float64).reshape(len(ids), len(clusters))
    tables = {}
    for tail in names.TAILS.values():
        columns = [c for c, cluster in enumerate(clusters) if cluster.tail == tail]
        if columns:
            table = pd.DataFrame(values[:, columns], columns=[clusters[c].label for c in columns])
            table.insert(0, "id", list(ids))
            tables[names.counts_key(target_image, diagnostic, tail)] = table
    return tables


def report_sections():
    """Return the reportlets that show our heatmaps in NiMARE's report configuration."""
    return [
        {
            "bids": {
                "value": "diagnostics",
                "diag": name,
                "tab": names.COUNTS,
                "tail": tail,
                "suffix": "figure",
            },
            "subtitle": name,
            "subsubtitle": f"Heatmap: {tail} tail",
            "description": text,
        }
        for name, text in HEATMAP_TEXT.items()
        for tail in names.TAILS.values()
    ]
