"""The per-cluster verdict: every diagnostic's evidence joined, a verdict and its reason.

Checks, in order of precedence (a cluster's verdict is its first failed check):

- ``fragile``: it vanishes when fewer than ``min_fragility`` analyses are removed
  (Fragility; a leave-one-out influence table shows the single removals). Eickhoff et al.
  (2016) advise that no ALE cluster be driven by one or two experiments; a region resting
  on three analyses of thirty is no more a convergent finding (the planted case this
  verdict is tested on), so the default 4 asks a cluster to survive the removal of any two
  analyses and of its three largest contributors. A cluster that vanishes without one
  analysis is always ``fragile``.
- ``dominated``: one analysis contributes more than ``max_contribution`` of it (NiMARE's
  Jackknife); Eickhoff et al. (2016) advise that the most dominant experiment contribute
  less than half.
- ``unstable``: its mean stability is below ``min_stability`` (ResampledStability): it is
  significant in fewer than half of the replicates.
- ``file-drawer``: its fail-safe N per analysis is below ``min_fsn_per_analysis``
  (FailSafeN): fewer unpublished null analyses than there are published ones would sink it
  (Acar et al., 2018, add up to ten times as many).

These four are found, not assumed: each needs its diagnostic's evidence. ``robust`` is
claimed only when every check was evaluated and passed: the fragility is known to be at
least ``min_fragility`` (Fragility: every set of up to ``max_exact`` analyses and the
largest contributors up to ``max_removed``; or a leave-k-out schedule that left out every
set of ``min_fragility - 1``), Jackknife measured the largest contribution,
ResampledStability the mean stability and FailSafeN the fail-safe N. With less evidence the
verdict is ``undetermined`` and the reason says what was shown and what to add
("survives removing any one analysis; ...; not computed: ... add Fragility"). The
``evidence`` column names the diagnostics each row read.
"""

from math import comb

import pandas as pd
from nimare.diagnostics import Jackknife

from nimare_stability.core import names
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.baseline import baseline, support_rule
from nimare_stability.core.clusters import LOCATION
from nimare_stability.core.validation import check_number
from nimare_stability.diagnostics.base import ResultDiagnostic, check_result
from nimare_stability.diagnostics.derived import derived_result
from nimare_stability.diagnostics.failsafe import FailSafeN
from nimare_stability.diagnostics.fragility import Fragility
from nimare_stability.diagnostics.jackknife_evidence import has_jackknife, top_contributor
from nimare_stability.diagnostics.stability import ResampledStability
from nimare_stability.diagnostics.verdict_checks import Checks, Thresholds

#: Evidence columns each diagnostic gives the verdict: our name -> its clusters table's.
EVIDENCE = {
    ResampledStability: {"mean_stability": "mean", "detection_rate": "detection_rate"},
    Fragility: {
        "n_contributing": "n_contributing",
        "fragility": "fragility",
        "fragility_removed": "removed",
    },
    FailSafeN: {
        "fsn_mean": "fsn_mean",
        "fsn_min": "fsn_min",
        "fsn_per_analysis": "fsn_per_analysis",
        "fsn_censored": "censored",
    },
}
#: Our diagnostics whose evidence the verdict reads.
SOURCES = tuple(EVIDENCE)
#: The support parameters every joined diagnostic must share (the same clusters).
_RULE = ("alpha", "target_threshold", "cluster_threshold")


def robustness_table(
    result,
    target_image=None,
    min_fragility=4,
    max_contribution=0.5,
    min_stability=0.5,
    min_fsn_per_analysis=1.0,
):
    """Join every diagnostic's evidence on ``target_image``'s clusters into a verdict.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        Holds the outputs of any of :class:`~nimare_stability.ResampledStability`,
        :class:`~nimare_stability.Fragility`, :class:`~nimare_stability.FailSafeN` (run with
        the same ``alpha``, ``target_threshold`` and ``cluster_threshold``) and NiMARE's
        :class:`~nimare.diagnostics.Jackknife`, for ``target_image``.
    target_image : str, optional
        Defaults to the target of the last of this package's diagnostics run on ``result``.
    min_fragility : int, default=4
        Fewest removed analyses a ``robust`` cluster withstands plus one (see the module).
    max_contribution : float, default=0.5
        Largest Jackknife contribution of one analysis to a ``robust`` cluster.
    min_stability : float, default=0.5
        Lowest mean stability of a ``robust`` cluster.
    min_fsn_per_analysis : float, default=1.0
        Lowest mean fail-safe N, per analysis, of a ``robust`` cluster.

    Returns
    -------
    :class:`pandas.DataFrame`
        One row per baseline cluster: ``cluster_id``, ``tail``, the evidence columns of the
        diagnostics present (ResampledStability: ``mean_stability``, ``detection_rate``,
        ``vanishes_without``; Jackknife: ``top_analysis``, ``top_contribution``; Fragility:
        ``n_contributing``, ``fragility``, ``fragility_removed``; FailSafeN: ``fsn_mean``,
        ``fsn_min``, ``fsn_per_analysis``, ``fsn_censored``), ``evidence`` (the
        diagnostics read), ``verdict`` and ``reason``.
    """
    check_result(result)
    check_number("min_fragility", min_fragility, low=1, integer=True, optional=False)
    check_number("max_contribution", max_contribution, 0, 1, bounds="[]", optional=False)
    check_number("min_stability", min_stability, 0, 1, bounds="[]", optional=False)
    check_number("min_fsn_per_analysis", min_fsn_per_analysis, low=0, optional=False)
    thresholds = Thresholds(min_fragility, max_contribution, min_stability, min_fsn_per_analysis)
    runs = _runs(result, target_image)
    first = next(iter(runs.values()))
    target_image = first.target_image
    _, clusters = baseline(result, support_rule(result, first))
    n_analyses = AnalysisSet(result.estimator).ids.size
    evidence = _Evidence(result, target_image, runs, n_analyses)
    rows = []
    for cluster in clusters:
        row = {
            "cluster_id": cluster.cluster_id,
            "tail": cluster.tail,
            **dict(zip(LOCATION, cluster.location)),
            **evidence.of(cluster),
        }
        checks = Checks(row, evidence.units, n_analyses, thresholds, evidence.survived_k)
        row["evidence"] = evidence.read
        row["verdict"], row["reason"] = checks.verdict()
        rows.append(row)
    columns = ["cluster_id", "tail", *LOCATION, *evidence.columns, "evidence", "verdict", "reason"]
    return pd.DataFrame(rows, columns=columns)


class RobustnessVerdict(ResultDiagnostic):
    """Workflow step writing the verdict table ``<target_image>_tab-robustness``.

    List it after the diagnostics whose evidence it joins (``"jackknife"``,
    ``"resampledstability"``, ``"fragility"``, ``"failsafen"``).

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_image : str
        Set by the workflow for each target.
    min_fragility, max_contribution, min_stability, min_fsn_per_analysis
        See :func:`robustness_table`.
    target_threshold, cluster_threshold, n_cores : optional
        Accepted because NiMARE's workflows pass them to every diagnostic named by string;
        the verdict reads clusters from the diagnostics that ran before it.
    """

    name = names.ROBUSTNESS

    def __init__(
        self,
        target_image=names.DEFAULT_TARGET,
        min_fragility=4,
        max_contribution=0.5,
        min_stability=0.5,
        min_fsn_per_analysis=1.0,
        target_threshold=None,
        cluster_threshold=None,
        n_cores=1,
    ):
        self.target_image = target_image
        self.min_fragility = min_fragility
        self.max_contribution = max_contribution
        self.min_stability = min_stability
        self.min_fsn_per_analysis = min_fsn_per_analysis
        self.target_threshold = target_threshold
        self.cluster_threshold = cluster_threshold
        self.n_cores = n_cores

    def transform(self, result):
        """Return a new result with the ``_tab-robustness`` table added.

        Parameters
        ----------
        result : :obj:`~nimare.results.MetaResult`
            Holds the outputs of the diagnostics to join. Never modified.

        Returns
        -------
        :obj:`~nimare.results.MetaResult`
        """
        table = robustness_table(
            result,
            self.target_image,
            self.min_fragility,
            self.max_contribution,
            self.min_stability,
            self.min_fsn_per_analysis,
        )
        return derived_result(result, self, tables={names.robustness_key(self.target_image): table})


def _runs(result, target_image):
    """Return the last run of each of :data:`SOURCES` on the target (one support rule)."""
    ours = [d for d in result.diagnostics if isinstance(d, SOURCES)]
    if target_image is None and ours:
        target_image = ours[-1].target_image
    runs = {}
    for source in SOURCES:
        found = [d for d in ours if isinstance(d, source) and d.target_image == target_image]
        if found:
            runs[source] = found[-1]
    if not runs:
        ran = sorted({d.target_image for d in result.diagnostics if hasattr(d, "target_image")})
        raise ValueError(
            f"target_image={target_image!r}: no ResampledStability, Fragility or FailSafeN "
            f"output in this result; run one first (diagnostics run on: {ran or 'none'})."
        )
    rules = {source.__name__: tuple(getattr(d, p) for p in _RULE) for source, d in runs.items()}
    if len(set(rules.values())) > 1:
        raise ValueError(
            f"The diagnostics on target_image={target_image!r} used different support rules "
            f"({', '.join(_RULE)}: {rules}), so their clusters differ; accepted: the same "
            "alpha, target_threshold and cluster_threshold for every diagnostic."
        )
    return runs


class _Evidence:
    """The evidence columns of each diagnostic present, per cluster."""

    def __init__(self, result, target_image, runs, n_analyses):
        self.result = result
        self.target_image = target_image
        self.tables = {
            source: result.tables[names.table_key(target_image, d.name, names.CLUSTERS)]
            .set_index(["tail", "cluster_id"])
            .sort_index()
            for source, d in runs.items()
        }
        self.influence = result.tables.get(
            names.table_key(target_image, names.STABILITY, names.INFLUENCE)
        )
        self.jackknife = has_jackknife(result, target_image)
        self.units = ("analyses", n_analyses)
        if self.influence is not None and self.influence.columns[0] == "group":
            self.units = ("groups", len(self.influence))
        self.survived_k = self._exhaustive_k(result, runs.get(ResampledStability), n_analyses)
        read = [
            f"{source.__name__} ({d.resampling_policy})"
            if source is ResampledStability and isinstance(d.resampling_policy, str)
            else source.__name__
            for source, d in runs.items()
        ]
        if self.jackknife:
            read.insert(1 if ResampledStability in runs else 0, "Jackknife")
        #: The diagnostics whose outputs the verdict read, for the ``evidence`` column.
        self.read = ", ".join(read)
        self.columns = [
            column
            for source, columns in (
                (ResampledStability, [*EVIDENCE[ResampledStability], "vanishes_without"]),
                (Jackknife, ["top_analysis", "top_contribution"]),
                (Fragility, EVIDENCE[Fragility]),
                (FailSafeN, EVIDENCE[FailSafeN]),
            )
            if source in self.tables or (source is Jackknife and self.jackknife)
            for column in columns
        ]

    def of(self, cluster):
        """Return the evidence columns of one cluster."""
        key = (cluster.tail, cluster.cluster_id)
        row = {}
        for source, table in self.tables.items():
            found = table.loc[key]
            row.update({ours: found[theirs] for ours, theirs in EVIDENCE[source].items()})
        if ResampledStability in self.tables:
            row["vanishes_without"] = self._vanishes_without(cluster)
        if self.jackknife:
            row["top_analysis"], row["top_contribution"] = top_contributor(
                self.result, self.target_image, cluster
            )
        return row

    def _exhaustive_k(self, result, stability, n_analyses):
        """Return k when the stability run left out every set of k units (else None)."""
        if self.influence is not None:
            return 1
        if stability is None:
            return None
        key = names.table_key(self.target_image, stability.name, names.SUMMARY)
        summary = result.tables[key].iloc[0]
        k = summary["k"]
        if summary["resampling_policy"] != "leave_k_out" or k is None or pd.isna(k):
            return None
        return int(k) if summary["n_resamples"] == comb(n_analyses, int(k)) else None

    def _vanishes_without(self, cluster):
        """Return the units whose single removal sinks the cluster (None: no influence)."""
        if self.influence is None or cluster.label not in self.influence:
            return None
        units = self.influence.iloc[:, 0]
        return ";".join(units[self.influence[cluster.label].to_numpy() == 1].astype(str))
