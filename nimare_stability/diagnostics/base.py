"""What every cluster diagnostic of this package shares: checks and the baseline of a run.

A diagnostic judges the baseline clusters of ``target_image`` by refitting (through an
engine) on other sets of analyses. :class:`ClusterDiagnostic` checks the parameters they
share and prepares a :class:`Run`: the analyses, the corrector that made the target, the
support rule and the baseline clusters.
"""

import time
import warnings
from dataclasses import dataclass

from nimare.diagnostics import Diagnostics
from nimare.results import MetaResult

from nimare_stability.core import names as mapnames
from nimare_stability.core import targets
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.baseline import (
    baseline,
    check_target_values,
    support_rule,
    warn_empty_support,
)
from nimare_stability.core.validation import check_bool, check_choice, check_number
from nimare_stability.diagnostics import nimare_outputs as nimare_report
from nimare_stability.diagnostics.derived import derived_result
from nimare_stability.engines import ENGINES
from nimare_stability.resampling import seeds

#: The default ``target_image`` of every diagnostic (NiMARE's workflows' default target).
DEFAULT_TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


@dataclass(frozen=True)
class Run:
    """What a diagnostic's transform reads from the result it is given."""

    analyses: AnalysisSet
    corrector: object
    n_iters: int
    rule: object
    support: object
    clusters: list


class ClusterDiagnostic(Diagnostics):
    """Base of this package's diagnostics: shared checks and the baseline of a run.

    Subclasses set :attr:`name` (the ``_diag-<name>`` of their outputs), store every
    ``__init__`` argument as-is (NiMARE's workflows set parameters by name) and define
    ``transform``.
    """

    #: The diagnostic's name in its outputs' keys (``<target>_diag-<name>_…``).
    name = None

    def _transform(self, expid, label_map, sign, result, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} judges whole replicates in transform(); it has no "
            "per-analysis step for Diagnostics.transform to call."
        )

    @property
    def _stem(self):
        return mapnames.diagnostic_stem(self.target_image, self.name)

    def _check_common(self):
        """Check the parameters every diagnostic of this package takes."""
        check_choice("engine", self.engine, ("auto", *ENGINES))
        check_number("alpha", self.alpha, 0, 1, bounds="()", optional=False)
        check_number("n_iters", self.n_iters, low=1, integer=True)
        check_number("cluster_threshold", self.cluster_threshold, low=0, integer=True)
        check_number("target_threshold", self.target_threshold, low=0)
        check_number("n_cores", self.n_cores, integer=True, optional=False)
        check_bool("progress", self.progress)
        check_bool("generate_description", self.generate_description)
        if self.target_threshold is not None and self.alpha != 0.05:
            warnings.warn(
                f"alpha={self.alpha!r} is not used: target_threshold={self.target_threshold!r} "
                "replaces the support rule p < alpha by |z| > target_threshold.",
                UserWarning,
                stacklevel=4,
            )

    def _support_text(self):
        """Return the support rule in words, for the methods text ("p < 0.05", ...)."""
        rule = (
            f"p < {self.alpha}"
            if self.target_threshold is None
            else f"|z| > {self.target_threshold}"
        )
        if self.cluster_threshold:
            rule += f", in clusters of at least {self.cluster_threshold} voxels"
        return rule

    def _prepare(self, result, resample_group="both", single_group_cbma=False):
        """Check a MetaResult (see :func:`check_result`) against this diagnostic; return its Run.

        ``single_group_cbma``: refuse estimators other than single-group CBMA ones.
        """
        targets.check_target(result, self.target_image)
        check_target_values(result, self.target_image)
        analyses = AnalysisSet(result.estimator, resample_group)
        if single_group_cbma:
            self._check_single_group_cbma(analyses)
        corrector = targets.corrector_for(result, self.target_image, self.n_iters)
        n_iters = targets.monte_carlo_iterations(result, corrector)
        targets.warn_unreachable_alpha(n_iters, self.alpha)
        rule = support_rule(result, self)
        support, clusters = baseline(result, rule)
        warn_empty_support(support, rule)
        return Run(analyses, corrector, n_iters, rule, support, clusters)

    def _derive(self, result, run, tables, description, maps=None, counts=None):
        """Return a new result with this run's outputs and those NiMARE's report reads.

        ``counts``: (n analyses, n clusters) values of the per-analysis heatmap tables
        (``<stem>_tab-counts_tail-<tail>``), or None when the diagnostic has none.
        """
        report_maps, report_tables = nimare_report.cluster_outputs(
            result, self.target_image, run.clusters
        )
        if counts is not None:
            report_tables.update(
                nimare_report.counts_tables(
                    self.target_image, self.name, run.analyses.ids, run.clusters, counts
                )
            )
        return derived_result(
            result,
            self,
            {**report_maps, **(maps or {})},
            {**report_tables, **tables},
            description if self.generate_description else None,
        )

    def _seed_plan(self):
        """Return the run's :class:`~nimare_stability.resampling.seeds.SeedPlan`."""
        return seeds.SeedPlan(seeds.check_random_state(self.random_state))

    def _record(self, new, plan, started):
        """Record the run's seed (drawn when ``random_state`` is None) and its seconds.

        In ``new.metadata[<stem> + "_random_state"]`` and ``[<stem> + "_seconds"]``: tables
        stay identical across runs, and any run can be repeated.
        """
        new.metadata[f"{self._stem}_random_state"] = plan.seed
        new.metadata[f"{self._stem}_seconds"] = time.perf_counter() - started
        return new

    def _check_single_group_cbma(self, analyses):
        """Refuse estimators whose analyses carry no coordinates of one group."""
        if analyses.pairwise or not analyses.is_cbma:
            raise ValueError(
                f"{type(self).__name__} needs a single-group coordinate-based estimator "
                f"(ALE, MKDADensity, KDA, ...); got {type(analyses.estimator).__name__}. "
                "Accepted: the result of a CBMA estimator fit on one Studyset."
            )


def check_result(result):
    """Raise unless ``result`` is a :class:`~nimare.results.MetaResult` with an estimator."""
    if not isinstance(result, MetaResult):
        raise TypeError(
            f"result={type(result).__name__} ({result!r:.80}) is not accepted; accepted: a "
            "nimare.results.MetaResult, as returned by estimator.fit(...) or a corrector."
        )
    if getattr(result, "estimator", None) is None:
        raise ValueError(
            "result=MetaResult without an estimator is not accepted; accepted: a MetaResult "
            "returned by estimator.fit(...) or a corrector (it keeps the fitted estimator)."
        )
