"""Shared fixtures: NiMARE's bundled pain studyset, fit and corrected once per session."""

import copy
import gc
import os

import pytest
from nimare.correct import FDRCorrector, FWECorrector
from nimare.diagnostics import Jackknife
from nimare.io import convert_sleuth_to_studyset
from nimare.meta.cbma import ALE
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

from nimare_stability import ResampledStability

#: Monte Carlo iterations for every corrected fixture (100 to 200 keep the suite short).
N_ITERS = 100
#: The slowest test files (minutes each on two cores), longest first. They are collected
#: first so that, with ``-n auto --dist loadfile`` (whole files per worker, in collection
#: order: ``--no-loadscope-reorder`` in pyproject.toml), the workers finish together.
SLOWEST_FIRST = (
    "test_refit_equivalence.py",
    "test_workflows.py",
    "test_backends.py",
    "test_robustness_profile.py",
    "test_fragility.py",
)


def pytest_collection_modifyitems(items):
    """Run the files of :data:`SLOWEST_FIRST` first, in that order; the rest as collected."""

    def rank(item):
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session", autouse=True)
def _cheap_garbage_collections():
    """nilearn forces ``gc.collect()`` per image; freezing the session's heap keeps it cheap."""
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope="session")
def n_iters():
    """The Monte Carlo iteration count the tests use."""
    return N_ITERS


@pytest.fixture(scope="session")
def pain():
    """NiMARE's bundled pain studyset: 21 analyses, one per study."""
    return Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))


@pytest.fixture(scope="session")
def pain_ale(pain):
    """Uncorrected ALE result on pain."""
    return ALE(random_state=7).fit(pain)


@pytest.fixture(scope="session")
def pain_montecarlo(pain_ale, n_iters):
    """ALE on pain corrected by Monte Carlo FWE."""
    return FWECorrector(method="montecarlo", n_iters=n_iters).transform(pain_ale)


@pytest.fixture(scope="session")
def pain_fdr(pain_ale):
    """ALE on pain corrected by FDR (two-tailed z maps)."""
    return FDRCorrector(method="indep", alpha=0.05).transform(pain_ale)


@pytest.fixture(scope="session")
def ibma_studyset(tmp_path_factory):
    """Simulated image studyset: 12 analyses from 6 studies (two analyses per study)."""
    from helpers.simulated import make_ibma_studyset

    return make_ibma_studyset(tmp_path_factory.mktemp("ibma"), n_analyses=12, n_studies=6)


@pytest.fixture(scope="session")
def sleuth_pair():
    """Two small Sleuth studysets shipped with NiMARE: a quick pairwise pair (21 and 16)."""
    path = get_resource_path()
    return [
        convert_sleuth_to_studyset(f"{path}/semantic_{name}_children.txt")
        for name in ("knowledge", "relatedness")
    ]


#: The cluster-level Monte Carlo target NiMARE's CBMAWorkflow diagnoses.
MASS = "z_desc-mass_level-cluster_corr-FWE_method-montecarlo"


@pytest.fixture(scope="session")
def pain_jackknife(pain_montecarlo):
    """NiMARE's Jackknife on ``MASS`` at the workflows' threshold (1.65), on a copy.

    Jackknife adds its outputs to the result it is given: the session's
    ``pain_montecarlo`` stays as it was.
    """
    return Jackknife(target_image=MASS, target_threshold=1.65).transform(
        copy.deepcopy(pain_montecarlo)
    )


@pytest.fixture(scope="session")
def pain_jackknife_stability(pain_jackknife):
    """Leave-one-out ResampledStability on ``MASS`` (1.65) after NiMARE's Jackknife."""
    return ResampledStability(
        target_image=MASS, target_threshold=1.65, random_state=0, progress=False
    ).transform(pain_jackknife)
