"""One self-contained ``report.html`` of a diagnosed result: figures embedded, no network.

The answer first: one paragraph a reader can paste (how many clusters, how many of each
verdict, the weakest point in words), then the clusters with their location, verdict and
reason, the figures of :mod:`nimare_stability.plotting`, the replicates (collapsed), the
methods text with its references, and last the provenance (versions, parameters, seeds, run
times).
"""

import base64
import html
import io
import platform
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from nimare_stability.core import names
from nimare_stability.diagnostics.base import ResultDiagnostic, check_result
from nimare_stability.diagnostics.verdict import RobustnessVerdict, robustness_table
from nimare_stability.diagnostics.verdict_checks import Thresholds, meanings
from nimare_stability.reporting import plotting

#: Packages whose versions the provenance lists.
PACKAGES = ("nimare-stability", "nimare", "numpy", "scipy", "nilearn", "numba", "pandas")

_STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}figure{margin:1em 0}img{max-width:100%}
figcaption{font-size:.9em;color:#555}pre{white-space:pre-wrap;background:#f7f7f7;padding:.8em}
.verdict-robust{color:#1b9e77;font-weight:bold}.verdict-fragile{color:#d62728;font-weight:bold}
"""


def report(result, out_dir, target_image=None, filename="report.html", groups=None):
    """Write one self-contained HTML report of ``result``'s diagnostics.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        Holds the outputs of this package's diagnostics (and optionally NiMARE's
        Jackknife). Never modified.
    out_dir : str or path
        Created when missing.
    target_image : str, optional
        The diagnosed target to report; defaults to the target of the last of this
        package's diagnostics run on ``result``.
    filename : str, default "report.html"
    groups : tuple of str, optional
        A contrast's group names (group 1, group 2), said in its title and captions
        (default "group 1" and "group 2").

    Returns
    -------
    :class:`pathlib.Path`
        The report's path. Its figures are PNG data URIs: the file can be moved or mailed.
    """
    check_result(result)
    ours = [d for d in result.diagnostics if isinstance(d, ResultDiagnostic)]
    if not ours:
        raise ValueError(
            "result holds no diagnostic of nimare-stability; accepted: a result returned by "
            "ResampledStability, Fragility, FailSafeN or RobustnessVerdict (or a workflow "
            "that ran one)."
        )
    target = target_image or ours[-1].target_image
    ran = [d for d in ours if d.target_image == target]
    if not ran:
        raise ValueError(
            f"target_image={target!r} was not diagnosed; accepted: one of "
            f"{sorted({d.target_image for d in ours})}."
        )
    verdicts = result.tables.get(names.robustness_key(target))
    if verdicts is None:
        verdicts = robustness_table(result, target)
    contrast = plotting.contrast_title(result, groups)
    sections = [
        _section("Summary", f"<p id='summary'>{html.escape(summary(verdicts, target))}</p>"),
        _section("Clusters", _clusters(verdicts) + _meanings(result, target)),
        _section("Figures", "".join(_figures(result, target, groups))),
        _section("Replicates", _replicates(result, target)),
        _section("Methods", _methods(result)),
        _section("Provenance", _provenance(result, ran)),
    ]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>nimare-stability report: {html.escape(contrast or target)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>How much to trust the clusters of <code>{html.escape(target)}</code></h1>"
        f"{'' if contrast is None else f'<p><b>Contrast:</b> {html.escape(contrast)}</p>'}"
        f"{''.join(sections)}</body></html>"
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / filename
    path.write_text(page, encoding="utf-8")
    return path


def _section(title, body):
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _provenance(result, ran):
    versions = {"python": platform.python_version()}
    versions.update({name: version(name) for name in PACKAGES})
    rows = [("Estimator", _described(result.estimator))]
    if result.corrector is not None:
        rows.append(("Corrector", _described(result.corrector)))
    for diagnostic in ran:
        target, name = diagnostic.target_image, diagnostic.name
        seed = result.metadata.get(names.metadata_key(target, name, names.RANDOM_STATE))
        seconds = result.metadata.get(names.metadata_key(target, name, names.SECONDS))
        run = [] if seed is None else [f"random_state {seed}"]
        run += [] if seconds is None else [f"{seconds:.1f} s"]
        rows.append((type(diagnostic).__name__, _described(diagnostic, run)))
    table = pd.DataFrame(rows, columns=["step", "settings"])
    return (
        f"<p>Versions: {html.escape(', '.join(f'{k} {v}' for k, v in versions.items()))}</p>"
        + table.to_html(index=False, escape=False)
    )


def _described(obj, extra=()):
    params = getattr(obj, "parameters", None) or obj.get_params(deep=False)
    text = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()) if not callable(v))
    head = f"<b>{html.escape(type(obj).__name__)}</b>"
    extra = f" ({html.escape('; '.join(extra))})" if extra else ""
    return f"{head}{extra}<br><small>{html.escape(text)}</small>"


def _figures(result, target, groups=None):
    """Yield an embedded ``<figure>`` per figure of :func:`plotting.figures`."""
    import matplotlib.pyplot as plt

    for _, caption, figure in plotting.figures(result, target, groups):
        if figure is None:
            yield f"<p>{html.escape(caption)}: not available for this run.</p>"
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(figure)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        yield (
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )


def summary(verdicts, target):
    """Return one paragraph: how many clusters, of each verdict, and the weakest point.

    Parameters
    ----------
    verdicts : :class:`pandas.DataFrame`
        The robustness table (:func:`~nimare_stability.robustness_table`) of ``target``.
    target : str
    """
    if verdicts.empty:
        return f"{target} has no significant cluster: there is nothing to judge."
    counts = verdicts["verdict"].value_counts()
    tally = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    text = f"{_plural(len(verdicts), 'cluster')} in {target}: {tally}."
    weakest = min(verdicts.itertuples(), key=_weakness)
    where = f"cluster {_number(weakest)} ({_location(weakest)})"
    alone = _ids(getattr(weakest, "vanishes_without", ""))
    removed = _ids(getattr(weakest, "fragility_removed", ""))
    if len(alone) == 1 or (not alone and len(removed) == 1):
        claim = f"vanishes without {(alone or removed)[0]}"
    elif alone:
        claim = f"vanishes without any one of {', '.join(alone)}"
    elif removed:
        claim = f"vanishes when {', '.join(removed[:-1])} and {removed[-1]} are removed together"
    else:
        claim = f"is {weakest.verdict}: {weakest.reason}"
    read = verdicts["evidence"].iloc[0]
    return f"{text} Weakest: {where} {claim}. Evidence read: {read}."


def _weakness(row):
    """Sort key: vanishing without one analysis, then fragility, then mean stability."""
    fragility = pd.to_numeric(getattr(row, "fragility", None), errors="coerce")
    stability = pd.to_numeric(getattr(row, "mean_stability", None), errors="coerce")
    return (
        not _ids(getattr(row, "vanishes_without", "")),
        float("inf") if pd.isna(fragility) else fragility,
        float("inf") if pd.isna(stability) else stability,
    )


def _ids(value):
    return [] if not isinstance(value, str) or not value else value.split(";")


def _number(row):
    return f"{'-' if row.tail == 'negative' else ''}{row.cluster_id}"


def _location(row):
    xyz = " ".join(f"{value:.0f}" for value in (row.peak_x, row.peak_y, row.peak_z))
    return f"{xyz}, {row.peak_label}"


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _clusters(table):
    if table.empty:
        return "<p>No significant cluster.</p>"
    table = table.map(lambda value: html.escape(value) if isinstance(value, str) else value)
    table["verdict"] = [f"<span class='verdict-{v}'>{v}</span>" for v in table["verdict"]]
    return table.to_html(index=False, escape=False, na_rep="", float_format="{:.3g}".format)


def _meanings(result, target):
    """Return a list of what each verdict means, with the thresholds the result's verdict used."""
    steps = [
        d
        for d in result.diagnostics
        if isinstance(d, RobustnessVerdict) and d.target_image == target
    ]
    step = steps[-1] if steps else RobustnessVerdict(target_image=target)
    thresholds = Thresholds(
        step.min_fragility, step.max_contribution, step.min_stability, step.min_fsn_per_analysis
    )
    items = "".join(
        f"<dt class='verdict-{verdict}'>{verdict}</dt><dd>{html.escape(meaning)}</dd>"
        for verdict, meaning in meanings(thresholds).items()
    )
    return f"<h3>What the verdicts mean</h3><dl>{items}</dl>"


def _replicates(result, target):
    table = result.tables.get(names.table_key(target, names.STABILITY, names.REPLICATES))
    if table is None:
        return "<p>No ResampledStability run on this target.</p>"
    return (
        f"<details><summary>{len(table)} replicates (click to show)</summary>"
        f"{table.to_html(index=False, float_format='{:.3f}'.format)}</details>"
    )


def _methods(result):
    description = html.escape(getattr(result, "description_", ""))
    references = html.escape(getattr(result, "bibtex_", ""))
    return f"<p>{description}</p><h3>References</h3><pre>{references}</pre>"
