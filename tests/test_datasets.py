"""The bundled studysets load ready for ALE: the task split, sample sizes, clear errors."""

import builtins
import json
import re

import numpy as np
import pandas as pd
import pytest

from nimare_stability import datasets

COUNT = "ParticipantDemographicsExtractor.groups[{}].count"


@pytest.fixture(scope="module")
def whole():
    """The whole NeuroStore set and its annotations, in ids order."""
    studyset = datasets._read_parquet(datasets._resource(datasets.NBACK_FLANKER))
    return studyset, studyset.annotations_df.set_index("id").loc[list(studyset.ids)]


def _counts(annotations, group):
    return pd.to_numeric(annotations[COUNT.format(group)], errors="coerce")


def _task_ids(annotations, pattern):
    """Independent split: any TaskName column matching ``pattern``, per analysis."""
    names = annotations.filter(regex=r"TaskName$")
    hit = names.apply(
        lambda column: column.map(
            lambda v: isinstance(v, str) and bool(re.search(pattern, v, re.I))
        )
    )
    return set(annotations.index[hit.any(axis=1)])


def test_pain_has_sample_sizes_for_ale(caplog):
    from nimare.meta.cbma import ALE

    pain = datasets.load_pain()
    assert len(pain.ids) == 21
    coordinates = ALE().fit(pain).estimator.inputs_["coordinates"]
    assert coordinates["sample_size"].notna().all()


def _fitted_sample_sizes(studyset, whole):
    """Sample size as ALE's kernel reads it, for analyses without curated ``sample_sizes``.

    NiMARE reads an analysis's own ``sample_sizes`` metadata first; the set has it for two
    analyses, which keep them.
    """
    from nimare.meta.cbma import ALE

    curated = whole[0].metadata.set_index("id")["sample_sizes"].dropna().index
    assert len(curated) <= 2
    coordinates = ALE().fit(studyset).estimator.inputs_["coordinates"]
    sizes = coordinates.drop_duplicates("id").set_index("id")["sample_size"]
    return sizes.drop(curated, errors="ignore")


@pytest.mark.parametrize(("task", "n_task", "n_dropped"), [("nback", 500, 6), ("flanker", 406, 2)])
def test_task_split_and_sample_sizes_match_the_annotations(whole, task, n_task, n_dropped):
    _, annotations = whole
    summary = json.loads(
        (datasets._resource(datasets.NBACK_FLANKER) / "selection_summary.json").read_text()
    )
    on_task = _task_ids(annotations, summary["matching"][datasets.TASKS[task]])
    first = _counts(annotations, 0)
    assert len(on_task) == n_task
    assert int(first.loc[list(on_task)].isna().sum() + (first.loc[list(on_task)] <= 0).sum()) == (
        n_dropped
    )
    studyset = datasets.load_nback_flanker(task)
    assert set(studyset.ids) == {i for i in on_task if first[i] > 0}
    sizes = _fitted_sample_sizes(studyset, whole)
    np.testing.assert_array_equal(sizes.to_numpy(), first.loc[sizes.index].to_numpy())


def test_tasks_do_not_overlap_and_come_from_many_studies():
    nback, flanker = datasets.load_nback_flanker("nback"), datasets.load_nback_flanker("flanker")
    assert not set(nback.ids) & set(flanker.ids)
    assert len(set(nback.study_ids)) < len(nback.ids) / 2  # several analyses per study


def test_total_sums_every_group(whole):
    _, annotations = whole
    studyset = datasets.load_nback_flanker("flanker", sample_size="total")
    groups = [c for c in annotations if re.fullmatch(re.escape(COUNT).replace(r"\{\}", r"\d+"), c)]
    counts = annotations[groups].apply(pd.to_numeric, errors="coerce")
    expected = counts.where(counts > 0).sum(axis=1).loc[list(studyset.ids)]
    got = _fitted_sample_sizes(studyset, whole)
    np.testing.assert_array_equal(got.to_numpy(), expected.loc[got.index].to_numpy())


def test_missing_counts_raise_on_request():
    with pytest.raises(ValueError, match="6 of 500 nback analyses report no participant count"):
        datasets.load_nback_flanker("nback", missing="raise")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"task": "stroop"}, "task"),
        ({"sample_size": "mean"}, "sample_size"),
        ({"missing": 0}, "missing"),
    ],
)
def test_bad_choices_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"{name}=.*accepted"):
        datasets.load_nback_flanker(**kwargs)


def test_missing_pyarrow_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow":
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ImportError, match=r"nimare-stability\[parquet\]"):
        datasets.load_nback_flanker("nback")
