"""Baseline clusters, labelled as NiMARE labels them.

NiMARE's diagnostics label clusters with nilearn's ``get_clusters_table``: per tail, clusters
are numbered by descending peak of the target map; :func:`baseline_clusters` numbers them
the same way (``tests/test_refit_equivalence.py`` and ``tests/test_fragility.py`` compare
with nilearn). Labelling the baseline support the same
way makes our ``cluster_id`` the label value of NiMARE's label map (and of Jackknife's
``_tab-counts`` columns) for the same target and threshold.
"""

from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy import ndimage

from nimare_stability.core import anatomy, names
from nimare_stability.core.volumes import label_faces, to_volume

#: Where a cluster lies, the columns every clusters table carries after ``tail``: its peak
#: (MNI mm) and the atlas labels of the peak and of the cluster's largest overlap.
LOCATION = ("peak_x", "peak_y", "peak_z", "peak_label", "overlap_label")


@dataclass(frozen=True)
class Cluster:
    """One baseline cluster: its NiMARE label value, tail and in-mask voxel positions."""

    cluster_id: int
    tail: str
    voxels: np.ndarray
    peak_xyz: tuple
    #: The peak's value in the map the peaks are read from (the uncorrected z map of a
    #: corrected target, as NiMARE's cluster tables read them).
    peak_value: float
    #: Atlas region of the peak (:func:`~nimare_stability.core.anatomy.peak_label`).
    peak_label: str = anatomy.NO_LABEL
    #: Atlas region of most of the voxels, with its share
    #: (:func:`~nimare_stability.core.anatomy.overlap_label`).
    overlap_label: str = anatomy.NO_LABEL

    @property
    def location(self):
        """The values of :data:`LOCATION`."""
        return (*self.peak_xyz, self.peak_label, self.overlap_label)

    @property
    def sign(self):
        """+1 for the positive tail, −1 for the negative one."""
        return 1 if self.tail == "positive" else -1

    @property
    def label(self):
        """The column name Jackknife's ``_tab-counts`` gives this cluster."""
        return names.cluster_column(self.tail, self.cluster_id)


def vanishes(support, cluster):
    """Whether none of ``cluster``'s voxels is in ``support`` with the cluster's sign."""
    return not np.any(support.signs[cluster.voxels] == cluster.sign)


def baseline_clusters(result, target_image, support, mask):
    """Label the baseline support into clusters.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
    target_image : str
    support : :class:`~nimare_stability.core.support.Support`
    mask : (X, Y, Z) bool ndarray

    Returns
    -------
    list of :class:`Cluster`
        Positive tail first, each tail in NiMARE's label order.
    """
    target = result.maps.get(names.sibling(target_image, names.Z))
    ranking = np.ones(int(mask.sum())) if target is None else np.nan_to_num(np.abs(target))
    peaks = result.maps.get(names.peak_map_name(target_image), target)
    affine = result.masker.mask_img_.affine
    mask_ijk = np.argwhere(mask)  # the maps' voxels, in their order
    clusters = []
    for sign, tail in names.TAILS.items():
        in_tail = support.signs == sign
        if not in_tail.any():
            continue
        labels = _nilearn_labels(np.where(in_tail, ranking, 0), mask)
        peak_values = np.nan_to_num(sign * (ranking if peaks is None else np.asarray(peaks)))
        by_label = np.argsort(labels, kind="stable")  # each cluster's voxels stay ascending
        sorted_labels = labels[by_label]
        cluster_ids = np.unique(labels[labels > 0])
        starts = np.searchsorted(sorted_labels, cluster_ids, side="left")
        stops = np.searchsorted(sorted_labels, cluster_ids, side="right")
        for cluster_id, start, stop in zip(cluster_ids, starts, stops):
            voxels = by_label[start:stop]
            peak = voxels[np.argmax(peak_values[voxels])]
            xyz = tuple(nib.affines.apply_affine(affine, mask_ijk[peak]))
            clusters.append(
                Cluster(
                    int(cluster_id),
                    tail,
                    voxels,
                    xyz,
                    float(sign * peak_values[peak]),
                    anatomy.peak_label(xyz),
                    anatomy.points_label(nib.affines.apply_affine(affine, mask_ijk[voxels])),
                )
            )
    return clusters


def _nilearn_labels(values, mask):
    """Label as nilearn's ``get_clusters_table(img, 0, 0, return_label_maps=True)`` does.

    Face-connected clusters of ``values > 0``, numbered 1, 2, ... by descending peak with
    nilearn's own ``argsort`` of the peaks (so ties break as in nilearn), without its
    per-cluster subpeak search, which costs minutes on maps with thousands of clusters.
    """
    volume = to_volume(values.astype(np.float32), mask)
    labels, n_clusters = label_faces(volume > 0)
    if n_clusters == 0:
        return labels[mask]
    peaks = ndimage.maximum(volume, labels, index=np.arange(1, n_clusters + 1))
    order = (-np.asarray(peaks, dtype=np.float32)).argsort()
    rank = np.zeros(n_clusters + 1, dtype=np.int64)
    rank[order + 1] = np.arange(1, n_clusters + 1)
    return rank[labels][mask]
