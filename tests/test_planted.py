"""The planted-truth studyset behaves as planted under NiMARE's KDA + Monte Carlo FWE (and
its tight patch under NiMARE's ALE).

Only NiMARE (and scipy) is used here: these tests pin down the ground truth that
stability tests rely on, independently of ``nimare_stability``.
"""

import numpy as np
import pytest
from helpers.planted import BORDERLINE, NOISE_MIN_DISTANCE_MM, ale_values, planted_studyset
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE, KDA
from scipy import ndimage

N_ITERS = 100
MAP = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
LOGP = "logp_desc-size_level-cluster_corr-FWE_method-montecarlo"
ALPHA = 0.05
NEAR_MM = 6.0
#: KDA's sphere radius (mm): a focus reaches the voxels this close.
KDA_RADIUS_MM = 10.0


def _corrected_p(studyset, random_state=None):
    """Fit KDA, correct by Monte Carlo cluster-size FWE; return (3D p array, affine)."""
    result = KDA(random_state=random_state).fit(studyset)
    corrected = FWECorrector(method="montecarlo", n_iters=N_ITERS, voxel_thresh=0.001).transform(
        result
    )
    assert MAP in corrected.maps
    img = corrected.get_map(LOGP)
    # Out-of-mask voxels come back as logp 0, i.e. p = 1.
    return 10.0 ** -np.asarray(img.get_fdata()), img.affine


def _voxel(affine, xyz):
    return tuple(np.round(np.linalg.solve(affine, np.r_[xyz, 1.0])[:3]).astype(int))


def _ball(shape, affine, xyz, radius=NEAR_MM):
    ijk = np.indices(shape).reshape(3, -1).T
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    return (((world - np.asarray(xyz)) ** 2).sum(axis=1) <= radius**2).reshape(shape)


def _reporters(studyset, xyz, radius):
    """Analysis ids with at least one focus within ``radius`` mm of ``xyz``."""
    coords = studyset.coordinates
    d = np.linalg.norm(coords[["x", "y", "z"]].to_numpy() - np.asarray(xyz), axis=1)
    return sorted(set(coords.loc[d <= radius, "id"]))


def _without(studyset, drop):
    return studyset.slice([i for i in studyset.ids if i not in set(drop)])


@pytest.fixture(scope="session")
def planted():
    return planted_studyset()


@pytest.fixture(scope="session")
def baseline(planted):
    studyset, _ = planted
    return _corrected_p(studyset)


@pytest.fixture(scope="session")
def footprints(planted, baseline):
    """Per fragile k: its baseline significant cluster (face-connected, containing the centre)."""
    _, truth = planted
    p, affine = baseline
    labels, _ = ndimage.label(p < ALPHA)
    out = {}
    for k, region in truth["fragile"].items():
        label = labels[_voxel(affine, region["xyz"])]
        assert label > 0, f"centre of fragile region k={k} is not significant"
        out[k] = labels == label
    return out


def test_analysis_ids_join_study_id_and_analysis_id(planted):
    studyset, truth = planted
    assert list(studyset.ids) == [f"study-{i:02d}-analysis-0" for i in range(30)]
    assert list(studyset.study_ids) == [f"study-{i:02d}" for i in range(30)]
    for region in truth["fragile"].values():
        assert set(region["ids"]) <= set(studyset.ids)
    assert (studyset.sample_sizes() >= 15).all()


def test_same_seed_gives_identical_studyset_and_other_seed_differs():
    a, truth_a = planted_studyset(seed=3)
    b, truth_b = planted_studyset(seed=3)
    c, _ = planted_studyset(seed=4)
    assert truth_a == truth_b
    cols = ["id", "x", "y", "z"]
    assert a.coordinates[cols].equals(b.coordinates[cols])
    assert not a.coordinates[cols].equals(c.coordinates[cols])


def test_fragile_regions_are_reported_by_exactly_k_disjoint_analyses(planted):
    studyset, truth = planted
    assert sorted(truth["fragile"]) == [1, 2, 3]
    seen = set()
    for k, region in truth["fragile"].items():
        assert len(region["ids"]) == k
        assert _reporters(studyset, region["xyz"], radius=12.0) == sorted(region["ids"])
        assert not seen & set(region["ids"])
        seen |= set(region["ids"])


def test_true_regions_are_reported_by_half_to_seventy_percent(planted):
    studyset, truth = planted
    assert len(truth["true"]) == 3
    for xyz in truth["true"]:
        n = len(_reporters(studyset, xyz, radius=4.5))
        assert 15 <= n <= 21
        assert _reporters(studyset, xyz, radius=NOISE_MIN_DISTANCE_MM - 0.5) == _reporters(
            studyset, xyz, radius=4.5
        )


def test_noise_foci_keep_away_from_every_planted_region(planted):
    studyset, truth = planted
    centres = np.asarray(truth["true"] + [r["xyz"] for r in truth["fragile"].values()])
    xyz = studyset.coordinates[["x", "y", "z"]].to_numpy()
    d = np.linalg.norm(xyz[:, None, :] - centres[None], axis=2).min(axis=1)
    # Planted foci are within 4 mm (true) or at 9 mm (fragile patch); the rest is noise.
    assert ((d <= 9.5) | (d >= NOISE_MIN_DISTANCE_MM)).all()
    assert (d >= NOISE_MIN_DISTANCE_MM).sum() == 3 * len(studyset.ids)


def test_every_planted_region_is_significant_at_baseline(planted, baseline):
    _, truth = planted
    p, affine = baseline
    centres = truth["true"] + [r["xyz"] for r in truth["fragile"].values()]
    for xyz in centres:
        assert p[_ball(p.shape, affine, xyz)].min() < ALPHA, xyz


@pytest.mark.parametrize("k", [1, 2, 3])
def test_fragile_region_vanishes_without_its_k_analyses(planted, footprints, k):
    studyset, truth = planted
    p, _ = _corrected_p(_without(studyset, truth["fragile"][k]["ids"]))
    assert p[footprints[k]].min() >= ALPHA


@pytest.mark.parametrize("k", [2, 3])
def test_fragile_region_survives_losing_k_minus_one_analyses(planted, k):
    studyset, truth = planted
    region = truth["fragile"][k]
    p, affine = _corrected_p(_without(studyset, region["ids"][: k - 1]))
    assert p[_ball(p.shape, affine, region["xyz"])].min() < ALPHA


@pytest.mark.parametrize("index", [0, 1, 2])
def test_true_region_survives_dropping_two_of_its_reporters(planted, index):
    studyset, truth = planted
    xyz = truth["true"][index]
    reporters = _reporters(studyset, xyz, radius=4.5)
    rng = np.random.default_rng(index)
    for _ in range(2):
        pair = rng.choice(reporters, size=2, replace=False)
        p, affine = _corrected_p(_without(studyset, pair))
        assert p[_ball(p.shape, affine, xyz)].min() < ALPHA, pair


# --------------------------------------------------------------------------------------
# The borderline case: weak regions (7 of 12 foci), distractor foci 10-12 mm away
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def borderline():
    """The borderline studyset, its truth and its baseline p (seeded Monte Carlo)."""
    studyset, truth = planted_studyset(**BORDERLINE)
    return studyset, truth, _corrected_p(studyset, random_state=0)


def _footprint(p, affine, xyz):
    """The significant face-connected cluster nearest ``xyz`` (within NEAR_MM)."""
    labels, _ = ndimage.label(p < ALPHA)
    ball = _ball(p.shape, affine, xyz) & (labels > 0)
    assert ball.any(), f"no significant voxel within {NEAR_MM} mm of {xyz}"
    world = np.argwhere(ball) @ affine[:3, :3].T + affine[:3, 3]
    nearest = np.argwhere(ball)[np.argmin(np.linalg.norm(world - np.asarray(xyz), axis=1))]
    return labels == labels[tuple(nearest)]


def test_borderline_regions_have_distractors_within_kda_reach(borderline):
    studyset, truth, (p, affine) = borderline
    coords = studyset.coordinates
    for k, region in truth["fragile"].items():
        assert len(region["near"]) == 2 and not set(region["near"]) & set(region["ids"])
        voxels = np.argwhere(_footprint(p, affine, region["xyz"]))
        world = voxels @ affine[:3, :3].T + affine[:3, 3]
        near = coords[coords["id"].isin(region["near"])][["x", "y", "z"]].to_numpy()
        reach = np.linalg.norm(near[:, None] - world[None], axis=2).min(axis=1)
        assert reach.min() <= KDA_RADIUS_MM, (k, reach)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_borderline_region_vanishes_without_its_k_analyses(borderline, k):
    studyset, truth, (p, affine) = borderline
    region = truth["fragile"][k]
    footprint = _footprint(p, affine, region["xyz"])
    refit, _ = _corrected_p(_without(studyset, region["ids"]), random_state=0)
    assert refit[footprint].min() >= ALPHA


@pytest.mark.parametrize("k", [1, 2, 3])
def test_borderline_region_survives_on_one_analysis_without_its_distractors(borderline, k):
    """The weakest state fewer than ``k`` removals can leave: one of its analyses, no help.

    KDA adds analyses' spheres, so any smaller removal leaves at least this much at the
    region (a brute-force refit over every set of up to ``k`` contributors agrees).
    """
    studyset, truth, (p, affine) = borderline
    region = truth["fragile"][k]
    footprint = _footprint(p, affine, region["xyz"])
    refit, _ = _corrected_p(_without(studyset, region["ids"][1:] + region["near"]), random_state=0)
    assert refit[footprint].min() < ALPHA


def test_tight_patch_ale_is_nimares_and_needs_two_analyses():
    """NiMARE's ALE equals :func:`ale_values` (closed form) near every planted centre; one
    analysis's tight patch stays below the cluster-forming threshold, two exceed it."""
    studyset, truth = planted_studyset(fragile=(2, 3), patch="tight")
    result = ALE().fit(studyset)
    img = result.get_map("stat")
    stat, affine = np.asarray(img.get_fdata()), img.affine
    mask = np.asarray(result.masker.mask_img.dataobj) > 0
    centres = [region["xyz"] for region in truth["fragile"].values()] + truth["true"]
    ijk = np.argwhere(mask)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    near = np.linalg.norm(world[:, None] - np.asarray(centres)[None], axis=2).min(axis=1) <= 10
    expected = ale_values(studyset, world[near])
    np.testing.assert_allclose(stat[tuple(ijk[near].T)], expected, rtol=1e-5, atol=1e-9)

    threshold = result.estimator._p_to_summarystat(0.001)
    for region in truth["fragile"].values():
        ball = np.linalg.norm(world - np.asarray(region["xyz"]), axis=1) <= 10
        assert ale_values(studyset, world[ball]).max() > threshold
        for id_ in region["ids"]:
            alone = ale_values(studyset.slice([id_]), world[ball]).max()
            assert 0 < alone < threshold, (id_, alone, threshold)
