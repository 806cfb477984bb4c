"""Read NiMARE's Jackknife output for one of our baseline clusters.

Jackknife's clusters are joined with ours by label value when both used the same threshold,
and by the largest voxel overlap otherwise (its ``_tab-clust`` ids are never used: they do
not match its own label maps for cluster-level targets).
"""

from collections import Counter

import numpy as np

from nimare_stability.core import names


def top_contributor(result, target_image, cluster):
    """Return (analysis id, contribution) of the largest Jackknife contributor to ``cluster``.

    (None, nan) when Jackknife has no cluster overlapping ``cluster``.

    Raises
    ------
    ValueError
        When ``result`` holds no Jackknife output for the target and the cluster's tail.
    """
    labels = result.maps.get(names.label_map_name(target_image, cluster.tail))
    counts = _counts(result, target_image, cluster.tail)
    if labels is None or counts is None:
        raise ValueError(
            f"No Jackknife output for target_image={target_image!r} ({cluster.tail} tail) in "
            "this result; run nimare.diagnostics.Jackknife on the same target first."
        )
    overlap = Counter(int(v) for v in np.asarray(labels)[cluster.voxels] if v > 0)
    if not overlap:
        return None, np.nan
    label = overlap.most_common(1)[0][0]
    column = names.cluster_column(cluster.tail, label)
    contributions = counts.set_index("id")[column].astype(float)
    return contributions.idxmax(), float(contributions.max())


def has_jackknife(result, target_image):
    """Whether ``result`` holds any Jackknife table for ``target_image``."""
    return names.has_tables(result.tables, target_image, names.JACKKNIFE)


def _counts(result, target_image, tail):
    one_tail = names.counts_key(target_image, names.JACKKNIFE, tail)
    return result.tables.get(
        one_tail, result.tables.get(names.counts_key(target_image, names.JACKKNIFE))
    )
