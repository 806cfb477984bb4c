"""``nimare_stability.FWECorrector`` writes what NiMARE's corrector writes, from its engine."""

import copy

import numpy as np
import pytest
from helpers.null_checks import KEYS, P_MIN, ks_pvalues
from nimare.correct import FWECorrector as NiMAREFWECorrector
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.results import MetaResult

import nimare_stability.correct as correct_module
from nimare_stability import FWECorrector, cli
from nimare_stability.cli import estimate, options, runner
from nimare_stability.datasets import load_nback_flanker
from nimare_stability.engines.montecarlo import maxima_for_foci

SIZE_NULL = KEYS[1]


def _feed_nimare_foci(monkeypatch, estimator):
    """Run our corrector's engine on the foci NiMARE's corrector draws for ``estimator``.

    NiMARE draws every iteration's foci at once from the estimator's
    ``correct_fwe_montecarlo`` generator, one row per coordinate (``rng.choice``); the
    engine's random draw is replaced by those foci, the rest of our corrector runs as is.
    """

    def maxima_of_nimare_foci(layout, retained, stat_thresholds, n_iters, seed_sequence, **_):
        rng = estimator._get_rng("correct_fwe_montecarlo")
        draws = rng.choice(len(layout.null_ijk), size=(layout.n_foci, n_iters))
        return maxima_for_foci(layout, layout.null_ijk[draws.T], retained, stat_thresholds)

    monkeypatch.setattr(correct_module, "null_maxima", maxima_of_nimare_foci)


def _forbid_the_engine(monkeypatch):
    def engine_called(*args, **kwargs):
        raise AssertionError("the engine ran where NiMARE's own code should")

    monkeypatch.setattr(correct_module, "build_layout", engine_called)


def _assert_same_outputs(ours, theirs):
    """Maps, nulls (names, order, dtypes, values), tables, description, references."""
    assert list(ours.maps) == list(theirs.maps)
    for name, values in theirs.maps.items():
        assert ours.maps[name].dtype == values.dtype, name
        np.testing.assert_array_equal(ours.maps[name], values, err_msg=name)
    ours_nulls, their_nulls = (
        ours.estimator.null_distributions_,
        theirs.estimator.null_distributions_,
    )
    assert list(ours_nulls) == list(their_nulls)
    for name, values in their_nulls.items():
        assert np.asarray(ours_nulls[name]).dtype == np.asarray(values).dtype, name
        np.testing.assert_array_equal(ours_nulls[name], values, err_msg=name)
    assert list(ours.tables) == list(theirs.tables)
    assert ours.description_ == theirs.description_
    assert ours.bibtex_ == theirs.bibtex_


@pytest.fixture(scope="module")
def pain_ours(pain_ale, n_iters):
    """Our corrector on the session's ALE fit, its own draws."""
    return FWECorrector(method="montecarlo", n_iters=n_iters).transform(pain_ale)


# ----------------------------------------------------------------- same foci: NiMARE's output


def test_fed_nimares_foci_it_writes_nimares_maps_nulls_and_description(
    monkeypatch, pain_ale, pain_montecarlo, n_iters
):
    _feed_nimare_foci(monkeypatch, pain_ale.estimator)
    ours = FWECorrector(method="montecarlo", n_iters=n_iters).transform(pain_ale)
    assert pain_montecarlo.estimator.null_distributions_[SIZE_NULL].max() > 0, "no cluster"
    _assert_same_outputs(ours, pain_montecarlo)


@pytest.mark.parametrize("estimator_class", [MKDADensity, KDA], ids=lambda c: c.__name__)
def test_fed_nimares_foci_other_kernels_give_nimares_output(monkeypatch, pain, estimator_class):
    result = estimator_class(random_state=2).fit(pain)
    options = {"method": "montecarlo", "n_iters": 20, "voxel_thresh": 0.01}
    theirs = NiMAREFWECorrector(**options).transform(result)
    _feed_nimare_foci(monkeypatch, result.estimator)
    _assert_same_outputs(FWECorrector(**options).transform(result), theirs)


def test_fed_nimares_foci_on_real_nback_analyses_gives_nimares_output(monkeypatch):
    """The first 60 n-back analyses of NiMARE's NeuroStore set, each its own sample size."""
    nback = load_nback_flanker("nback")
    result = ALE(random_state=4).fit(nback.slice(list(nback.ids[:60])))
    options = {"method": "montecarlo", "n_iters": 10}
    theirs = NiMAREFWECorrector(**options).transform(result)
    _feed_nimare_foci(monkeypatch, result.estimator)
    _assert_same_outputs(FWECorrector(**options).transform(result), theirs)


def test_voxel_level_only_writes_nimares_voxel_maps_and_null(monkeypatch, pain_ale):
    options = {"method": "montecarlo", "n_iters": 30, "vfwe_only": True}
    theirs = NiMAREFWECorrector(**options).transform(pain_ale)
    _feed_nimare_foci(monkeypatch, pain_ale.estimator)
    ours = FWECorrector(**options).transform(pain_ale)
    _assert_same_outputs(ours, theirs)
    assert [name.split("_corr-")[0] for name in ours.maps if "_corr-" in name] == [
        "logp_level-voxel",
        "z_level-voxel",
    ]
    assert SIZE_NULL not in ours.estimator.null_distributions_


# ------------------------------------------------------ independent draws: NiMARE's null


def test_own_draws_follow_nimares_null_in_distribution(pain_ale, pain_montecarlo, n_iters):
    """Two-sided KS of the maximum statistic, cluster size and mass against NiMARE's."""
    ours = FWECorrector(method="montecarlo", n_iters=3 * n_iters).transform(pain_ale)
    nulls = ours.estimator.null_distributions_
    theirs = pain_montecarlo.estimator.null_distributions_
    pvalues = ks_pvalues([nulls[key] for key in KEYS], theirs)
    assert min(pvalues.values()) >= P_MIN, pvalues


def test_own_draws_keep_nimares_output_contract(pain_ours, pain_montecarlo, n_iters):
    assert list(pain_ours.maps) == list(pain_montecarlo.maps)
    assert {m.dtype for m in pain_ours.maps.values()} == {np.dtype(np.float32)}
    nulls = pain_ours.estimator.null_distributions_
    assert list(nulls) == list(pain_montecarlo.estimator.null_distributions_)
    assert {(v.dtype, v.shape) for k, v in nulls.items() if k in KEYS} == {
        (np.dtype(np.float32), (n_iters,))
    }
    assert pain_ours.description_ == pain_montecarlo.description_
    assert pain_ours.bibtex_ == pain_montecarlo.bibtex_
    assert isinstance(pain_ours, MetaResult)
    assert isinstance(pain_ours.corrector, NiMAREFWECorrector)
    assert type(pain_ours.corrector) is FWECorrector
    assert pain_ours.corrector.parameters == {"n_iters": n_iters, "n_cores": 1}


# ---------------------------------------------------------------- NiMARE's own code elsewhere


def test_bonferroni_is_nimares_own(monkeypatch, pain_ale):
    theirs = NiMAREFWECorrector(method="bonferroni").transform(pain_ale)
    _forbid_the_engine(monkeypatch)
    _assert_same_outputs(FWECorrector(method="bonferroni").transform(pain_ale), theirs)


def test_an_estimator_with_a_montecarlo_null_is_corrected_by_nimare(monkeypatch, pain):
    result = KDA(null_method="montecarlo", n_iters=5, random_state=1).fit(pain)
    options = {"method": "montecarlo", "n_iters": 5, "voxel_thresh": 0.01}
    theirs = NiMAREFWECorrector(**options).transform(result)
    _forbid_the_engine(monkeypatch)
    _assert_same_outputs(FWECorrector(**options).transform(result), theirs)


# ------------------------------------------------------------------- inputs and seeds


def test_the_callers_result_and_estimator_are_not_modified(pain_ale):
    before = copy.deepcopy(pain_ale)
    corrector = FWECorrector(method="montecarlo", n_iters=20)
    corrector.transform(pain_ale)
    assert list(pain_ale.maps) == list(before.maps)
    for name, values in before.maps.items():
        np.testing.assert_array_equal(pain_ale.maps[name], values)
    assert pain_ale.description_ == before.description_ and pain_ale.corrector is None
    assert list(vars(pain_ale.estimator)) == list(vars(before.estimator))
    nulls = pain_ale.estimator.null_distributions_
    assert list(nulls) == list(before.estimator.null_distributions_)
    assert corrector.parameters == {"n_iters": 20, "n_cores": 1}


def test_results_do_not_depend_on_n_cores(pain_ale):
    """Two blocks of iterations (the engine's unit of random streams), one core or two."""
    one, two = (
        FWECorrector(method="montecarlo", n_iters=150, n_cores=n_cores).transform(pain_ale)
        for n_cores in (1, 2)
    )
    _assert_same_outputs(two, one)


def test_the_estimators_random_state_seeds_the_null(pain_ale):
    reseeded = copy.deepcopy(pain_ale)
    reseeded.estimator.random_state = 8
    seven, again, eight = (
        FWECorrector(method="montecarlo", n_iters=20).transform(result)
        for result in (pain_ale, pain_ale, reseeded)
    )
    _assert_same_outputs(again, seven)
    assert not np.array_equal(
        eight.estimator.null_distributions_[KEYS[0]], seven.estimator.null_distributions_[KEYS[0]]
    )


@pytest.mark.parametrize(
    "parameters, error, words",
    [
        ({"voxel_thresh": 1.5}, ValueError, "voxel_thresh=1.5"),
        ({"vfwe_only": "yes"}, TypeError, "vfwe_only='yes'"),
        ({"alpha": 0.05}, TypeError, "'alpha'"),
    ],
)
def test_bad_parameters_are_refused_naming_them(monkeypatch, pain_ale, parameters, error, words):
    _forbid_the_engine(monkeypatch)
    with pytest.raises(error, match=words):
        FWECorrector(method="montecarlo", n_iters=10, **parameters).transform(pain_ale)


# --------------------------------------------------------------------------- command line


def _job(*extra):
    return cli.parser._job(cli.parser._parser().parse_args(["demo", "--output-dir", "x", *extra]))


def test_the_command_line_uses_ours_unless_told_nimares():
    ours, theirs = runner._corrector(_job()), runner._corrector(_job("--nimare-corrector"))
    assert type(ours) is FWECorrector and type(theirs) is NiMAREFWECorrector
    assert (
        ours.parameters
        == theirs.parameters
        == {"n_iters": 5000, "n_cores": 1, "voxel_thresh": 0.001}
    )
    with pytest.raises(ValueError, match="--nimare-corrector is not accepted with --corrector fdr"):
        options.check(_job("--nimare-corrector", "--corrector", "fdr"))


def test_the_time_estimate_scales_the_diagnostics_from_the_engines_correction():
    engine = estimate.describe(60.0, ["fragility"])
    nimare = estimate.describe(60.0 * estimate.NIMARE_CORRECTOR_SLOWDOWN, ["fragility"], True)
    fragility = f"fragility ~{60 * estimate.RATIOS['fragility'] / 60:.1f} min"
    assert fragility in engine and fragility in nimare
