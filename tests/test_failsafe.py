"""FailSafeN: how many null analyses each cluster withstands (Acar et al., 2018).

The independent side is NiMARE (fit + correct), nilearn (cluster labels) and scipy
(connected components, t quantiles): the drawers' null analyses are rebuilt with the same
helpers and seeds ``transform`` uses, and every fail-safe N is checked by refitting NiMARE
on the real analyses plus the first ``fsn`` (vanishes) and ``fsn - 1`` (survives) nulls.
"""

import copy
import re

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.reporting import get_clusters_table
from nimare.correct import FDRCorrector, FWECorrector
from nimare.meta.cbma import ALE, ALESubtraction, MKDADensity
from scipy import ndimage, stats

from nimare_stability import FailSafeN
from nimare_stability.diagnostics import failsafe as failsafe_module
from nimare_stability.diagnostics.failsafe import NULL_PREFIX, _Drawer
from nimare_stability.diagnostics.null_analyses import NullProfiles, draw_nulls
from nimare_stability.diagnostics.null_grid import SizeGrid
from nimare_stability.engines import EngineInputs
from nimare_stability.engines.fast import FastEngine
from nimare_stability.resampling import seeds

pytestmark = pytest.mark.filterwarnings(
    "ignore:Attention. At least one of the \\(sub\\)peaks falls outside:UserWarning"
)

FDR_TARGET = "z_corr-FDR_method-indep"
MC_TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
MC_LOGP = "logp_desc-size_level-cluster_corr-FWE_method-montecarlo"
Z_THRESHOLD = 3.1
MIN_CLUSTER = 10
FACES = ndimage.generate_binary_structure(3, 1)
#: The deterministic (FDR) case: 21 real analyses, up to 2 x 21 null ones, 2 drawers.
FDR_PARAMS = {
    "target_image": FDR_TARGET,
    "target_threshold": Z_THRESHOLD,
    "cluster_threshold": MIN_CLUSTER,
    "max_multiple": 2,
    "n_drawers": 2,
    "random_state": 0,
    "progress": False,
}
#: The Monte Carlo case: up to 1 x 21 null analyses, 2 drawers.
MC_PARAMS = {"max_multiple": 1, "n_drawers": 2, "random_state": 0, "progress": False}
#: alpha of the Monte Carlo refit check: large enough for both of its sides to bite at
#: 100 iterations (see the test).
REFIT_ALPHA = 0.2


def _clusters_key(target):
    return f"{target}_diag-FailSafeN_tab-clusters"


def _drawers_key(target):
    return f"{target}_diag-FailSafeN_tab-drawers"


def _mask(result):
    return np.asarray(result.masker.mask_img.dataobj) > 0


def _volume(values, mask):
    volume = np.zeros(mask.shape, dtype=np.float32)
    volume[mask] = values
    return volume


def _nilearn_labels(values, result, threshold, cluster_threshold):
    """nilearn's positive-tail label map of ``values`` (masked 1D) as a 3D int array."""
    img = nib.Nifti1Image(_volume(values, _mask(result)), result.masker.mask_img.affine)
    _, label_maps = get_clusters_table(
        img,
        stat_threshold=threshold,
        cluster_threshold=cluster_threshold,
        two_sided=False,
        return_label_maps=True,
    )
    return np.asarray(label_maps[0].dataobj).astype(int)


def _thresholded_support(z_volume):
    """|z| > 3.1, face-connected clusters of >= 10 voxels kept, sign kept (3D int8)."""
    support = np.zeros(z_volume.shape, dtype=np.int8)
    for sign in (1, -1):
        labels, n_labels = ndimage.label(sign * z_volume > Z_THRESHOLD, FACES)
        sizes = np.bincount(labels.ravel(), minlength=n_labels + 1)
        keep = sizes >= MIN_CLUSTER
        keep[0] = False
        support[keep[labels]] = sign
    return support


def _rebuild_nulls(estimator, max_multiple, n_drawers, random_state):
    """The drawers' null Studysets (and ids), drawn with the helpers and seeds of transform."""
    n_max = max_multiple * np.asarray(estimator.inputs_["id"]).size
    profile_rng, *drawer_rngs = seeds.SeedPlan(random_state).stream_rngs(n_drawers + 1)
    profiles = NullProfiles.draw(estimator, n_max, profile_rng)
    return profiles, [
        draw_nulls(
            profiles,
            estimator.masker,
            rng,
            f"{NULL_PREFIX}{d}-",
            space=estimator.dataset.space,
        )
        for d, rng in enumerate(drawer_rngs)
    ]


def _snapshot(result):
    return {
        "maps": {name: np.array(values, copy=True) for name, values in result.maps.items()},
        "tables": {
            name: None if table is None else table.copy() for name, table in result.tables.items()
        },
        "diagnostics": list(result.diagnostics),
        "description": result.description_,
        "bibtex": result.bibtex_,
        "metadata": copy.deepcopy(getattr(result, "metadata", {})),
        "ids": np.asarray(result.estimator.inputs_["id"]).copy(),
        "dataset_ids": list(result.estimator.dataset.ids),
    }


def _assert_unchanged(result, before):
    after = _snapshot(result)
    assert after["maps"].keys() == before["maps"].keys()
    for name, values in before["maps"].items():
        np.testing.assert_array_equal(after["maps"][name], values, err_msg=name)
    assert after["tables"].keys() == before["tables"].keys()
    for name, table in before["tables"].items():
        if table is None:
            assert after["tables"][name] is None
        else:
            pd.testing.assert_frame_equal(after["tables"][name], table)
    assert after["diagnostics"] == before["diagnostics"]
    assert after["description"] == before["description"]
    assert after["bibtex"] == before["bibtex"]
    assert after["metadata"] == before["metadata"]
    np.testing.assert_array_equal(after["ids"], before["ids"])
    assert after["dataset_ids"] == before["dataset_ids"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def mkda_fdr(pain):
    """MKDADensity on pain, FDR-corrected: a deterministic target (no Monte Carlo)."""
    return FDRCorrector(alpha=0.05).transform(MKDADensity().fit(pain))


@pytest.fixture(scope="module")
def fsn_fdr(mkda_fdr):
    before = _snapshot(mkda_fdr)
    out = FailSafeN(**FDR_PARAMS).transform(mkda_fdr)
    return out, before


@pytest.fixture(scope="module")
def fsn_montecarlo(pain_montecarlo):
    before = _snapshot(pain_montecarlo)
    out = FailSafeN(**MC_PARAMS).transform(pain_montecarlo)
    return out, before


@pytest.fixture(scope="module")
def fsn_refit_case(pain_montecarlo):
    """One drawer of the Monte Carlo case at alpha = REFIT_ALPHA."""
    params = {**MC_PARAMS, "n_drawers": 1, "alpha": REFIT_ALPHA}
    return FailSafeN(**params).transform(pain_montecarlo)


@pytest.fixture(scope="module")
def fdr_nulls(mkda_fdr):
    return _rebuild_nulls(mkda_fdr.estimator, 2, 2, 0)


@pytest.fixture(scope="module")
def grid_case(pain_montecarlo):
    """Drawer 0 of the Monte Carlo case, its size grid (as transform builds) and inputs."""
    diagnostic = FailSafeN(**MC_PARAMS)
    run = diagnostic._prepare(pain_montecarlo)
    estimator = pain_montecarlo.estimator
    plan = seeds.SeedPlan(0)
    profile_rng, *drawer_rngs = plan.stream_rngs(MC_PARAMS["n_drawers"] + 1)
    profiles = NullProfiles.draw(estimator, len(estimator.inputs_["id"]), profile_rng)
    drawer = _Drawer(estimator, profiles, drawer_rngs[0], f"{NULL_PREFIX}0-")
    inputs = EngineInputs(
        drawer.estimator,
        run.corrector,
        drawer.analyses,
        run.rule,
        run.n_iters,
        "replicate",
        "replicate",
        plan.null_root,
    )
    grid = SizeGrid.draw(FastEngine(inputs), drawer, 1, False)
    return drawer, inputs, grid


@pytest.fixture(scope="module")
def pairwise_result(sleuth_pair):
    return ALESubtraction(n_iters=20, random_state=0).fit(*sleuth_pair)


# ------------------------------------------------------- 1. exactness (deterministic target)


def test_fdr_fail_safe_n_is_where_nimare_refit_loses_the_cluster(
    pain, mkda_fdr, fsn_fdr, fdr_nulls
):
    out, _ = fsn_fdr
    clusters = out.tables[_clusters_key(FDR_TARGET)]
    drawers = out.tables[_drawers_key(FDR_TARGET)]
    mask = _mask(mkda_fdr)
    footprints = _nilearn_labels(mkda_fdr.maps[FDR_TARGET], mkda_fdr, Z_THRESHOLD, MIN_CLUSTER)
    # The diagnostic's clusters are nilearn's (same ids), all positive (FDR z of MKDA >= 0).
    assert sorted(clusters["cluster_id"]) == sorted(np.unique(footprints[footprints > 0]))
    assert set(clusters["tail"]) == {"positive"}

    _, drawer_nulls = fdr_nulls
    nulls, null_ids = drawer_nulls[0]
    merged = pain.merge(nulls)
    real_ids = list(np.asarray(mkda_fdr.estimator.inputs_["id"]).astype(str))
    n_max = FDR_PARAMS["max_multiple"] * len(real_ids)
    refits = {}

    def support_with(m):
        if m not in refits:
            studyset = merged.slice(real_ids + null_ids[:m])
            refit = FDRCorrector(alpha=0.05).transform(MKDADensity().fit(studyset))
            refits[m] = _thresholded_support(_volume(refit.maps[FDR_TARGET], mask))
        return refits[m]

    rows = drawers[drawers["drawer"] == 0].set_index("cluster_id")
    assert len(rows) == len(clusters)
    for cluster_id, row in rows.iterrows():
        footprint = footprints == cluster_id
        fsn = int(row["fsn"])
        if row["censored"]:
            assert fsn == n_max
            assert np.any(support_with(n_max)[footprint] == 1), f"cluster {cluster_id}"
            continue
        assert 1 <= fsn <= n_max
        assert not np.any(support_with(fsn)[footprint] == 1), (
            f"cluster {cluster_id} still has support with fsn={fsn} nulls"
        )
        assert np.any(support_with(fsn - 1)[footprint] == 1), (
            f"cluster {cluster_id} already vanished with fsn - 1 = {fsn - 1} nulls"
        )


# --------------------------------------------------------------------- 2. null analyses


def test_null_analyses_copy_real_foci_counts_and_sample_sizes(pain, mkda_fdr, fdr_nulls):
    profiles, drawer_nulls = fdr_nulls
    real_ids = np.asarray(mkda_fdr.estimator.inputs_["id"]).astype(str)
    counts = pain.coordinates["id"].value_counts()
    sizes = pain.metadata.set_index("id")["sample_sizes"]
    real_pairs = {(int(counts[i]), tuple(sizes[i])) for i in real_ids}
    n_max = 2 * real_ids.size
    for nulls, null_ids in drawer_nulls:
        assert len(null_ids) == n_max
        null_counts = nulls.coordinates["id"].value_counts()
        null_sizes = nulls.metadata.set_index("id")["sample_sizes"]
        pairs = [(int(null_counts[i]), tuple(null_sizes[i])) for i in null_ids]
        # Each null analysis imitates ONE real analysis: its (foci, sample size) pair is real.
        assert set(pairs) <= real_pairs
        np.testing.assert_array_equal([p[0] for p in pairs], profiles.n_foci)
    # The copied analyses are drawn once: every drawer has the same counts and sample sizes.
    first, second = (
        [
            (
                int(n.coordinates["id"].value_counts()[i]),
                tuple(n.metadata.set_index("id").loc[i, "sample_sizes"]),
            )
            for i in ids
        ]
        for n, ids in drawer_nulls
    )
    assert first == second


def test_null_foci_lie_on_in_mask_voxels(mkda_fdr, fdr_nulls):
    _, drawer_nulls = fdr_nulls
    mask = _mask(mkda_fdr)
    inverse = np.linalg.inv(mkda_fdr.masker.mask_img.affine)
    for nulls, _ in drawer_nulls:
        xyz = nulls.coordinates[["x", "y", "z"]].to_numpy(dtype=float)
        ijk = nib.affines.apply_affine(inverse, xyz)
        np.testing.assert_allclose(ijk, np.round(ijk), atol=1e-6)
        ijk = np.round(ijk).astype(int)
        assert np.all((ijk >= 0) & (ijk < mask.shape))
        assert mask[tuple(ijk.T)].all()


def test_drawers_place_null_foci_differently_and_ids_never_clash(pain, fdr_nulls):
    _, ((nulls0, ids0), (nulls1, ids1)) = fdr_nulls
    xyz0 = nulls0.coordinates.sort_values("id", kind="stable")[["x", "y", "z"]].to_numpy()
    xyz1 = nulls1.coordinates.sort_values("id", kind="stable")[["x", "y", "z"]].to_numpy()
    assert xyz0.shape == xyz1.shape
    assert np.mean(np.all(xyz0 == xyz1, axis=1)) < 0.05
    assert not set(ids0) & set(pain.ids)
    assert not set(ids1) & set(pain.ids)
    assert not set(ids0) & set(ids1)
    assert not set(nulls0.study_ids) & set(pain.study_ids)
    assert len(set(ids0)) == len(ids0)
    merged = pain.merge(nulls0)
    assert sorted(merged.ids) == sorted([*pain.ids, *ids0])


# ------------------------------------------------------------------ 3. table arithmetic


@pytest.mark.parametrize(
    ("case", "target", "max_multiple"),
    [("fsn_fdr", FDR_TARGET, 2), ("fsn_montecarlo", MC_TARGET, 1)],
)
def test_cluster_table_is_the_drawers_table_summarised(request, case, target, max_multiple):
    out, _ = request.getfixturevalue(case)
    clusters = out.tables[_clusters_key(target)]
    drawers = out.tables[_drawers_key(target)]
    assert list(clusters.columns) == [
        "cluster_id",
        "tail",
        "peak_x",
        "peak_y",
        "peak_z",
        "peak_label",
        "overlap_label",
        "fsn_mean",
        "fsn_min",
        "fsn_ci_low",
        "fsn_ci_high",
        "fsn_per_analysis",
        "censored",
    ]
    assert list(drawers.columns) == ["cluster_id", "tail", "drawer", "fsn", "censored"]
    n_real = 21
    n_max = max_multiple * n_real
    assert len(drawers) == 2 * len(clusters)
    # Censored: survived all n_max nulls, so its FSN there is n_max (a lower bound).
    assert (drawers.loc[drawers["censored"].astype(bool), "fsn"] == n_max).all()
    assert drawers["fsn"].between(0, n_max).all()
    for _, row in clusters.iterrows():
        mine = drawers[
            (drawers["cluster_id"] == row["cluster_id"]) & (drawers["tail"] == row["tail"])
        ]
        assert sorted(mine["drawer"]) == [0, 1]
        values = mine["fsn"].to_numpy(dtype=float)
        mean = values.mean()
        half = stats.t.ppf(0.975, values.size - 1) * stats.sem(values)
        assert row["fsn_mean"] == pytest.approx(mean)
        assert row["fsn_min"] == values.min()
        assert row["fsn_per_analysis"] == pytest.approx(mean / n_real)
        assert row["fsn_ci_high"] == pytest.approx(mean + half)
        # The lower bound is clipped at 0 (no FSN is negative).
        assert row["fsn_ci_low"] == pytest.approx(max(mean - half, 0.0))
        assert bool(row["censored"]) == bool(mine["censored"].any())


# ------------------------------------------------------ 4. grid null (Monte Carlo target)


def test_grid_null_is_exact_at_grid_sizes_and_linear_between_quantiles(grid_case):
    drawer, _, grid = grid_case
    n_nulls = len(drawer.nulls)
    assert n_nulls == 21
    np.testing.assert_array_equal(grid.sizes, [0, 4, 8, 13, 17, 21])
    at_grid = grid.maxima([drawer.retained(m) for m in grid.sizes])
    for kind, (got, row) in enumerate(zip(at_grid, grid.nulls)):
        assert got is not None and row is not None, kind
        np.testing.assert_array_equal(got, np.sort(row, axis=1))
    between = [(0, 2, 1), (1, 6, 2), (3, 15, 4), (4, 19, 5)]
    got = grid.maxima([drawer.retained(m) for _, m, _ in between])
    for kind, null in enumerate(grid.nulls):
        null = np.sort(null, axis=1)
        for r, (low, _, high) in enumerate(between):
            np.testing.assert_allclose(got[kind][r], (null[low] + null[high]) / 2, rtol=1e-12)
    # Off-midpoint: a quarter of the way from 4 to 8 nulls is 5.
    five = grid.maxima([drawer.retained(5)])
    for kind, null in enumerate(grid.nulls):
        null = np.sort(null, axis=1)
        np.testing.assert_allclose(five[kind][0], 0.75 * null[1] + 0.25 * null[2], rtol=1e-12)


def test_null_analyses_follow_the_real_ones_in_the_order_they_are_added(grid_case):
    """NiMARE orders analyses by id: pain's ("pain_01.nidm-1", ...) sort after "failsafen",
    but before the null prefix, so each grid size adds analyses in analysis order."""
    drawer, _, _ = grid_case
    n_real = drawer.real.size
    np.testing.assert_array_equal(drawer.real, np.arange(n_real))
    np.testing.assert_array_equal(drawer.nulls, n_real + np.arange(drawer.nulls.size))


def test_grid_rows_are_the_fast_engines_own_null_of_that_replicate(grid_case):
    drawer, inputs, grid = grid_case
    plain = FastEngine(inputs)
    splits = [drawer.retained(int(grid.sizes[1]))]
    thresholds, weights = plain.thresholds_and_weights(splits)
    own = plain.null_maxima_of(splits, thresholds, weights, 1, False)
    for kind, (mine, row) in enumerate(zip(own, grid.nulls)):
        np.testing.assert_array_equal(mine[0], row[1], err_msg=f"null {kind}")


def test_grid_null_between_grid_sizes_matches_the_exact_null_at_its_critical_value(grid_case):
    """At every size between grid points, the interpolated null gives the exact null's
    critical value a p of alpha, within a quarter of a Monte Carlo standard error.

    The exact null of a size is the engine's own null of that replicate, on the same random
    foci as the grid (common random numbers), so the two differ by the interpolation alone,
    not by Monte Carlo noise. Its critical value ``c`` is midway between the ``alpha * n``-th
    and next largest maxima (exact p of ``c``: alpha). The mean p shift over the 16 sizes
    and 3 nulls must stay below ``sqrt(alpha * (1 - alpha) / n) / 4`` (0.0054 at n = 100):
    the interpolation's bias must be small next to the error any Monte Carlo p has. This
    mean scatters by about 0.002 across seeds; interpolating iteration by iteration instead
    narrows the null and shifts p by about -0.009.
    """
    drawer, inputs, grid = grid_case
    between = [m for m in range(1, len(drawer.nulls)) if m not in set(grid.sizes)]
    exact = FastEngine(inputs).null_maxima([drawer.retained(m) for m in between])
    interpolated = grid.maxima([drawer.retained(m) for m in between])
    n_iters, alpha = inputs.n_iters, 0.05
    rank = n_iters - round(alpha * n_iters)
    shifts = []
    for kind in range(3):
        for ours, reference in zip(interpolated[kind], exact[kind]):
            ordered = np.sort(reference)
            critical = (ordered[rank - 1] + ordered[rank]) / 2
            shifts.append(np.mean(ours >= critical) - np.mean(reference >= critical))
    tolerance = np.sqrt(alpha * (1 - alpha) / n_iters) / 4
    assert abs(np.mean(shifts)) < tolerance, np.reshape(shifts, (3, -1)).mean(axis=1)


def test_montecarlo_fail_safe_n_is_where_nimare_refit_loses_the_cluster(
    pain, pain_montecarlo, fsn_refit_case, n_iters
):
    """NiMARE (ALE + Monte Carlo FWE, n_iters) on the real analyses plus the drawer's first
    ``fsn - 1`` null analyses finds the cluster, and plus ``fsn`` does not, up to Monte
    Carlo error.

    FailSafeN decided with its own null of n_iters iterations (p < alpha with ``fsn - 1``
    nulls, p >= alpha with ``fsn``); the refit estimates the same p from an independent
    null of as many. Two such estimates of one p differ with standard error
    ``sqrt(p * (1 - p) * 2 / n_iters)``; a decision may differ only where the refit's p is
    within three of those (at p = alpha) of alpha: 0.17 for alpha = 0.2 and 100
    iterations. At alpha = 0.05 this margin (0.09) would exceed alpha, and the "vanishes"
    side could never fail. The cluster checked is the one lost with the fewest nulls.
    """
    drawers = fsn_refit_case.tables[_drawers_key(MC_TARGET)]
    row = drawers[~drawers["censored"].astype(bool)].sort_values("fsn").iloc[0]
    fsn = int(row["fsn"])
    mask = _mask(pain_montecarlo)
    p = 10.0 ** -np.asarray(pain_montecarlo.maps[MC_LOGP], dtype=float)
    z = np.asarray(pain_montecarlo.maps[MC_TARGET], dtype=float)
    labels = _nilearn_labels(np.where(p < REFIT_ALPHA * (1 - 1e-5), z, 0), pain_montecarlo, 0, 0)
    footprint = labels[mask] == row["cluster_id"]
    assert footprint.any()

    _, ((nulls, null_ids),) = _rebuild_nulls(pain_montecarlo.estimator, 1, 1, 0)
    merged = pain.merge(nulls)
    real_ids = list(np.asarray(pain_montecarlo.estimator.inputs_["id"]).astype(str))

    def cluster_p(m):
        fit = ALE(random_state=1).fit(merged.slice(real_ids + null_ids[:m]))
        refit = FWECorrector(method="montecarlo", n_iters=n_iters).transform(fit)
        return (10.0 ** -np.asarray(refit.maps[MC_LOGP], dtype=float))[footprint].min()

    margin = 3 * np.sqrt(REFIT_ALPHA * (1 - REFIT_ALPHA) * 2 / n_iters)
    survives, vanishes = cluster_p(fsn - 1), cluster_p(fsn)
    assert survives < REFIT_ALPHA + margin, (fsn, survives)
    assert vanishes > REFIT_ALPHA - margin, (fsn, vanishes)


def test_montecarlo_fail_safe_n_is_bounded_and_judges_the_baseline_clusters(
    pain_montecarlo, fsn_montecarlo
):
    out, _ = fsn_montecarlo
    clusters = out.tables[_clusters_key(MC_TARGET)]
    drawers = out.tables[_drawers_key(MC_TARGET)]
    assert drawers["fsn"].between(0, 21).all()
    # Baseline clusters, independently: p < .05 from NiMARE's logp, labelled by nilearn.
    p = 10.0 ** -np.asarray(pain_montecarlo.maps[MC_LOGP], dtype=float)
    z = np.asarray(pain_montecarlo.maps[MC_TARGET], dtype=float)
    labels = _nilearn_labels(np.where(p < 0.05 * (1 - 1e-5), z, 0), pain_montecarlo, 0, 0)
    expected = sorted(np.unique(labels[labels > 0]))
    assert len(expected) > 0
    assert sorted(clusters["cluster_id"]) == expected
    assert set(clusters["tail"]) == {"positive"}


# ----------------------------------------------------------------------- 5. reproducible


def test_same_random_state_gives_identical_tables(mkda_fdr, fsn_fdr):
    first, _ = fsn_fdr
    again = FailSafeN(**FDR_PARAMS).transform(mkda_fdr)
    for key in (_clusters_key(FDR_TARGET), _drawers_key(FDR_TARGET)):
        pd.testing.assert_frame_equal(again.tables[key], first.tables[key])


def test_n_cores_does_not_change_the_tables(pain_montecarlo, fsn_montecarlo):
    first, _ = fsn_montecarlo
    two = FailSafeN(**MC_PARAMS, n_cores=2).transform(pain_montecarlo)
    for key in (_clusters_key(MC_TARGET), _drawers_key(MC_TARGET)):
        pd.testing.assert_frame_equal(two.tables[key], first.tables[key])


@pytest.mark.parametrize(
    ("case", "source"), [("fsn_fdr", "mkda_fdr"), ("fsn_montecarlo", "pain_montecarlo")]
)
def test_caller_result_is_never_modified(request, case, source):
    out, before = request.getfixturevalue(case)
    result = request.getfixturevalue(source)
    _assert_unchanged(result, before)
    assert out is not result
    assert isinstance(out.diagnostics[-1], FailSafeN)
    assert out.description_.startswith(result.description_)
    assert "fail-safe N" in out.description_
    target = FDR_TARGET if case == "fsn_fdr" else MC_TARGET
    assert _clusters_key(target) in out.tables and _clusters_key(target) not in result.tables


# ------------------------------------------------------------------------ 6. bad input


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Fail loudly if transform gets as far as drawing or fitting null analyses."""

    def refuse(*args, **kwargs):
        raise AssertionError("heavy work started before the input was refused")

    monkeypatch.setattr(failsafe_module, "_Drawer", refuse)
    monkeypatch.setattr(failsafe_module, "NullProfiles", refuse)
    monkeypatch.setattr(failsafe_module, "resolve_engine", refuse)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("max_multiple", 0, ValueError),
        ("max_multiple", 1.5, TypeError),
        ("n_drawers", 0, ValueError),
        ("n_drawers", "3", TypeError),
        ("alpha", 0, ValueError),
        ("engine", "nope", ValueError),
    ],
)
def test_bad_parameter_is_refused_by_name_and_value(
    mkda_fdr, no_heavy_work, monkeypatch, name, value, error
):
    def refuse(*args, **kwargs):
        raise AssertionError("the result was read before the parameters were checked")

    monkeypatch.setattr(FailSafeN, "_prepare", refuse)
    with pytest.raises(error, match=re.escape(f"{name}={value!r}")):
        FailSafeN(target_image=FDR_TARGET, progress=False, **{name: value}).transform(mkda_fdr)


@pytest.mark.filterwarnings("ignore:target_image=.*has no support:UserWarning")
def test_pairwise_result_is_refused_by_name(pairwise_result, no_heavy_work):
    with pytest.raises(ValueError, match="FailSafeN") as info:
        FailSafeN(target_image="z_desc-group1MinusGroup2", progress=False).transform(
            pairwise_result
        )
    assert "ALESubtraction" in str(info.value)
