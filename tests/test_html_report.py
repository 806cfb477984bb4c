"""``nimare_stability.report``: one self-contained HTML page of a diagnosed result."""

import base64
import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from importlib.metadata import version
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import MASS
from matplotlib.image import imread

import nimare_stability
from nimare_stability import robustness_table
from nimare_stability.diagnostics.verdict_checks import Thresholds, meanings
from nimare_stability.reporting.html_report import summary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ["Summary", "Clusters", "Figures", "Replicates", "Methods", "Provenance"]
STEM = f"{MASS}_diag-ResampledStability"


class _Page(HTMLParser):
    """The parts of a page the tests read: section texts, tables, images, external refs."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.sections = {}  # h2 title -> text of the section
        self.tables = []  # (section title, inside <details>, rows of cell texts)
        self.images = []  # attrs of every <img>
        self.tags = []  # (tag, attrs) of every start tag
        self._section = None
        self._in_h2 = False
        self._details = 0
        self._cell = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "h2":
            self._in_h2, self._section = True, ""
        elif tag == "details":
            self._details += 1
        elif tag == "table":
            self.tables.append((self._section, self._details > 0, []))
        elif tag == "tr" and self.tables:
            self.tables[-1][2].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
            self.sections[self._section] = ""
        elif tag == "details":
            self._details -= 1
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][2][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._in_h2:
            self._section += data
            return
        if self._section in self.sections:
            self.sections[self._section] += data
        if self._cell is not None:
            self._cell.append(data)

    def section_text(self, title):
        return " ".join(self.sections[title].split())

    def section_tables(self, title):
        return [(details, rows) for section, details, rows in self.tables if section == title]


def _keys(result):
    return (
        sorted(result.maps),
        sorted(result.tables),
        [type(d).__name__ for d in result.diagnostics],
        dict(result.metadata),
        result.description_,
    )


@pytest.fixture(scope="module")
def written(pain_jackknife_stability, tmp_path_factory):
    """The report of leave-one-out ResampledStability and Jackknife on pain (MASS)."""
    result = pain_jackknife_stability
    before = _keys(result)
    path = nimare_stability.report(result, tmp_path_factory.mktemp("report"))
    text = path.read_text(encoding="utf-8")
    return SimpleNamespace(
        result=result, path=path, text=text, page=_Page(text), before=before, after=_keys(result)
    )


def test_report_is_one_self_contained_file_with_embedded_pngs(written):
    assert written.path.name == "report.html" and written.path.is_file()
    assert list(written.path.parent.iterdir()) == [written.path]
    text = written.text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.IGNORECASE)
    assert not re.search(r"<link\b", text, re.IGNORECASE)
    assert "@import" not in text and "url(" not in text
    page = written.page
    assert len(page.images) >= 3
    assert len(page.images) == len(re.findall(r"<img\b", text, re.IGNORECASE))
    prefix = "data:image/png;base64,"
    for image in page.images:
        assert image["src"].startswith(prefix), image["src"][:60]
        assert base64.b64decode(image["src"][len(prefix) :], validate=True).startswith(PNG_MAGIC)
        assert image.get("alt")


def test_report_has_its_sections_and_provenance(written):
    page = written.page
    assert list(page.sections) == SECTIONS
    summary = page.section_text("Provenance")
    assert f"nimare {version('nimare')}" in summary
    assert f"nimare-stability {version('nimare-stability')}" in summary
    for step in ("ALE", "FWECorrector", "ResampledStability"):
        assert step in summary
    seed = written.result.tables[f"{STEM}_tab-summary"]["random_state"].iloc[0]
    # the seed the run used and its run time, from the result's metadata
    assert re.search(rf"ResampledStability \(random_state {seed}; \d+\.\d s\)", summary)


def test_report_opens_with_a_paragraph_naming_the_weakest_point(written):
    expected = robustness_table(written.result, MASS)
    text = written.page.section_text("Summary")
    counts = expected["verdict"].value_counts()
    assert text.startswith(f"{len(expected)} clusters in {MASS}: ")
    for verdict, n in counts.items():
        assert f"{n} {verdict}" in text
    # Leave-one-out on pain: among the clusters that vanish without one analysis, the
    # least stable is the weakest.
    single = expected[expected["vanishes_without"].fillna("") != ""]
    assert len(single) >= 2
    weakest = single.loc[single["mean_stability"].idxmin()]
    ids = weakest["vanishes_without"].split(";")
    x, y, z = (f"{weakest[c]:.0f}" for c in ("peak_x", "peak_y", "peak_z"))
    assert f"Weakest: cluster {weakest['cluster_id']} ({x} {y} {z}, " in text
    assert weakest["peak_label"] in text and all(id_ in text for id_ in ids)
    assert "Evidence read: ResampledStability (leave_1_out), Jackknife." in text


def test_report_lists_every_cluster_with_its_location_and_verdict(written):
    expected = robustness_table(written.result, MASS)
    clusters = written.result.tables[f"{STEM}_tab-clusters"]
    assert len(expected) == len(clusters) >= 2
    ((details, rows),) = written.page.section_tables("Clusters")
    assert not details
    header, body = rows[0], rows[1:]
    location = ["peak_x", "peak_y", "peak_z", "peak_label", "overlap_label"]
    assert {"cluster_id", "tail", *location, "verdict", "reason"} <= set(header)
    labels = [row[header.index("peak_label")] for row in body]
    assert labels == list(expected["peak_label"]) and all(labels)
    # What each verdict means, with the default thresholds the verdict used.
    text = written.page.section_text("Clusters")
    assert "no set of fewer than 4 analyses sinks it" in text
    for meaning in meanings(Thresholds(4, 0.5, 0.5, 1.0)).values():
        assert meaning in text
    shown = {int(row[header.index("cluster_id")]): row[header.index("verdict")] for row in body}
    assert shown == dict(zip(expected["cluster_id"], expected["verdict"]))
    for verdict in set(expected["verdict"]):
        assert f"<span class='verdict-{verdict}'>{verdict}</span>" in written.text


def test_report_folds_the_replicates_into_details(written):
    replicates = written.result.tables[f"{STEM}_tab-replicates"]
    ((details, rows),) = written.page.section_tables("Replicates")
    assert details
    assert rows[0][: len(replicates.columns)] == list(replicates.columns)
    assert len(rows) - 1 == len(replicates) == 21  # leave-one-out on pain
    assert [row[rows[0].index("left_out")] for row in rows[1:]] == list(replicates["left_out"])
    assert re.search(r"<details><summary>21 replicates", written.text)


def test_report_has_the_methods_text_and_references(written):
    methods = written.page.section_text("Methods")
    description = " ".join(written.result.description_.split())
    assert "ResampledStability" in description
    assert description in methods
    assert html.escape(written.result.description_) in written.text
    assert "@" in methods  # the BibTeX entries


def test_report_leaves_the_result_unchanged(written):
    assert written.after == written.before


def test_report_refuses_a_result_without_our_diagnostics(pain_jackknife, tmp_path):
    before = _keys(pain_jackknife)
    with pytest.raises(ValueError, match=r"no diagnostic of nimare-stability; accepted: .*"):
        nimare_stability.report(pain_jackknife, tmp_path)
    assert _keys(pain_jackknife) == before
    assert not (tmp_path / "report.html").exists()


def test_report_refuses_an_undiagnosed_target(pain_jackknife_stability, tmp_path):
    before = _keys(pain_jackknife_stability)
    target = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
    with pytest.raises(ValueError, match=rf"target_image='{target}' was not diagnosed") as info:
        nimare_stability.report(pain_jackknife_stability, tmp_path, target_image=target)
    assert MASS in str(info.value) and "accepted" in str(info.value)
    assert _keys(pain_jackknife_stability) == before
    assert not (tmp_path / "report.html").exists()


#: Appended to a copy of the report: after load, record every image's decoded width and
#: where the summary, the first table and the first figure were laid out (px from the top).
_PROBE = """<script>
window.addEventListener("load", () => {
  const widths = Array.from(document.images, (image) => image.complete ? image.naturalWidth : -1);
  document.body.setAttribute("data-image-widths", JSON.stringify(widths));
  const top = (element) => element.getBoundingClientRect().top + window.scrollY;
  const tops = ["#summary", "table", "figure"].map((s) => top(document.querySelector(s)));
  document.body.setAttribute("data-tops", JSON.stringify(tops));
});
</script>"""


def _chromium():
    found = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (chromium, chromium-browser or google-chrome).")
        pytest.skip("Chromium is not installed (the CI runs this test).")
    return found


def _headless(chromium, tmp_path, *arguments):
    profile = tmp_path / "profile"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_report_renders_in_headless_chromium(written, tmp_path):
    chromium = _chromium()
    shot = tmp_path / "shot.png"
    _headless(
        chromium,
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1200,3000",
        "--hide-scrollbars",
        written.path.as_uri(),
    )
    assert shot.read_bytes().startswith(PNG_MAGIC)
    pixels = imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    rgb = pixels[..., :3].reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 200  # text, tables and coloured figures
    assert (rgb.min(axis=1) < 0.9).mean() > 0.02  # not a blank page

    # The rendered DOM: tables present, and every embedded image decoded (width > 0).
    probed = tmp_path / "probed.html"
    probed.write_text(written.text.replace("</body>", f"{_PROBE}</body>"), encoding="utf-8")
    dom = _headless(
        chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()
    ).stdout
    assert dom.count("<table") == written.text.count("<table") >= 3
    match = re.search(r'data-image-widths="([^"]*)"', dom)
    assert match, "the load handler did not run"
    widths = json.loads(html.unescape(match[1]))
    assert len(widths) == len(written.page.images)
    assert all(width > 0 for width in widths), widths
    # The answer first: the summary paragraph, then the verdict table, then the figures.
    summary, table, figure = json.loads(html.unescape(re.search(r'data-tops="([^"]*)"', dom)[1]))
    assert summary < table < figure, (summary, table, figure)


def _two_subsamples_of_z(pain_ale, **params):
    """ResampledStability on the uncorrected z map of pain: two subsamples of 15."""
    return nimare_stability.ResampledStability(
        target_image="z",
        resampling_policy="subsample",
        target_n=15,
        n_resamples=2,
        progress=False,
        **params,
    ).transform(pain_ale)


def test_report_shows_the_seed_drawn_for_random_state_none(pain_ale, tmp_path):
    out = _two_subsamples_of_z(pain_ale, target_threshold=3.1)
    seed = out.tables["z_diag-ResampledStability_tab-summary"]["random_state"].iloc[0]
    assert out.metadata["z_diag-ResampledStability_random_state"] == seed
    page = nimare_stability.report(out, tmp_path).read_text()
    assert f"random_state {seed}" in page


def test_report_of_a_result_without_clusters_says_so(pain_ale, tmp_path):
    out = _two_subsamples_of_z(pain_ale, target_threshold=50, random_state=0)
    page = _Page(nimare_stability.report(out, tmp_path).read_text())
    assert (
        page.section_text("Summary") == "z has no significant cluster: there is nothing to judge."
    )
    assert "No significant cluster." in page.section_text("Clusters")


def test_summary_names_the_weakest_cluster_by_its_sinking_set():
    row = {"tail": "positive", "peak_x": -62.0, "peak_y": -22.0, "peak_z": 20.4}
    row.update(peak_label="Harvard-Oxford: Left Postcentral Gyrus", evidence="Fragility")
    rows = [
        {**row, "cluster_id": 1, "fragility": 3, "fragility_removed": "a;b;c"},
        {**row, "cluster_id": 2, "fragility": "> 10", "fragility_removed": ""},
        {**row, "cluster_id": 3, "fragility": 2, "fragility_removed": "d;e"},
    ]
    verdicts = ["fragile", "undetermined", "fragile"]
    table = pd.DataFrame([{**r, "verdict": v, "reason": "r"} for r, v in zip(rows, verdicts)])
    assert summary(table, "T") == (
        "3 clusters in T: 2 fragile, 1 undetermined. Weakest: cluster 3 (-62 -22 20, "
        "Harvard-Oxford: Left Postcentral Gyrus) vanishes when d and e are removed together. "
        "Evidence read: Fragility."
    )
    one = table.assign(fragility_removed=["a;b;c", "", "d"], fragility=[3, "> 10", 1])
    assert (
        "Weakest: cluster 3 (-62 -22 20, Harvard-Oxford: Left Postcentral Gyrus) "
        "vanishes without d." in summary(one, "T")
    )
    robust = table.iloc[[1]].assign(verdict="robust", reason="fragility > 10")
    assert summary(robust, "T").endswith(
        "cluster 2 (-62 -22 20, Harvard-Oxford: Left "
        "Postcentral Gyrus) is robust: fragility > 10. "
        "Evidence read: Fragility."
    )
