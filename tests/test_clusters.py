"""Baseline clusters are numbered exactly as nilearn's ``get_clusters_table`` numbers them."""

import warnings

import nibabel as nib
import numpy as np
import pytest
from nilearn.reporting import get_clusters_table

from nimare_stability.core.clusters import _nilearn_labels
from nimare_stability.core.volumes import to_volume


def _nilearn(values, mask):
    image = nib.Nifti1Image(to_volume(values.astype(np.float32), mask), np.eye(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no clusters found", subpeaks outside a cluster
        _, maps = get_clusters_table(image, 0, 0, two_sided=False, return_label_maps=True)
    if not maps:
        return np.zeros(int(mask.sum()), dtype=int)
    return np.asanyarray(maps[0].dataobj)[mask]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["continuous", "tied"])
def test_labels_equal_nilearns_on_maps_with_many_clusters(seed, kind):
    rng = np.random.default_rng(seed)
    mask = rng.random((18, 20, 16)) < 0.9
    values = rng.random(int(mask.sum()))
    values[values < 0.6] = 0  # hundreds of small clusters
    if kind == "tied":  # peaks tie often: nilearn's argsort decides their order
        values = np.ceil(values * 3)
    labels = _nilearn_labels(values, mask)
    assert labels.max() > 50
    np.testing.assert_array_equal(labels, _nilearn(values, mask))


def test_empty_map_has_no_labels():
    mask = np.ones((5, 5, 5), dtype=bool)
    values = np.zeros(125)
    assert not _nilearn_labels(values, mask).any()
    np.testing.assert_array_equal(_nilearn_labels(values, mask), _nilearn(values, mask))
