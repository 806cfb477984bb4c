"""``nimare-stability run --group1 A --group2 B``: a contrast's profile, its direction said."""

import json
import logging
import os

import pandas as pd
from nimare.utils import get_resource_path

from nimare_stability import cli
from nimare_stability.cli import runner
from nimare_stability.core import names

TARGET = names.CONTRAST_TARGETS["montecarlo"]


def _pain_halves(folder):
    """Write pain's first 10 and last 11 studies as two NiMARE JSON studysets."""
    with open(os.path.join(get_resource_path(), "nidm_pain_studyset.json")) as handle:
        doc = json.load(handle)
    paths = []
    for name, studies in (("painA", doc["studies"][:10]), ("painB", doc["studies"][10:])):
        paths.append(folder / f"{name}.json")
        paths[-1].write_text(json.dumps({**doc, "id": name, "studies": studies}))
    return paths


def test_contrast_run_writes_the_profile_of_group1_minus_group2(tmp_path, caplog, capsys):
    first, second = _pain_halves(tmp_path)
    out = tmp_path / "out"
    argv = ["run", "--group1", str(first), "--group2", str(second), "--output-dir", str(out)]
    argv += ["--n-iters", "30", "--no-progress"]
    with caplog.at_level(logging.INFO):
        assert cli.main(argv) == 0
    messages = [record.message for record in caplog.records]
    assert any(m.startswith("failsafen: not run on a contrast") for m in messages)
    assert any("permutations with nimare_stability's engine" in m for m in messages)
    analyses = pd.read_csv(out / "analyses.tsv", sep="\t")
    assert analyses.groupby("group").size().to_dict() == {"painA": 10, "painB": 11}
    verdicts = pd.read_csv(out / f"{TARGET}_tab-robustness.tsv", sep="\t")
    assert len(verdicts) > 0
    assert set(verdicts["evidence"]) == {"ResampledStability (leave_1_out), Jackknife, Fragility"}
    fragility = pd.read_csv(out / f"{TARGET}_diag-Fragility_tab-clusters.tsv", sep="\t")
    found = fragility["removed"].notna()
    groups = {"painA": "group1", "painB": "group2"}
    of = dict(zip(analyses["id"], analyses["group"].map(groups)))
    for removed, removed_groups in fragility.loc[found, ["removed", "removed_groups"]].values:
        assert removed_groups.split(";") == [of[i] for i in removed.split(";")]
    stem = f"{TARGET}_diag-ResampledStability"
    influence = pd.read_csv(out / f"{stem}_tab-influence.tsv", sep="\t")
    assert dict(zip(influence["id"], influence["contrast_group"])) == of
    assert (out / "figure_influence.png").exists()
    report = (out / "report.html").read_text()
    direction = "painA minus painB: positive clusters painA &gt; painB, negative painB &gt; painA"
    assert f"<b>Contrast:</b> {direction}" in report
    assert report.count(direction) > len(list(out.glob("figure_*.png")))  # every caption
    assert "Maps, tables, figures" in capsys.readouterr().out
    assert runner.default_target(runner.Job([first], str(out), group2=[second])) == TARGET
