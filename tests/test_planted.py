"""The planted-truth studyset behaves as planted under NiMARE's KDA + Monte Carlo FWE.

Only NiMARE (and scipy) is used here: these tests pin down the ground truth that
stability tests rely on, independently of ``nimare_stability``.
"""

import numpy as np
import pytest
from helpers.planted import NOISE_MIN_DISTANCE_MM, planted_studyset
from nimare.correct import FWECorrector
from nimare.meta.cbma import KDA
from scipy import ndimage

N_ITERS = 100
MAP = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
LOGP = "logp_desc-size_level-cluster_corr-FWE_method-montecarlo"
ALPHA = 0.05
NEAR_MM = 6.0


def _corrected_p(studyset):
    """Fit KDA, correct by Monte Carlo cluster-size FWE; return (3D p array, affine)."""
    result = KDA().fit(studyset)
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
