"""The support rule: p < alpha from the target's own p values, one function for all maps."""

import numpy as np
from nimare.transforms import z_to_p
from scipy import ndimage

from nimare_stability.core.support import SupportRule

CLUSTER_SIZE = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _mask(result):
    return np.asanyarray(result.masker.mask_img_.dataobj).astype(bool)


def test_cluster_with_corrected_p_above_alpha_is_not_support(pain_montecarlo):
    maps = pain_montecarlo.maps
    p = 10.0 ** -maps["logp_desc-size_level-cluster_corr-FWE_method-montecarlo"]
    nonzero = maps[CLUSTER_SIZE] != 0
    assert np.any(nonzero & (p > 0.05)), "fixture needs a nonzero cluster with p > .05"

    support = SupportRule(CLUSTER_SIZE, "one", _mask(pain_montecarlo))(maps)

    assert not np.any(support.signs[p > 0.05])
    np.testing.assert_array_equal(support.signs != 0, p < 0.05 * (1 - 1e-5))


def test_fdr_target_support_is_exactly_p_below_alpha(pain_fdr):
    target = "z_corr-FDR_method-indep"
    support = SupportRule(target, "two", _mask(pain_fdr), alpha=0.01)(pain_fdr.maps)
    expected = pain_fdr.maps["p_corr-FDR_method-indep"].astype(float) < 0.01 * (1 - 1e-5)
    assert expected.any()
    np.testing.assert_array_equal(support.signs != 0, expected)


def test_p_derived_from_two_tailed_z_keeps_signs(pain_fdr):
    z = pain_fdr.maps["z_corr-FDR_method-indep"].copy()
    z[: z.size // 2] *= -1  # plant a negative tail
    maps = {"z_corr-FDR_method-indep": z}

    support = SupportRule("z_corr-FDR_method-indep", "two", _mask(pain_fdr))(maps)

    p = z_to_p(z, tail="two")
    np.testing.assert_array_equal(support.signs, np.sign(z) * (p < 0.05 * (1 - 1e-5)))
    assert (support.signs == -1).any() and (support.signs == 1).any()


def test_target_threshold_replaces_p_rule(pain_montecarlo):
    rule = SupportRule(CLUSTER_SIZE, "one", _mask(pain_montecarlo), target_threshold=1.65)
    support = rule(pain_montecarlo.maps)
    np.testing.assert_array_equal(support.signs != 0, pain_montecarlo.maps[CLUSTER_SIZE] > 1.65)


def test_cluster_threshold_drops_small_clusters_by_face_connectivity(pain_ale):
    mask = _mask(pain_ale)
    rule = SupportRule("z", "one", mask, alpha=0.001)
    full = rule(pain_ale.maps)
    pruned = SupportRule("z", "one", mask, alpha=0.001, cluster_threshold=50)(pain_ale.maps)

    volume = np.zeros(mask.shape, bool)
    volume[mask] = full.signs != 0
    labels, n = ndimage.label(volume, ndimage.generate_binary_structure(3, 1))
    sizes = np.bincount(labels.ravel())
    big = sizes >= 50
    big[0] = False
    kept = big[labels]
    assert 0 < pruned.n_clusters < full.n_clusters == n
    np.testing.assert_array_equal(pruned.signs != 0, kept[mask])
