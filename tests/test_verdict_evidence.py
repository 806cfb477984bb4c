"""A verdict never claims more than its evidence: ``robust`` only when every check ran."""

import numpy as np
import pytest

from nimare_stability import ResampledStability, robustness_table
from nimare_stability.diagnostics.verdict_checks import Checks, Thresholds

FDR = "z_corr-FDR_method-indep"
THRESHOLDS = Thresholds(min_fragility=4, max_contribution=0.5, min_stability=0.5,
                        min_fsn_per_analysis=1.0)  # fmt: skip
UNITS = ("analyses", 30)
STABILITY = {"mean_stability": 0.9, "detection_rate": 1.0}
JACKKNIFE = {"top_analysis": "a1", "top_contribution": 0.2}
FRAGILITY = {"n_contributing": 12, "fragility": 5, "fragility_removed": "a1;a2;a3;a4;a5"}
FAILSAFE = {"fsn_mean": 60.0, "fsn_min": 45, "fsn_per_analysis": 2.0, "fsn_censored": False}


def _verdict(row, survived_k=None):
    return Checks(row, UNITS, 30, THRESHOLDS, survived_k).verdict()


def test_every_check_passed_is_robust():
    verdict, reason = _verdict({**STABILITY, **JACKKNIFE, **FRAGILITY, **FAILSAFE})
    assert verdict == "robust"
    assert reason == (
        "fragility 5; mean stability 0.90; top contribution 0.20; "
        "fail-safe N 60.0 (2.00 per analysis)"
    )


def test_surviving_single_removals_is_not_robust():
    row = {**STABILITY, "vanishes_without": "", **JACKKNIFE}
    verdict, reason = _verdict(row, survived_k=1)
    assert verdict == "undetermined"
    assert reason.startswith("survives removing any one analysis; mean stability 0.90")
    assert reason.endswith(
        "not computed: fragility (at least 2 shown, 4 needed): add Fragility; "
        "fail-safe N: add FailSafeN"
    )


@pytest.mark.parametrize(
    "missing, says",
    [
        (JACKKNIFE, "largest contribution: add Jackknife"),
        (STABILITY, "stability: add ResampledStability"),
        (FAILSAFE, "fail-safe N: add FailSafeN"),
        (FRAGILITY, "fragility: add Fragility"),
    ],
)
def test_each_missing_diagnostic_is_named(missing, says):
    row = {
        key: value
        for part in (STABILITY, JACKKNIFE, FRAGILITY, FAILSAFE)
        if part is not missing
        for key, value in part.items()
    }
    verdict, reason = _verdict(row)
    assert verdict == "undetermined" and reason.endswith(f"not computed: {says}")


def test_a_fragility_search_stopped_short_of_the_threshold_is_not_robust():
    row = {**STABILITY, **JACKKNIFE, **FAILSAFE, **FRAGILITY, "fragility": "> 2"}
    verdict, reason = _verdict(row)
    assert verdict == "undetermined"
    assert "fragility (at least 3 shown, 4 needed): rerun Fragility with max_removed >= 3" in (
        reason
    )
    row["fragility"] = "> 3"
    assert _verdict(row)[0] == "robust"


def test_jackknife_without_a_cluster_here_is_not_a_contribution():
    row = {**STABILITY, **FRAGILITY, **FAILSAFE, "top_analysis": None, "top_contribution": np.nan}
    verdict, reason = _verdict(row)
    assert verdict == "undetermined" and "Jackknife found no cluster here" in reason


def test_an_exhaustive_leave_k_out_run_shows_survival_of_every_k_set():
    row = {**STABILITY, **JACKKNIFE, **FAILSAFE}
    assert _verdict(row, survived_k=3) == (
        "robust",
        "survives removing any 3 analyses; mean stability 0.90; top contribution 0.20; "
        "fail-safe N 60.0 (2.00 per analysis)",
    )
    sunk_once = {**row, "detection_rate": 0.99}  # vanished in one replicate: not shown
    assert _verdict(sunk_once, survived_k=3)[0] == "undetermined"


@pytest.mark.parametrize(
    "found",
    [
        {"vanishes_without": "a7"},
        {"fragility": 2, "fragility_removed": "a1;a2"},
        {"top_analysis": "a1", "top_contribution": 0.7},
        {"mean_stability": 0.3},
        {"fsn_mean": 10.0, "fsn_per_analysis": 0.3},
    ],
)
def test_failed_checks_are_found_whatever_else_is_missing(found):
    verdict, _ = _verdict({**STABILITY, **found}, survived_k=1)
    assert verdict in {"fragile", "dominated", "unstable", "file-drawer"}


def test_exhaustive_leave_2_out_on_pain_counts_as_fragility_evidence(pain_fdr):
    result = ResampledStability(
        target_image=FDR,
        resampling_policy="leave_k_out",
        k=2,
        random_state=0,
        progress=False,
    ).transform(pain_fdr)
    table = robustness_table(result, FDR, min_fragility=3)
    clusters = result.tables[f"{FDR}_diag-ResampledStability_tab-clusters"].set_index("cluster_id")
    assert set(table["evidence"]) == {"ResampledStability (leave_k_out)"}
    for _, row in table.iterrows():
        if row["verdict"] != "undetermined":
            assert row["verdict"] == "unstable"
            continue
        survived = clusters.loc[row["cluster_id"], "detection_rate"] == 1
        assert row["reason"].startswith("survives removing any 2 analyses") == survived
        assert ("add Fragility" in row["reason"]) != survived
    assert table["reason"].str.startswith("survives removing any 2 analyses").any()
