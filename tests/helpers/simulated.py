"""Simulated image-based studysets for testing IBMA estimators offline.

NiMARE's own IBMA example data (the pain images) need a download, so the tests
build their own: a planted true effect on NiMARE's default 2 mm MNI brain-mask
grid plus independent noise per analysis.
"""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np
from nimare.nimads import Studyset
from nimare.utils import get_template

__all__ = ["BLOBS_MM", "BLOB_SIGMA_MM", "blob_masks", "make_ibma_studyset", "true_effect"]

#: Centres (MNI mm) and signs of the planted effects: one positive, one negative,
#: so that two-tailed maps carry both signs.
BLOBS_MM = (((40.0, -20.0, 50.0), 1.0), ((-30.0, -70.0, 20.0), -1.0))
#: Gaussian width of each blob, in mm.
BLOB_SIGMA_MM = 8.0

_TEMPLATE = {}


def _template():
    """Return ``(mask image, boolean mask array)`` for NiMARE's default grid, cached."""
    if "mask" not in _TEMPLATE:
        img = get_template(space="mni152_2mm", mask="brain")
        _TEMPLATE["mask"] = (img, np.asarray(img.dataobj) > 0)
    return _TEMPLATE["mask"]


def _world_grid(img):
    """Return the (x, y, z) mm coordinates of every voxel of ``img``."""
    ijk = np.indices(img.shape[:3], dtype=np.float64)
    affine = img.affine
    return [
        affine[r, 0] * ijk[0] + affine[r, 1] * ijk[1] + affine[r, 2] * ijk[2] + affine[r, 3]
        for r in range(3)
    ]


def true_effect():
    """Return the signed planted effect (peak magnitude 1) on the template grid."""
    if "effect" not in _TEMPLATE:
        img, mask = _template()
        x, y, z = _world_grid(img)
        effect = np.zeros(img.shape[:3])
        for (cx, cy, cz), sign in BLOBS_MM:
            d2 = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2
            effect += sign * np.exp(-d2 / (2 * BLOB_SIGMA_MM**2))
        effect[~mask] = 0.0
        _TEMPLATE["effect"] = effect
    return _TEMPLATE["effect"]


def blob_masks(radius_mm=6.0):
    """Return ``(positive, negative)`` boolean arrays: in-brain voxels near each blob centre."""
    img, mask = _template()
    x, y, z = _world_grid(img)
    out = []
    for (cx, cy, cz), _sign in BLOBS_MM:
        d2 = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2
        out.append((d2 <= radius_mm**2) & mask)
    return tuple(out)


def make_ibma_studyset(
    directory,
    n_analyses=12,
    n_studies=None,
    effect=8.0,
    seed=0,
    imtypes=("z", "beta", "varcope", "t"),
):
    """Build a simulated image-based :class:`~nimare.nimads.Studyset`.

    Each analysis ``i`` has a standard error ``se_i`` (uniform in [0.5, 1.5],
    spatially constant) and a sample size ``n_i`` (integer in [15, 40]). With
    ``e`` the planted effect (:func:`true_effect`: a positive and a negative
    Gaussian blob, peak magnitude 1) and ``eps_i`` independent standard-normal
    noise inside the brain mask:

    - ``beta_i = effect * e + se_i * eps_i`` (a fixed true effect, no heterogeneity)
    - ``varcope_i = se_i ** 2``
    - ``z_i = beta_i / se_i``
    - ``t_i = z_i`` (the sample sizes are large enough for the difference not to
      matter to a test fixture)

    Voxels outside the mask are 0 in every map except varcope.

    The default ``effect`` is large on purpose: with ``n_studies < n_analyses``
    the meta-regression estimators (DerSimonianLaird, WeightedLeastSquares, ...)
    by default treat analyses of one study as dependent and use cluster-robust
    inference with very few degrees of freedom (about 3.6 for 5 studies), so a
    weaker effect does not survive FDR correction there.

    Parameters
    ----------
    directory : str or path-like
        Where the NIfTI files are written (created if needed).
    n_analyses : int, default=12
        Number of analyses (one image of each type per analysis).
    n_studies : int or None, default=None
        Number of studies; defaults to ``n_analyses`` (one analysis per study).
        When smaller, analyses are dealt to studies in contiguous blocks, as
        evenly as possible, so study ids repeat across analyses.
    effect : float, default=8.0
        Peak true effect (beta units) of the planted blobs: ``+effect`` at the
        positive blob, ``-effect`` at the negative one. Per-analysis peak z is
        ``effect / se_i``.
    seed : int, default=0
        Seed for :func:`numpy.random.default_rng`.
    imtypes : tuple of str, default=("z", "beta", "varcope", "t")
        Image types to write; fewer types write faster.

    Returns
    -------
    :class:`~nimare.nimads.Studyset`
        Study ids are ``"study-<k>"`` (k zero-padded to 2 digits), analysis ids
        ``"analysis-<i>"``; ``studyset.ids`` are ``"study-<k>-analysis-<i>"``.
        Each analysis carries ``metadata["sample_sizes"] = [n_i]``. Analyses are
        ordered by study, so ``studyset.ids`` follows ``analysis-00, 01, ...``.
    """
    if n_studies is None:
        n_studies = n_analyses
    if not 1 <= n_studies <= n_analyses:
        raise ValueError(f"n_studies must be in [1, n_analyses], got {n_studies}")
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)

    rng = np.random.default_rng(seed)
    img, mask = _template()
    signal = effect * true_effect()
    n_vox = int(mask.sum())
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)

    # Contiguous blocks of analyses per study, sizes as even as possible.
    bounds = np.linspace(0, n_analyses, n_studies + 1).round().astype(int)
    study_of = np.repeat(np.arange(n_studies), np.diff(bounds))
    se = rng.uniform(0.5, 1.5, size=n_analyses)
    sample_sizes = rng.integers(15, 41, size=n_analyses)

    def _save(data, name):
        path = os.path.join(directory, name)
        nib.save(nib.Nifti1Image(data.astype(np.float32), img.affine, header), path)
        return path

    studies = {}
    for i in range(n_analyses):
        beta = signal.copy()
        beta[mask] += se[i] * rng.standard_normal(n_vox)
        z = beta / se[i]
        maps = {
            "z": lambda: z,
            "t": lambda: z,
            "beta": lambda: beta,
            "varcope": lambda: np.full(z.shape, se[i] ** 2),
        }
        images = [
            {
                "value_type": imtype,
                "filename": _save(maps[imtype](), f"analysis-{i:02d}_{imtype}.nii.gz"),
                "space": "MNI",
            }
            for imtype in imtypes
        ]
        sid = f"study-{study_of[i]:02d}"
        studies.setdefault(sid, []).append(
            {
                "id": f"analysis-{i:02d}",
                "name": f"analysis-{i:02d}",
                "metadata": {"sample_sizes": [int(sample_sizes[i])]},
                "images": images,
                "points": [],
            }
        )

    doc = {
        "id": "simulated-ibma",
        "name": "Simulated IBMA studyset",
        "studies": [
            {"id": sid, "name": sid, "metadata": {}, "analyses": analyses}
            for sid, analyses in studies.items()
        ],
    }
    return Studyset(doc)
