"""Masked maps and the volumes they come from.

The mask as a boolean array, and clusters labelled by face connectivity (as nilearn's
``get_clusters_table``, NiMARE's Monte Carlo correction and its Jackknife label them).
"""

import numpy as np
from scipy import ndimage

from nimare_stability.core._nimare_private import mask_to_bool

#: Face (6-neighbour) connectivity.
FACES = ndimage.generate_binary_structure(3, 1)


def mask_array(masker):
    """Return a NiMARE masker's (or mask image's) in-mask voxels as a 3D bool array.

    Masked 1D maps hold these voxels' values in C order.
    """
    mask_img = getattr(masker, "mask_img_", getattr(masker, "mask_img", masker))
    return mask_to_bool(mask_img)


def to_volume(values, mask):
    """Put masked values back into a volume of ``mask``'s shape (0 outside the mask)."""
    volume = np.zeros(mask.shape, dtype=np.asarray(values).dtype)
    volume[mask] = values
    return volume


def label_faces(binary_volume):
    """Label face-connected clusters of a 3D bool volume; return ``(labels, n_clusters)``."""
    return ndimage.label(binary_volume, FACES)
