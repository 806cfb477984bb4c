"""Grouped, stratified and pairwise schedules, end to end through ``ResampledStability``.

Every expectation is computed here, independently of the package: group and stratum labels
from the Studyset's own metadata (or from how the test built the Studyset), allocations by
hand, replicate maps by NiMARE's own fit and corrector on the retained analyses, and cluster
contributions from NiMARE's own Jackknife.
"""

import copy
import json
import os
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from nimare.correct import FDRCorrector
from nimare.diagnostics import Jackknife
from nimare.meta.cbma import ALE, MKDAChi2
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

from nimare_stability import ResampledStability, robustness_table

FDR = "z_corr-FDR_method-indep"
STEM = f"{FDR}_diag-ResampledStability"
ALPHA = 0.05


# --------------------------------------------------------------------------- helpers


def _ids(joined):
    """The ids of a ``;``-joined table cell (empty cell: no ids)."""
    return set(joined.split(";")) if isinstance(joined, str) and joined else set()


def _replicates(result, stem=STEM):
    table = result.tables[f"{stem}_tab-replicates"]
    return [(_ids(row["retained"]), _ids(row["left_out"])) for _, row in table.iterrows()]


def _stability(target, policy, **kwargs):
    return ResampledStability(
        target_image=target, resampling_policy=policy, random_state=0, progress=False, **kwargs
    )


def _fdr(studyset):
    """ALE (seeded as the ``pain_ale`` fixture) on ``studyset``, corrected by FDR."""
    return FDRCorrector(method="indep", alpha=ALPHA).transform(ALE(random_state=7).fit(studyset))


def _signed_support(result, target, p_map):
    """The support rule without thresholds: sign(z) where p < alpha, p from the target."""
    return np.sign(result.maps[target]) * (result.maps[p_map] < ALPHA)


def _proportional_allocation(labels, target):
    """floor(target * n_s / n) per stratum, then +1 to the largest remainders (ties: the
    stratum seen first in ``labels``)."""
    sizes = Counter(labels)  # insertion order = order of first appearance
    n = len(labels)
    shares = {s: divmod(target * n_s, n) for s, n_s in sizes.items()}
    allocation = {s: quota for s, (quota, _) in shares.items()}
    by_remainder = sorted(sizes, key=lambda s: -shares[s][1])  # stable: first seen wins ties
    for s in by_remainder[: target - sum(allocation.values())]:
        allocation[s] += 1
    return allocation


def _size_class(sample_sizes):
    n = sample_sizes[0]
    return "small" if n <= 12 else "medium" if n <= 16 else "large"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def labelled_pain(pain):
    """A copy of pain with a metadata column ``lab`` and an annotation column ``site``."""
    ids = list(pain.ids)
    labs = [f"lab{i % 4}" for i in range(len(ids))]  # 6, 5, 5, 5 analyses
    sites = [f"site{i % 3}" for i in range(len(ids))]  # 7, 7, 7 analyses
    labelled = pain.with_metadata("lab", labs)
    labelled = labelled.with_annotations_df(pd.DataFrame({"id": ids, "site": sites}), name="sites")
    assert "lab" not in pain.metadata.columns  # the session's pain is untouched
    truth = {"lab": dict(zip(ids, labs)), "site": dict(zip(ids, sites))}
    return labelled, truth


@pytest.fixture(scope="module")
def labelled_fdr(labelled_pain):
    return _fdr(labelled_pain[0])


@pytest.fixture(scope="module")
def multi_analysis_pain():
    """Pain's 21 analyses regrouped into 9 papers of 4, 4, 3, 3, 2, 2, 1, 1, 1 analyses.

    Returns the Studyset and the truth {analysis id -> paper id} as this fixture built it.
    """
    with open(os.path.join(get_resource_path(), "nidm_pain_studyset.json")) as f:
        source = json.load(f)
    analyses = [study["analyses"][0] for study in source["studies"]]
    studies, truth, position = [], {}, 0
    for paper, size in enumerate([4, 4, 3, 3, 2, 2, 1, 1, 1]):
        study_id = f"paper{paper}"
        study = {
            "id": study_id,
            "name": study_id,
            "authors": "",
            "publication": "",
            "metadata": {},
            "analyses": [],
        }
        for within in range(size):
            analysis = copy.deepcopy(analyses[position])
            analysis.pop("images", None)
            analysis["id"] = analysis["name"] = f"contrast{within}"
            study["analyses"].append(analysis)
            truth[f"{study_id}-contrast{within}"] = study_id
            position += 1
        studies.append(study)
    assert position == 21
    return Studyset({"id": "multi", "name": "multi", "studies": studies}), truth


@pytest.fixture(scope="module")
def mkdachi2(sleuth_pair):
    return MKDAChi2().fit(*sleuth_pair)


# --------------------------------------------------------------------------- 1. strata


@pytest.mark.parametrize("source", ["mapping", "metadata column", "sample_sizes column"])
def test_stratified_subsample_keeps_the_proportional_allocation_in_every_replicate(
    source, pain, pain_fdr, labelled_pain, labelled_fdr
):
    if source == "mapping":
        result = pain_fdr
        meta = pain.metadata
        labels = dict(zip(meta["id"], map(_size_class, meta["sample_sizes"])))
        strata = labels  # small 9, medium 6, large 6
    elif source == "metadata column":
        result = labelled_fdr
        labels = labelled_pain[1]["lab"]
        strata = "lab"  # 6, 5, 5, 5: the tie rule decides who gets the last analysis
    else:  # the Studyset's own list-valued column: one stratum per sample size
        result = pain_fdr
        meta = pain.metadata
        labels = dict(zip(meta["id"], map(tuple, meta["sample_sizes"])))
        strata = "sample_sizes"
    target_n = 10
    ids = [str(id_) for id_ in result.estimator.inputs_["id"]]
    expected = _proportional_allocation([labels[id_] for id_ in ids], target_n)
    assert sum(expected.values()) == target_n

    out = _stability(
        FDR, "stratified_subsample", strata=strata, target_n=target_n, n_resamples=3
    ).transform(result)

    replicates = _replicates(out)
    assert len(replicates) == 3
    for retained, left_out in replicates:
        assert retained | left_out == set(ids) and not retained & left_out
        kept = Counter(labels[id_] for id_ in retained)
        assert {s: kept.get(s, 0) for s in expected} == expected
    assert len({frozenset(retained) for retained, _ in replicates}) == 3  # distinct subsets


# --------------------------------------------------------------------------- 2. groups


def _group_source(source, pain, pain_fdr, labelled_pain, labelled_fdr):
    """(result, groups argument, truth {id -> group}) for a group source."""
    if source == "mapping":
        meta = pain.metadata
        truth = dict(zip(meta["id"], map(_size_class, meta["sample_sizes"])))
        return pain_fdr, truth, truth
    column = {"metadata column": "lab", "annotation column": "site"}[source]
    return labelled_fdr, column, labelled_pain[1][column]


SOURCES = ["mapping", "metadata column", "annotation column"]


@pytest.mark.parametrize("source", SOURCES)
def test_leave_group_out_leaves_out_each_whole_group_once_and_names_it(
    source, pain, pain_fdr, labelled_pain, labelled_fdr
):
    result, groups, truth = _group_source(source, pain, pain_fdr, labelled_pain, labelled_fdr)
    members = {}
    for id_ in map(str, result.estimator.inputs_["id"]):
        members.setdefault(truth[id_], set()).add(id_)

    out = _stability(FDR, "leave_group_out", groups=groups).transform(result)

    replicates = _replicates(out)
    left_out_groups = []
    for retained, left_out in replicates:
        (group,) = [g for g, ids in members.items() if ids == left_out]  # exactly one group
        assert retained == set().union(*members.values()) - left_out
        left_out_groups.append(group)
    assert sorted(left_out_groups) == sorted(members)  # each group left out once
    influence = out.tables[f"{STEM}_tab-influence"]
    assert influence.columns[0] == "group"
    assert list(influence["group"]) == left_out_groups  # row i: replicate i's left-out group


@pytest.mark.parametrize("source", SOURCES)
def test_subsample_groups_keeps_target_n_whole_groups(
    source, pain, pain_fdr, labelled_pain, labelled_fdr
):
    result, groups, truth = _group_source(source, pain, pain_fdr, labelled_pain, labelled_fdr)
    members = {}
    for id_ in map(str, result.estimator.inputs_["id"]):
        members.setdefault(truth[id_], set()).add(id_)

    out = _stability(FDR, "subsample_groups", groups=groups, target_n=2, n_resamples=3)
    replicates = _replicates(out.transform(result))

    assert len(replicates) == 3
    kept_groups = []
    for retained, left_out in replicates:
        kept = {g for g, ids in members.items() if ids <= retained}
        assert set().union(*(members[g] for g in kept)) == retained  # whole groups only
        assert len(kept) == 2
        assert left_out == set().union(*members.values()) - retained
        kept_groups.append(frozenset(kept))
    assert len(set(kept_groups)) == 3  # distinct group subsets


# --------------------------------------------------------------------------- 3. study


def test_groups_study_leaves_out_exactly_the_analyses_of_one_study(multi_analysis_pain):
    studyset, truth = multi_analysis_pain
    result = _fdr(studyset)
    coordinates = result.estimator.inputs_["coordinates"][["id", "study_id"]].drop_duplicates()
    assert dict(zip(coordinates["id"], coordinates["study_id"])) == truth  # NiMARE agrees
    members = {}
    for id_, study in truth.items():
        members.setdefault(study, set()).add(id_)

    out = _stability(FDR, "leave_group_out", groups="study").transform(result)

    table = out.tables[f"{STEM}_tab-replicates"]
    left_out_studies = []
    for (retained, left_out), (_, row) in zip(_replicates(out), table.iterrows()):
        (study,) = [s for s, ids in members.items() if ids == left_out]
        assert retained == set(truth) - left_out
        left_out_studies.append(study)
    assert len(table) == 9 and sorted(left_out_studies) == sorted(members)
    assert list(out.tables[f"{STEM}_tab-influence"]["group"]) == left_out_studies

    # The replicate without paper0 is NiMARE's own fit and FDR on the 17 other analyses.
    row = table.iloc[left_out_studies.index("paper0")]
    refit = _fdr(studyset.slice(sorted(_ids(row["retained"]))))
    baseline = _signed_support(result, FDR, "p_corr-FDR_method-indep") > 0
    replicate = _signed_support(refit, FDR, "p_corr-FDR_method-indep") > 0
    dice = 2 * np.sum(baseline & replicate) / (baseline.sum() + replicate.sum())
    assert row["n_support"] == replicate.sum()
    assert row["dice"] == pytest.approx(dice, abs=1e-6)


# --------------------------------------------------------------------------- 4. pairwise


@pytest.mark.parametrize("resample_group", ["group1", "group2"])
def test_resample_group_varies_only_that_group_and_keeps_the_other_whole(
    resample_group, mkdachi2, sleuth_pair
):
    target, p_map = "z_desc-association", "p_desc-association"
    inputs = mkdachi2.estimator.inputs_
    id1, id2 = set(map(str, inputs["id1"])), set(map(str, inputs["id2"]))
    varying, fixed = (id1, id2) if resample_group == "group1" else (id2, id1)

    out = _stability(
        target, "subsample", target_n=0.8, n_resamples=2, resample_group=resample_group
    ).transform(mkdachi2)

    replicates = _replicates(out, f"{target}_diag-ResampledStability")
    assert len(replicates) == 2
    for retained, left_out in replicates:
        assert left_out and left_out <= varying  # only the resampled group loses analyses
        assert (retained & varying) | left_out == varying
        assert len(retained & varying) == round(0.8 * len(varying))
    assert len({frozenset(retained & varying) for retained, _ in replicates}) == 2
    # the other group does not vary: listed in full in every replicate, or never
    assert len({frozenset(retained & fixed) for retained, _ in replicates}) == 1
    assert (replicates[0][0] & fixed) in (set(), fixed)

    # Independent: NiMARE's own MKDAChi2 on the retained analyses of the resampled group
    # and ALL analyses of the other reproduces the stability map.
    group1, group2 = sleuth_pair
    supports = []
    for retained, _ in replicates:
        if resample_group == "group1":
            fit = MKDAChi2().fit(group1.slice(sorted(retained & varying)), group2)
        else:
            fit = MKDAChi2().fit(group1, group2.slice(sorted(retained & varying)))
        other = "id2" if resample_group == "group1" else "id1"
        assert set(map(str, fit.estimator.inputs_[other])) == fixed
        supports.append(_signed_support(fit, target, p_map))
    supports = np.array(supports)
    expected = (supports > 0).mean(axis=0) - (supports < 0).mean(axis=0)
    np.testing.assert_allclose(
        out.maps[f"{target}_diag-ResampledStability"], expected, rtol=0, atol=1e-6
    )


# --------------------------------------------------------------------------- 5. verdict


def test_robustness_table_joins_stability_with_nimare_jackknife(pain_fdr):
    thresholds = {"target_threshold": 1.65, "cluster_threshold": 10}
    # NiMARE's Jackknife adds its maps, tables and itself (to the diagnostics list, which
    # MetaResult.copy() shares) to the result it is given: use a deep copy.
    jackknifed = Jackknife(target_image=FDR, **thresholds).transform(copy.deepcopy(pain_fdr))
    assert FDR + "_diag-Jackknife_tab-counts_tail-positive" not in pain_fdr.tables
    out = _stability(FDR, "subsample", target_n=0.8, n_resamples=3, **thresholds).transform(
        jackknifed
    )

    table = robustness_table(out, FDR)

    assert list(table.columns) == [
        "cluster_id",
        "tail",
        "peak_x",
        "peak_y",
        "peak_z",
        "peak_label",
        "overlap_label",
        "mean_stability",
        "detection_rate",
        "vanishes_without",
        "top_analysis",
        "top_contribution",
        "evidence",
        "verdict",
        "reason",
    ]
    clusters = out.tables[f"{STEM}_tab-clusters"]
    assert len(table) == len(clusters) > 0
    assert list(table["cluster_id"]) == list(clusters["cluster_id"])
    assert list(table["tail"]) == list(clusters["tail"]) and set(table["tail"]) == {"positive"}
    np.testing.assert_allclose(table["mean_stability"], clusters["mean"])

    # Same thresholds as Jackknife: the same clusters, named by Jackknife's label values.
    labels = np.asarray(out.maps["label_corr-FDR_method-indep_tail-positive"])
    assert sorted(table["cluster_id"]) == sorted(np.unique(labels[labels > 0]).astype(int))
    stability = np.asarray(out.maps[f"{STEM}"])
    counts = out.tables[f"{FDR}_diag-Jackknife_tab-counts_tail-positive"].set_index("id")
    for _, row in table.iterrows():
        in_cluster = labels == row["cluster_id"]
        assert row["mean_stability"] == pytest.approx(
            np.clip(stability[in_cluster], 0, None).mean(), abs=1e-6
        )
        contributions = counts[f"PositiveTail {row['cluster_id']}"].astype(float)
        assert row["top_contribution"] == pytest.approx(contributions.max())
        assert row["top_analysis"] == contributions.idxmax()
        # A subsample schedule says nothing of single removals: never "robust".
        assert row["vanishes_without"] is None
        if row["top_contribution"] > 0.5:
            assert row["verdict"] == "dominated"
            assert f"{row['top_analysis']} contributes" in row["reason"]
        elif row["mean_stability"] < 0.5:
            assert row["verdict"] == "unstable"
        else:
            assert row["verdict"] == "undetermined" and "Fragility" in row["reason"]
