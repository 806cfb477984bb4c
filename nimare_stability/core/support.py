"""The support rule: ONE function decides which voxels of a map count.

The same rule judges the baseline and every replicate:

1. p < ``alpha``, p read from the target's own family (``p_`` sibling, else ``logp_``, else
   the z map with NiMARE's tail); or, when ``target_threshold`` is given, |z| > threshold.
2. Clusters smaller than ``cluster_threshold`` voxels are dropped (face connectivity, as
   nilearn's ``get_clusters_table``).
3. Signs are kept: positive and negative support are separate.
"""

from dataclasses import dataclass

import numpy as np

from nimare_stability.core import names, targets
from nimare_stability.core.volumes import label_faces, to_volume

#: p values within float32 rounding of alpha count as equal to alpha (not significant):
#: NiMARE stores logp as float32, so a Monte Carlo p of exactly 0.05 reads back as 0.04999999.
_P_RTOL = 1e-5


@dataclass(frozen=True)
class Support:
    """Signed support of one map: +1, −1 or 0 per in-mask voxel, and its cluster count."""

    signs: np.ndarray
    n_clusters: int


@dataclass(frozen=True)
class SupportRule:
    """The support rule of one run.

    Parameters
    ----------
    target_image : :obj:`str`
        Map to judge.
    tail : {"one", "two"}
        Tail of the p values behind the target's z map (used only when p must be derived
        from z).
    mask : :class:`numpy.ndarray` of bool, shape (X, Y, Z)
        In-mask voxels, in the order of the maps' values.
    alpha : :obj:`float`
    target_threshold : :obj:`float` or None
    cluster_threshold : :obj:`int` or None
    excluded : :class:`numpy.ndarray` of bool, shape (n_voxels,), optional
        Voxels never supported (those where the baseline target is NaN).

    Notes
    -----
    A voxel whose p (or z, under ``target_threshold``) is NaN is never supported.
    """

    target_image: str
    tail: str
    mask: np.ndarray
    alpha: float = 0.05
    target_threshold: float = None
    cluster_threshold: int = None
    excluded: np.ndarray = None

    def __call__(self, maps):
        """Return the :class:`Support` of a result's ``maps`` (name -> 1D array)."""
        z = self._z(maps)
        if self.target_threshold is not None:
            significant = np.abs(z) > self.target_threshold
        else:
            p = targets.p_values(maps, self.target_image, self.tail)
            significant = p < self.alpha * (1 - _P_RTOL)
        if self.excluded is not None:
            significant &= ~self.excluded
        signs = np.where(significant, np.where(z < 0, -1, 1), 0)
        return self._drop_small_clusters(signs.astype(np.int8))

    def _z(self, maps):
        name = names.sibling(self.target_image, names.Z)
        if name in maps:
            return np.asarray(maps[name], dtype=np.float64)
        if self.target_threshold is not None:
            raise ValueError(
                f"target_threshold={self.target_threshold} needs a z map, but the result has "
                f"no {name!r}. Accepted: target_threshold=None (support from p < alpha)."
            )
        return np.zeros(len(next(iter(maps.values()))))

    def _drop_small_clusters(self, signs):
        volume = to_volume(signs, self.mask)
        n_clusters = 0
        for sign in (1, -1):
            labels, n_labels = label_faces(volume == sign)
            if not n_labels:
                continue
            sizes = np.bincount(labels.ravel())
            small = sizes < (self.cluster_threshold or 0)
            small[0] = False
            volume[small[labels]] = 0
            n_clusters += int(n_labels - small[1:].sum())
        return Support(signs=volume[self.mask], n_clusters=n_clusters)
