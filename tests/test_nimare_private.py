"""Every private NiMARE name listed in ``nimare_stability._nimare_private`` still works."""

import os

from nimare.meta.ibma import Stouffers

from nimare_stability import _nimare_private


def test_check_n_cores_maps_non_positive_to_every_core():
    assert _nimare_private.check_n_cores(-1) == os.cpu_count()
    assert _nimare_private.check_n_cores(1) == 1


def test_ibma_estimators_declare_their_minimum():
    assert hasattr(Stouffers, _nimare_private.MIN_ANALYSES_ATTR)
    assert _nimare_private.estimator_min_analyses(Stouffers()) == 2
