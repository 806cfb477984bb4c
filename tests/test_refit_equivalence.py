"""Leave-one-out on pain with the refit engine equals NiMARE refits done by hand."""

import copy
import pickle

import numpy as np
import pytest
from nimare.diagnostics import Jackknife
from nimare.meta.cbma import ALE

from nimare_stability import ResampledStability

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
D = f"{TARGET}_diag-ResampledStability"
#: Iterations of every replicate's correction here: 21 NiMARE refits are run twice (by the
#: diagnostic and by hand), so fewer than the target's (p can still reach 1/40 < alpha).
N_ITERS = 40


@pytest.fixture(scope="module")
def snapshot(pain_montecarlo):
    """The caller's result, estimator, corrector and studyset as bytes, before the run."""
    return pickle.dumps(pain_montecarlo)


@pytest.fixture(scope="module")
def loo(pain_montecarlo, snapshot):
    diagnostic = ResampledStability(
        target_image=TARGET,
        engine="refit",
        n_iters=N_ITERS,
        random_state=3,
        n_cores=1,
        progress=False,
    )
    return diagnostic.transform(pain_montecarlo)


def test_stability_is_fraction_of_nimare_refits_with_corrected_p_below_alpha(
    loo, pain, pain_montecarlo
):
    replicates = loo.tables[f"{D}_tab-replicates"]
    assert len(replicates) == 21
    hits = np.zeros(pain_montecarlo.maps[TARGET].shape)
    for _, row in replicates.iterrows():
        refit = ALE(random_state=int(row["seed"])).fit(pain.slice(row["retained"].split(";")))
        corrector = copy.deepcopy(pain_montecarlo.corrector)
        corrector.parameters["n_iters"] = N_ITERS  # set_params ignores n_iters
        corrected = corrector.transform(refit)
        p = 10.0 ** -corrected.maps["logp_desc-size_level-cluster_corr-FWE_method-montecarlo"]
        hits += p.astype(np.float64) < 0.05 - 1e-7
    stability = loo.maps[D]
    np.testing.assert_allclose(stability, hits / 21, atol=1e-6)
    np.testing.assert_allclose(stability * 21, np.round(stability * 21), atol=1e-4)
    assert 0 < stability.max() <= 1 and np.any((stability > 0) & (stability < 1))


def test_caller_objects_are_unchanged(loo, pain_montecarlo, snapshot):
    assert pickle.dumps(pain_montecarlo) == snapshot
    assert loo is not pain_montecarlo and loo.maps is not pain_montecarlo.maps
    labels = "label_desc-size_level-cluster_corr-FWE_method-montecarlo_tail-positive"
    assert set(loo.maps) - set(pain_montecarlo.maps) == {D, f"{D}_stat-se", labels}


def test_exhaustive_schedule_has_zero_sampling_error(loo):
    assert not loo.maps[f"{D}_stat-se"].any()


def test_tables_hold_design_columns(loo, n_iters):
    summary = loo.tables[f"{D}_tab-summary"]
    assert list(summary.columns) == [
        "target_image",
        "resampling_policy",
        "n_resamples",
        "target_n",
        "k",
        "random_state",
        "null",
        "engine",
        "n_iters",
        "alpha",
        "tol",
        "precision",
        "max_voxel_se",
        "n_voxels_nonzero",
        "n_voxels_ge50",
        "n_voxels_ge80",
        "mean_nonzero",
    ]
    row = summary.iloc[0]
    assert (row["n_resamples"], row["target_n"], row["random_state"]) == (21, 20, 3)
    assert (row["engine"], row["n_iters"], row["null"]) == ("refit", N_ITERS, "replicate")
    assert row["tol"] is None and row["precision"] == 0  # exhaustive: no sampling error
    assert row["max_voxel_se"] == 0
    stability = loo.maps[D]
    assert row["n_voxels_nonzero"] == np.count_nonzero(stability)
    assert row["n_voxels_ge80"] == np.count_nonzero(stability >= 0.8)

    replicates = loo.tables[f"{D}_tab-replicates"]
    assert list(replicates.columns) == [
        "replicate",
        "seed",
        "retained",
        "left_out",
        "n_support",
        "dice",
        "n_clusters",
    ]
    assert sorted(replicates["left_out"]) == sorted(pain_ids(loo))
    assert replicates["seed"].nunique() == 21

    clusters = loo.tables[f"{D}_tab-clusters"]
    assert list(clusters.columns) == [
        "cluster_id",
        "tail",
        "peak_x",
        "peak_y",
        "peak_z",
        "peak_label",
        "overlap_label",
        "n_voxels",
        "mean",
        "median",
        "min",
        "share_ge50",
        "share_ge80",
        "detection_rate",
        "unstable",
    ]
    np.testing.assert_array_equal(clusters["unstable"], clusters["mean"] < 0.5)

    influence = loo.tables[f"{D}_tab-influence"]
    assert list(influence["id"]) == list(replicates["left_out"])
    detected = 1 - influence.drop(columns="id").to_numpy()
    np.testing.assert_allclose(detected.mean(axis=0), clusters["detection_rate"])


def pain_ids(result):
    return list(result.estimator.inputs_["id"])


def test_cluster_ids_are_nimare_label_values(loo, pain_montecarlo):
    # MetaResult.copy() shares its diagnostics list, to which NiMARE's Jackknife appends.
    jackknife = Jackknife(target_image=TARGET, target_threshold=1.65).transform(
        copy.deepcopy(pain_montecarlo)
    )
    labels = jackknife.maps[
        "label_desc-size_level-cluster_corr-FWE_method-montecarlo_tail-positive"
    ]
    clusters = loo.tables[f"{D}_tab-clusters"]
    assert sorted(clusters["cluster_id"]) == sorted(np.unique(labels[labels > 0]).astype(int))
    for _, cluster in clusters.iterrows():
        assert np.count_nonzero(labels == cluster["cluster_id"]) == cluster["n_voxels"]
        in_cluster = labels == cluster["cluster_id"]
        np.testing.assert_allclose(cluster["mean"], loo.maps[D][in_cluster].mean(), rtol=1e-5)
    counts = jackknife.tables[f"{TARGET}_diag-Jackknife_tab-counts_tail-positive"]
    influence = loo.tables[f"{D}_tab-influence"]
    assert set(influence.columns) == set(counts.columns)
