"""Baseline clusters, labelled as NiMARE labels them.

NiMARE's diagnostics label clusters with nilearn's ``get_clusters_table``: per tail, clusters
are numbered by descending peak of the target map. Labelling the baseline support the same
way makes our ``cluster_id`` the label value of NiMARE's label map (and of Jackknife's
``_tab-counts`` columns) for the same target and threshold.
"""

from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nilearn.reporting import get_clusters_table

from nimare_stability import mapnames
from nimare_stability.volumes import to_volume

TAILS = {1: "positive", -1: "negative"}
#: Jackknife's ``_tab-counts`` column prefix per tail.
TAIL_LABELS = {"positive": "PositiveTail", "negative": "NegativeTail"}


@dataclass(frozen=True)
class Cluster:
    """One baseline cluster: its NiMARE label value, tail and in-mask voxel positions."""

    cluster_id: int
    tail: str
    voxels: np.ndarray
    peak_xyz: tuple

    @property
    def sign(self):
        """+1 for the positive tail, −1 for the negative one."""
        return 1 if self.tail == "positive" else -1

    @property
    def label(self):
        """The column name Jackknife's ``_tab-counts`` gives this cluster."""
        return f"{TAIL_LABELS[self.tail]} {self.cluster_id}"


def baseline_clusters(result, target_image, support, mask):
    """Label the baseline support into clusters.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
    target_image : str
    support : :class:`~nimare_stability.support.Support`
    mask : (X, Y, Z) bool ndarray

    Returns
    -------
    list of :class:`Cluster`
        Positive tail first, each tail in NiMARE's label order.
    """
    target = result.maps.get(mapnames.sibling(target_image, "z"))
    ranking = np.ones(int(mask.sum())) if target is None else np.nan_to_num(np.abs(target))
    peaks = result.maps.get(mapnames.peak_map_name(target_image), target)
    affine = result.masker.mask_img_.affine
    clusters = []
    for sign, tail in TAILS.items():
        in_tail = support.signs == sign
        if not in_tail.any():
            continue
        labels = _nilearn_labels(np.where(in_tail, ranking, 0), mask, affine)
        peak_values = np.nan_to_num(sign * (ranking if peaks is None else np.asarray(peaks)))
        for cluster_id in np.unique(labels[labels > 0]):
            voxels = np.flatnonzero(labels == cluster_id)
            peak = voxels[np.argmax(peak_values[voxels])]
            ijk = np.argwhere(mask)[peak]
            clusters.append(
                Cluster(int(cluster_id), tail, voxels, tuple(nib.affines.apply_affine(affine, ijk)))
            )
    return clusters


def _nilearn_labels(values, mask, affine):
    volume = to_volume(values.astype(np.float32), mask)
    _, label_maps = get_clusters_table(
        nib.Nifti1Image(volume, affine), 0, 0, two_sided=False, return_label_maps=True
    )
    return np.asanyarray(label_maps[0].dataobj)[mask]
