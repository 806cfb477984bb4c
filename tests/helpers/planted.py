"""A coordinate-based studyset with a planted truth, for stability tests.

Built on NiMARE alone. Every analysis reports:

- a jittered focus at each TRUE region it is assigned to (each true region is
  assigned to 50-70% of the analyses), so the true regions are robust: no small
  set of analyses carries them;
- for each FRAGILE region of fragility ``k``: exactly ``k`` analyses (and nobody
  else) report the same patch of 12 foci around its centre (the vertices of a
  regular icosahedron of circumradius :data:`FRAGILE_RADIUS_MM`);
- a few uniform noise foci inside NiMARE's 2 mm MNI brain mask, at least
  :data:`NOISE_MIN_DISTANCE_MM` from every planted centre;
- optionally (``near_noise``), distractors: analyses reporting no fragile region, each
  with one more focus :data:`NEAR_NOISE_MM` from a fragile centre, within reach of its
  cluster (KDA's 10 mm sphere), so that a fragility search must tell them from the
  region's own analyses.

Why the patch is shaped so: :class:`~nimare.meta.cbma.KDA` sums its 10 mm sphere
over the foci of an analysis, so one analysis with 12 foci reaches 12 at the
centre, well above any sum the single-focus analyses reach by chance. But KDA's
approximate null is built from the analyses' own MA-value histograms, so every
voxel where one fragile analysis alone is high also inflates the null tail. Foci
spread on a 9 mm icosahedron keep that analysis's high-value core small (13
voxels at >= 8, peak 12 at the centre), which keeps the cluster-forming
threshold (p < 0.001) near 8; identical coordinates would put 12 on the whole
515-voxel sphere, push the threshold above 12 and make a single analysis
non-significant. With KDA (default kernel) and
Monte Carlo cluster-size FWE (``voxel_thresh=0.001``) each fragile region is
significant while at least one of its analyses remains, and gone once all ``k``
are dropped; each true region (15-21 of 30 reporters, one focus each) survives dropping
any two analyses.

ALE takes the maximum, not the sum, over an analysis's foci, so no single
analysis makes a significant ALE cluster here; this helper targets KDA. With
``patch="tight"`` a single analysis's ALE stays below the cluster-forming threshold
and two analyses' exceed it; :func:`ale_values` gives ALE in closed form, to check.
"""

from __future__ import annotations

import numpy as np
from nimare.nimads import Studyset
from nimare.utils import get_template

__all__ = [
    "ALE_TRUNCATE",
    "BORDERLINE",
    "FRAGILE_CENTRES_MM",
    "FRAGILE_RADIUS_MM",
    "NEAR_NOISE_MM",
    "NOISE_MIN_DISTANCE_MM",
    "TIGHT_RADIUS_MM",
    "TRUE_CENTRES_MM",
    "ale_values",
    "planted_studyset",
]

#: Centres (MNI mm) of the three true regions. Every planted centre (true or
#: fragile) lies on the 2 mm grid, >= 15 mm inside the brain mask and >= 40 mm
#: from every other planted centre.
TRUE_CENTRES_MM = ((40.0, -20.0, 50.0), (-44.0, -60.0, 20.0), (0.0, 40.0, 30.0))
#: Centres (MNI mm) for the fragile regions, used in the order of ``fragile``
#: (the first three are the ones the tests check).
FRAGILE_CENTRES_MM = (
    (30.0, 10.0, 10.0),
    (20.0, -60.0, -30.0),
    (-30.0, 30.0, 0.0),
    (40.0, -70.0, 10.0),
    (-40.0, -20.0, 50.0),
)
#: Circumradius (mm) of the ``patch="tight"`` icosahedron (ALE's fragile regions).
TIGHT_RADIUS_MM = 4.0
#: Circumradius (mm) of the icosahedron of 12 foci each fragile analysis reports.
FRAGILE_RADIUS_MM = 9.0
#: Range (mm) of the distance between a true-region focus and its centre.
TRUE_JITTER_MM = (2.0, 4.0)
#: Noise foci per analysis.
NOISE_FOCI = 3
#: Minimum distance (mm) between a noise focus and every planted centre.
NOISE_MIN_DISTANCE_MM = 20.0
#: Fraction range of analyses that report each true region.
TRUE_FRACTION = (0.5, 0.7)
#: ALE kernel: the Gaussian is cut this many standard deviations from its centre.
ALE_TRUNCATE = 4.0
#: Range (mm) of the distance between a distractor's focus and its fragile centre.
NEAR_NOISE_MM = (10.0, 12.0)
#: :func:`planted_studyset` arguments of the borderline case: each fragile analysis
#: reports 7 of the 12 foci, one more than the edge (under KDA + Monte Carlo cluster-size
#: FWE at 100 iterations, a region of one analysis with 6 foci and no distractor has p
#: from 0.02 to 0.06 across seeds; with 7, a cluster of 15 voxels and p = 0.01), each
#: fragile region has 2 distractors, and no true region competes for the search.
BORDERLINE = {"patch_foci": 7, "near_noise": 2, "true_regions": False}


def _mask_world_coordinates():
    """Return the (n_voxels, 3) MNI mm coordinates of the brain-mask voxels."""
    img = get_template(space="mni152_2mm", mask="brain")
    ijk = np.argwhere(np.asarray(img.dataobj) > 0)
    return ijk @ img.affine[:3, :3].T + img.affine[:3, 3]


def _icosahedron(radius):
    """Return the 12 vertices of a regular icosahedron of circumradius ``radius`` (mm)."""
    phi = (1.0 + 5.0**0.5) / 2.0
    vertices = []
    for a in (-1.0, 1.0):
        for b in (-phi, phi):
            vertices += [(0.0, a, b), (a, b, 0.0), (b, 0.0, a)]
    vertices = np.asarray(vertices)
    return vertices * radius / np.linalg.norm(vertices[0])


#: What each analysis of a fragile region reports, by ``patch``.
_PATCHES = {"icosahedron": _icosahedron(FRAGILE_RADIUS_MM), "tight": _icosahedron(TIGHT_RADIUS_MM)}


def planted_studyset(
    n_analyses=30,
    fragile=(1, 2, 3),
    seed=0,
    patch="icosahedron",
    patch_foci=12,
    near_noise=0,
    true_regions=True,
):
    """Build a coordinate studyset with known true and fragile regions.

    Parameters
    ----------
    n_analyses : int, default=30
        Number of analyses, one per study.
    fragile : sequence of int, default=(1, 2, 3)
        One fragile region per entry; entry ``k`` is reported by exactly ``k``
        analyses. The analyses of different fragile regions are disjoint, so
        ``sum(fragile)`` must not exceed ``n_analyses``.
    seed : int, default=0
        Seed for :func:`numpy.random.default_rng`; the output is deterministic
        given ``seed``.
    patch : {"icosahedron", "tight"}, default="icosahedron"
        What each analysis of a fragile region reports: the 12-focus patch of radius
        :data:`FRAGILE_RADIUS_MM` (with KDA one analysis is significant and the region
        vanishes only without all ``k``), or the same 12 foci within
        :data:`TIGHT_RADIUS_MM` (the ALE case: one analysis's ALE stays below the
        cluster-forming threshold, two exceed it).
    patch_foci : int, default=12
        How many of the patch's 12 foci each fragile analysis reports (the first
        ``patch_foci`` vertices): fewer make a weaker region.
    near_noise : int, default=0
        Distractors per fragile region: analyses that report no fragile region, each
        given one more focus in the brain mask :data:`NEAR_NOISE_MM` from the region's
        centre. Drawn after everything else, so the rest of the studyset is the same as
        with ``near_noise=0``.
    true_regions : bool, default=True
        Whether to plant the true regions (without them, a fragility search has only the
        fragile regions' few contributors to try).

    Returns
    -------
    studyset : :class:`~nimare.nimads.Studyset`
        Study ids are ``"study-00"``, ``"study-01"``, ...; each study has one
        analysis with id ``"analysis-0"``, so ``studyset.ids`` are
        ``"study-00-analysis-0"``, ... (NiMARE joins study and analysis ids with
        ``"-"``). Every analysis carries ``metadata["sample_sizes"] = [n]``.
    truth : dict
        ``{"true": [xyz, ...], "fragile": {k: {"xyz": xyz, "ids": [...], "near": [...]}}}``:
        the planted centres (tuples of MNI mm) and, per fragile region, the ids (as in
        ``studyset.ids``) of the analyses that report it and of its distractors.
        ``fragile`` is keyed by ``k``, so its entries must be distinct.
    """
    fragile = tuple(int(k) for k in fragile)
    if any(k < 1 for k in fragile) or len(set(fragile)) != len(fragile):
        raise ValueError(f"fragile must hold distinct positive ints, got {fragile}")
    if len(fragile) > len(FRAGILE_CENTRES_MM):
        raise ValueError(f"at most {len(FRAGILE_CENTRES_MM)} fragile regions are supported")
    if sum(fragile) + near_noise * len(fragile) > n_analyses:
        raise ValueError(
            f"sum(fragile) + near_noise * len(fragile) exceeds n_analyses={n_analyses}"
        )
    if not 1 <= patch_foci <= 12:
        raise ValueError(f"patch_foci must be within 1-12, got {patch_foci}")

    rng = np.random.default_rng(seed)
    digits = max(2, len(str(n_analyses - 1)))
    study_ids = [f"study-{i:0{digits}d}" for i in range(n_analyses)]
    analysis_ids = [f"{sid}-analysis-0" for sid in study_ids]
    foci = [[] for _ in range(n_analyses)]

    # True regions: each reported by 50-70% of the analyses, one jittered focus each.
    lo = int(np.ceil(TRUE_FRACTION[0] * n_analyses))
    hi = int(np.floor(TRUE_FRACTION[1] * n_analyses))
    true_centres = [np.asarray(c) for c in TRUE_CENTRES_MM] if true_regions else []
    for centre in true_centres:
        reporters = rng.choice(n_analyses, size=int(rng.integers(lo, hi + 1)), replace=False)
        for i in np.sort(reporters):
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
            foci[i].append(centre + direction * rng.uniform(*TRUE_JITTER_MM))

    # Fragile regions: disjoint sets of exactly k analyses, each the same 12-focus patch.
    order = rng.permutation(n_analyses)
    fragile_truth = {}
    fragile_centres = []
    start = 0
    for k, centre in zip(fragile, FRAGILE_CENTRES_MM):
        centre = np.asarray(centre)
        fragile_centres.append(centre)
        reporters = np.sort(order[start : start + k])
        start += k
        for i in reporters:
            foci[i].extend(centre + _PATCHES[patch][:patch_foci])
        fragile_truth[k] = {
            "xyz": tuple(float(v) for v in centre),
            "ids": [analysis_ids[i] for i in reporters],
            "near": [],
        }

    # Noise: uniform over brain-mask voxels far from every planted centre.
    mask_xyz = _mask_world_coordinates()
    planted = np.asarray(true_centres + fragile_centres)
    dist = np.sqrt(((mask_xyz[:, None, :] - planted[None, :, :]) ** 2).sum(-1)).min(axis=1)
    candidates = mask_xyz[dist >= NOISE_MIN_DISTANCE_MM]
    for i in range(n_analyses):
        picks = rng.choice(len(candidates), size=NOISE_FOCI, replace=False)
        foci[i].extend(candidates[picks])

    sample_sizes = rng.integers(15, 41, size=n_analyses)

    # Distractors: analyses of no fragile region, one focus near a fragile centre each.
    if near_noise:
        bystanders = rng.choice(order[sum(fragile) :], (len(fragile), near_noise), replace=False)
        for region, chosen in zip(fragile_truth.values(), bystanders):
            dist = np.linalg.norm(mask_xyz - np.asarray(region["xyz"]), axis=1)
            ring = mask_xyz[(dist >= NEAR_NOISE_MM[0]) & (dist <= NEAR_NOISE_MM[1])]
            for i in np.sort(chosen):
                foci[i].append(ring[rng.integers(len(ring))])
                region["near"].append(analysis_ids[i])

    studies = []
    for i, sid in enumerate(study_ids):
        points = [
            {"coordinates": [round(float(v), 2) for v in xyz], "space": "MNI"} for xyz in foci[i]
        ]
        analysis = {
            "id": "analysis-0",
            "name": "analysis-0",
            "metadata": {"sample_sizes": [int(sample_sizes[i])]},
            "conditions": [],
            "weights": [],
            "images": [],
            "texts": None,
            "points": points,
        }
        studies.append({"id": sid, "name": sid, "metadata": {}, "analyses": [analysis]})

    doc = {"id": "planted", "name": "Planted-truth CBMA studyset", "studies": studies}
    truth = {
        "true": [tuple(float(v) for v in c) for c in true_centres],
        "fragile": fragile_truth,
    }
    return Studyset(doc), truth


def ale_values(studyset, xyz):
    """Return the ALE of ``studyset`` at the points ``xyz`` (MNI mm), in closed form.

    Each analysis's modeled activation at a voxel is the largest kernel value over its
    foci (rounded to the 2 mm grid); ALE is ``1 - prod(1 - MA)``. The kernel is a
    Gaussian whose FWHM combines 5.7 mm of between-template and ``11.6 / sqrt(n)`` mm of
    between-subject uncertainty (expected distances, Eickhoff et al., 2009; ``n`` the
    analysis's sample size), sampled at the voxels, cut at :data:`ALE_TRUNCATE` standard
    deviations and normalised to sum 1 along each axis (separable).

    Parameters
    ----------
    studyset : :class:`~nimare.nimads.Studyset`
        Every analysis with ``metadata["sample_sizes"] = [n]``.
    xyz : array of shape (n_points, 3)
        Points on the 2 mm grid.

    Returns
    -------
    ndarray of shape (n_points,)
    """
    affine = get_template(space="mni152_2mm", mask="brain").affine
    voxel_mm = abs(affine[0, 0])
    to_ijk = np.linalg.inv(affine)
    points = np.round(np.asarray(xyz, float) @ to_ijk[:3, :3].T + to_ijk[:3, 3]).astype(int)
    coordinates = studyset.coordinates
    sizes = studyset.metadata.set_index("id")["sample_sizes"]
    fwhm_per_distance = np.sqrt(8 * np.log(2)) / (2 * np.sqrt(2 / np.pi))
    no_activation = np.ones(len(points))
    for analysis_id, foci in coordinates.groupby("id"):
        n = float(np.mean(sizes[analysis_id]))
        fwhm = fwhm_per_distance * np.hypot(5.7, 11.6 / np.sqrt(n))
        sigma = fwhm / np.sqrt(8 * np.log(2)) / voxel_mm
        radius = int(ALE_TRUNCATE * sigma + 0.5)
        weights = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        weights /= weights.sum()
        ijk = foci[["x", "y", "z"]].to_numpy(float) @ to_ijk[:3, :3].T + to_ijk[:3, 3]
        offsets = points[:, None, :] - np.round(ijk).astype(int)[None]
        inside = (np.abs(offsets) <= radius).all(axis=2)
        values = np.prod(weights[np.clip(offsets + radius, 0, 2 * radius)], axis=2)
        no_activation *= 1 - np.where(inside, values, 0).max(axis=1)
    return 1 - no_activation
