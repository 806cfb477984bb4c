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
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.engines.kernels import collect_ma_maps

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


@pytest.fixture(scope="module", autouse=True)
def _collect_between_modules():
    """Collect what the previous module left, then freeze the heap as it stands.

    nilearn forces a full ``gc.collect()`` each time it reads an image; its cost grows with
    every object alive (imports, session and module fixtures), which made the last files
    of a worker several times slower than alone. Frozen objects are skipped.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _freeze_before_each_test():
    """Freeze what the module's fixtures and earlier tests built (collected at the next module)."""
    gc.freeze()


#: Session fixtures holding a MetaResult that every test shares.
SHARED_RESULTS = ("pain_montecarlo", "pain_fdr", "pain_jackknife", "pain_jackknife_stability")


@pytest.fixture(autouse=True)
def _shared_results_keep_their_diagnostics(request):
    """Fail the test that records a diagnostic on a shared result, not a later victim.

    NiMARE's ``Jackknife.transform`` appends itself to ``result.diagnostics``, and
    ``MetaResult.copy()`` shares that list: a test passing ``shared.copy()`` to it changes
    what every later test on the same worker sees.
    """
    shared = {n: request.getfixturevalue(n) for n in SHARED_RESULTS if n in request.fixturenames}
    before = {n: list(result.diagnostics) for n, result in shared.items()}
    yield
    for name, result in shared.items():
        assert result.diagnostics == before[name], f"the test added to {name}.diagnostics"


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
def pain_ale_ma_maps(pain_ale):
    """``(estimator copy, MA maps, their analysis ids)`` of ALE on pain (``collect_ma_maps``)."""
    return collect_ma_maps(pain_ale.estimator)[:3]


@pytest.fixture(scope="session")
def nback_ale_ma_maps():
    """The same for ALE on 150 n-back analyses of NiMARE's NeuroStore set (several per study)."""
    nback = load_nback_flanker("nback")
    return collect_ma_maps(ALE().fit(nback.slice(list(nback.ids[:150]))).estimator)[:3]


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
