"""Memory is estimated from the sizes involved and said before the costly work."""

import logging

import pytest
from nimare.correct import FWECorrector

from nimare_stability import FailSafeN, Fragility, ResampledStability
from nimare_stability.cli import estimate
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.engines import memory
from nimare_stability.engines.kernels import KernelReplicates
from nimare_stability.resampling.seeds import SeedPlan

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


class _Stop(Exception):
    """Raised in place of a diagnostic's costly work."""


def test_ma_values_per_analysis_match_the_mean_of_every_ma_map(pain_ale):
    ma_maps = KernelReplicates.from_estimator(pain_ale.estimator).ma_maps
    every = ma_maps.nnz / ma_maps.shape[0]
    sampled = memory.ma_values_per_analysis(pain_ale.estimator)
    assert sampled == pytest.approx(every, rel=0.3)


def test_failsafen_memory_grows_with_the_null_analyses_and_the_drawers_at_once(pain_montecarlo):
    def estimate(max_multiple, n_cores):
        diagnostic = FailSafeN(target_image=TARGET, max_multiple=max_multiple, n_cores=n_cores)
        analyses = AnalysisSet(pain_montecarlo.estimator)
        return diagnostic._memory(analyses, pain_montecarlo.corrector, None, SeedPlan(0))

    def cache(max_multiple, n_cores):
        parts = estimate(max_multiple, n_cores).parts
        return next(size for what, size in parts.items() if "MA maps" in what)

    n_real = len(pain_montecarlo.estimator.inputs_["id"])
    values = memory.ma_values_per_analysis(pain_montecarlo.estimator)
    for multiple in (1, 10):
        expected = n_real * (1 + multiple) * values * memory.CACHE_BYTES_PER_VALUE
        assert cache(multiple, 1) == pytest.approx(expected)
        assert cache(multiple, 2) == pytest.approx(2 * expected)
    assert estimate(1, 2).parts["2 worker processes"] == 2 * memory.PROCESS_BYTES


def test_too_little_memory_is_said_before_the_costly_work(pain_montecarlo, monkeypatch, caplog):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    judged = []

    def costly(self, *args):
        judged.append([r.getMessage() for r in caplog.records])
        raise _Stop

    monkeypatch.setattr(FailSafeN, "_search", costly)
    diagnostic = FailSafeN(target_image=TARGET, random_state=0, progress=False)
    with caplog.at_level(logging.INFO, logger=memory.__name__), pytest.raises(_Stop):
        diagnostic.transform(pain_montecarlo)
    (said,) = [m for m in judged[0] if "This machine has 1 MiB available" in m]
    assert said.startswith("FailSafeN needs about ")
    assert "To need less: a smaller max_multiple" in said


@pytest.mark.parametrize("name", ["resampledstability", "fragility", "failsafen"])
def test_the_command_line_logs_the_largest_step_before_correcting(name, pain_ale, caplog):
    classes = {
        "resampledstability": ResampledStability,
        "fragility": Fragility,
        "failsafen": FailSafeN,
    }
    diagnostics = {name: classes[name](target_image=TARGET, n_cores=1)}
    corrector = FWECorrector(method="montecarlo", n_iters=10)
    with caplog.at_level(logging.INFO, logger=memory.__name__):
        estimate.log_memory(diagnostics, pain_ale, corrector, 0)
    (line,) = caplog.messages
    assert line.startswith(f"The largest step ({name}) needs about ")
    assert "MA maps of 21 analyses" in line or "MA maps of 231 analyses" in line
