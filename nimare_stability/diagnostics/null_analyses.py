"""Null analyses for FailSafeN: foci uniform in the mask, sizes copied from real analyses.

Acar et al. (2018) add "noise" analyses to a coordinate-based meta-analysis: each reports
as many foci, and as many participants, as a real analysis drawn at random, with its foci
uniform in the brain mask. Here the real analyses the null ones copy are drawn once per
run (:class:`NullProfiles`) and every drawer places the foci anew (:func:`draw_nulls`), so
that the drawers differ only in where the null foci fall and share each size's Monte Carlo
null.
"""

import copy
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nimare.nimads import Studyset

from nimare_stability.core import _nimare_private as private
from nimare_stability.core.volumes import mask_array

#: Metadata keys a null analysis copies from the real analysis it imitates.
COPIED_METADATA = ("sample_sizes", "sample_size")


@dataclass(frozen=True)
class NullProfiles:
    """What each null analysis copies: a real analysis's foci count and metadata.

    Attributes
    ----------
    n_foci : ndarray of int, shape (n_null,)
    metadata : list of dict
        The copied :data:`COPIED_METADATA` entries of each null analysis.
    """

    n_foci: np.ndarray
    metadata: list

    @classmethod
    def draw(cls, estimator, n_null, rng):
        """Draw ``n_null`` profiles from the analyses ``estimator`` was fit on.

        Parameters
        ----------
        estimator : fitted single-group CBMA estimator
        n_null : int
        rng : :class:`numpy.random.Generator`
        """
        ids = np.asarray(estimator.inputs_["id"]).astype(str)
        coordinates = estimator.inputs_["coordinates"]
        counts = coordinates["id"].astype(str).value_counts()
        metadata = estimator.dataset.metadata.set_index("id")
        fitted_sizes = {}
        if "sample_size" in coordinates:  # what the estimator read, wherever it came from
            fitted_sizes = coordinates.groupby(coordinates["id"].astype(str))["sample_size"]
            fitted_sizes = fitted_sizes.first().to_dict()
        sources = ids[rng.integers(ids.size, size=n_null)]
        return cls(
            n_foci=np.array([counts[source] for source in sources], dtype=int),
            metadata=[_copied(metadata, source, fitted_sizes) for source in sources],
        )


def _copied(metadata, analysis_id, fitted_sizes):
    row = metadata.loc[analysis_id] if analysis_id in metadata.index else {}
    copied = {key: _plain(row[key]) for key in COPIED_METADATA if key in row and _given(row[key])}
    if not copied and _given(fitted_sizes.get(analysis_id)):
        copied["sample_sizes"] = [float(fitted_sizes[analysis_id])]
    return copied


def _given(value):
    return not (value is None or (np.isscalar(value) and value != value))


def _plain(value):
    """Return a JSON-friendly copy (lists of Python numbers), as NIMADS metadata is."""
    return np.asarray(value).tolist()


def draw_nulls(profiles, masker, rng, prefix, space="mni152_2mm"):
    """Return a Studyset of null analyses, one study each.

    Parameters
    ----------
    profiles : :class:`NullProfiles`
    masker : NiMARE masker
        Foci are drawn uniformly among its in-mask voxels (their centres, in mm).
    rng : :class:`numpy.random.Generator`
    prefix : str
        Study ids are ``prefix`` and ``j`` zero-padded to one width (at least 4 digits), so
        they sort in profile order; analysis ids add ``"-1"``.
    space : str, default="mni152_2mm"
        The Studyset's target space (that of the studyset it joins).

    Returns
    -------
    studyset : :class:`~nimare.nimads.Studyset`
    ids : list of str
        Analysis ids, in profile order.
    """
    mask = mask_array(masker)
    voxels = np.argwhere(mask)
    affine = masker.mask_img.affine
    studies = []
    width = max(4, len(str(len(profiles.n_foci) - 1)))
    for j, (n_foci, metadata) in enumerate(zip(profiles.n_foci, profiles.metadata)):
        xyz = nib.affines.apply_affine(affine, voxels[rng.integers(len(voxels), size=n_foci)])
        studies.append(
            {
                "id": f"{prefix}{j:0{width}d}",
                "name": f"{prefix}{j:0{width}d}",
                "metadata": {},
                "analyses": [
                    {
                        "id": "1",
                        "name": "1",
                        "metadata": copy.deepcopy(metadata),
                        "conditions": [],
                        "weights": [],
                        "images": [],
                        "texts": None,
                        "points": [
                            {"coordinates": [float(v) for v in point], "space": "MNI"}
                            for point in xyz
                        ],
                    }
                ],
            }
        )
    source = {"id": prefix, "name": "null analyses", "studies": studies}
    return Studyset(source, target=space), [f"{study['id']}-1" for study in studies]


def augmented_estimator(estimator, nulls):
    """Return a deep copy of ``estimator`` given its own analyses plus the ``nulls`` Studyset.

    Its inputs are prepared as a fit on the merged studyset prepares them, without the fit
    itself (at ten times the analyses, NiMARE's fit of MA maps, statistic and null costs
    more than a minute and gigabytes): the engines compute what a replicate needs from
    those inputs, and a refit reads its ``dataset``.
    """
    real = estimator.dataset
    overlap = set(real.ids) & set(nulls.ids)
    if overlap:
        raise ValueError(
            f"Null analysis ids clash with the studyset's own ({sorted(overlap)[:3]}); "
            "accepted: a studyset whose ids do not start with the null prefix."
        )
    return private.prepared_copy(estimator, real.merge(nulls))
