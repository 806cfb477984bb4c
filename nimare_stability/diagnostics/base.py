"""The template every cluster diagnostic of this package follows, and what it shares.

A diagnostic judges the baseline clusters of ``target_image`` by asking an engine to judge
replicates: other sets of analyses, refit and corrected as the baseline was.
:meth:`ClusterDiagnostic.transform` runs the same six steps for every one of them:

1. *check* the result and the parameters (:meth:`~ClusterDiagnostic._check_params`);
2. *prepare* a :class:`Run`: the analyses, the corrector that made the target, the support
   rule, the baseline support and its clusters;
3. *seed*: one :class:`~nimare_stability.resampling.seeds.SeedPlan` from ``random_state``;
4. *judge* (:meth:`~ClusterDiagnostic._judge`): the diagnostic's own work, returning its
   :class:`Outputs`; before the costly part it logs the memory it will need
   (:meth:`~ClusterDiagnostic._log_memory`);
5. *derive* a new result holding them, plus what NiMARE's report reads;
6. *record* the seed used and the run time in the new result's metadata.
"""

import contextlib
import time
import warnings
from abc import abstractmethod
from dataclasses import dataclass, field

from nimare.diagnostics import Diagnostics
from nimare.results import MetaResult

from nimare_stability.core import names, targets
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.baseline import (
    baseline,
    check_target_values,
    support_rule,
    warn_empty_support,
)
from nimare_stability.core.validation import (
    check_bool,
    check_choice,
    check_directory,
    check_number,
)
from nimare_stability.diagnostics import nimare_outputs
from nimare_stability.diagnostics.derived import derived_result
from nimare_stability.engines import ENGINES, memory
from nimare_stability.engines.checkpoint import Checkpoint, fingerprint
from nimare_stability.resampling import seeds


@dataclass(frozen=True)
class Run:
    """What a diagnostic's transform reads from the result it is given."""

    analyses: AnalysisSet
    corrector: object
    n_iters: int
    rule: object
    support: object
    clusters: list


@dataclass
class Outputs:
    """What a diagnostic's judging step adds to the result.

    Parameters
    ----------
    tables, maps : :obj:`dict`
        Name -> table (:class:`pandas.DataFrame`) or masked map.
    counts : array of shape (n analyses, n clusters), optional
        Values of the per-analysis heatmap tables NiMARE's report draws
        (:func:`~nimare_stability.core.names.counts_key`); None when there are none.
    """

    tables: dict
    maps: dict = field(default_factory=dict)
    counts: object = None


class ResultDiagnostic(Diagnostics):
    """A NiMARE diagnostic of this package: it judges a whole result in ``transform``.

    Subclasses set :attr:`name`, the ``_diag-<name>`` of their outputs, and store every
    ``__init__`` argument as-is (NiMARE's workflows set parameters by name).
    """

    #: The diagnostic's name in its outputs' keys (``<target>_diag-<name>_…``).
    name = None

    def _transform(self, expid, label_map, sign, result, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} judges whole results in transform(); it has no "
            "per-analysis step for Diagnostics.transform to call."
        )


class ClusterDiagnostic(ResultDiagnostic):
    """Base of the diagnostics that judge the baseline clusters through an engine.

    :meth:`transform` is the template (see the module); subclasses fill its hooks
    :meth:`_check_params`, :meth:`_judge` and :meth:`_description`, and may narrow which
    estimators they take (:meth:`_analyses`).
    """

    def transform(self, result):
        """Judge the baseline clusters of ``target_image``.

        Parameters
        ----------
        result : :obj:`~nimare.results.MetaResult`
            A fitted (and corrected) result. Never modified.

        Returns
        -------
        :obj:`~nimare.results.MetaResult`
            A new result holding ``result``'s maps and tables plus this diagnostic's.
        """
        started = time.perf_counter()
        check_result(result)
        self._check_params()
        run = self._prepare(result)
        plan = seeds.SeedPlan(seeds.check_random_state(self.random_state))
        outputs = self._judge(result, run, plan)
        new = self._derive(result, run, outputs)
        new.metadata[self._metadata_key(names.RANDOM_STATE)] = plan.seed
        new.metadata[self._metadata_key(names.SECONDS)] = time.perf_counter() - started
        return new

    @abstractmethod
    def _check_params(self):
        """Check this diagnostic's parameters (before any costly work); raise if bad."""

    @abstractmethod
    def _judge(self, result, run, plan):
        """Do the diagnostic's own work on a prepared :class:`Run`; return its :class:`Outputs`.

        ``plan`` is the run's :class:`~nimare_stability.resampling.seeds.SeedPlan`.
        """

    def _log_memory(self, run, plan):
        """Log the memory this run will need (:meth:`_memory`); warn if the machine has less.

        Called by :meth:`_judge` once its parameters are checked, before its costly work.
        """
        estimate = self._memory(run.analyses, run.corrector, len(run.clusters), plan)
        if estimate is not None:
            memory.log_estimate(estimate, type(self).__name__)

    def _memory(self, analyses, corrector, n_clusters, plan):
        """Return the :class:`~nimare_stability.engines.memory.MemoryEstimate` of a run.

        Parameters
        ----------
        analyses : :class:`AnalysisSet`
        corrector : :class:`~nimare.correct.Corrector` or None
            The corrector that made the target.
        n_clusters : :obj:`int` or None
            Baseline clusters (None: not known yet).
        plan : :class:`~nimare_stability.resampling.seeds.SeedPlan`

        Returns None (the default) for diagnostics that need little.
        """
        return None

    @abstractmethod
    def _description(self, run):
        """Return the sentence the boilerplate gains (``generate_description``)."""

    #: Why the diagnostic refuses pairwise estimators (see :meth:`_analyses`).
    _not_pairwise = "it removes or adds analyses of one group."

    def _analyses(self, estimator):
        """Return the :class:`AnalysisSet` of a fitted estimator that this diagnostic judges.

        By default single-group coordinate-based estimators only: their analyses' foci are
        what is removed or added.
        """
        analyses = AnalysisSet(estimator)
        if analyses.pairwise:
            raise ValueError(
                f"{type(self).__name__} does not judge a pairwise meta-analysis "
                f"({type(estimator).__name__}): {self._not_pairwise} Accepted: the result of a "
                "CBMA estimator fit on one Studyset; ResampledStability and Jackknife judge "
                "subtractions."
            )
        if not analyses.is_cbma:
            raise ValueError(
                f"{type(self).__name__} needs a single-group coordinate-based estimator "
                f"(ALE, MKDADensity, KDA, ...); got {type(estimator).__name__}. "
                "Accepted: the result of a CBMA estimator fit on one Studyset."
            )
        return analyses

    @property
    def _stem(self):
        return names.diagnostic_stem(self.target_image, self.name)

    def _metadata_key(self, what):
        return names.metadata_key(self.target_image, self.name, what)

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

    def _check_checkpoint(self):
        """Check ``checkpoint_dir``: a directory path this process can write, and a fixed seed."""
        check_directory(
            "checkpoint_dir",
            self.checkpoint_dir,
            "a directory path, new or holding the checkpoint of this same run",
        )
        if self.checkpoint_dir is not None and self.random_state is None:
            raise ValueError(
                f"checkpoint_dir={str(self.checkpoint_dir)!r} needs a fixed random_state: a "
                "run seeded from fresh entropy cannot be resumed. Accepted: an int "
                "random_state, or checkpoint_dir=None."
            )

    def _checkpoint(self, result, corrector, engine):
        """Return a context manager holding this run's checkpoint (None without one).

        ``engine`` is the engine class the run resolved to (the fingerprint records it).
        The checkpoint directory stays locked until the block ends.
        """
        if self.checkpoint_dir is None:
            return contextlib.nullcontext()
        run = fingerprint(result, self, corrector, engine.name)
        return Checkpoint.open(self.checkpoint_dir, run)

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

    def _prepare(self, result):
        """Check a result against this diagnostic's target; return its :class:`Run`."""
        targets.check_target(result, self.target_image)
        check_target_values(result, self.target_image)
        analyses = self._analyses(result.estimator)
        corrector = targets.corrector_for(result, self.target_image, self.n_iters)
        n_iters = targets.monte_carlo_iterations(result, corrector)
        targets.warn_unreachable_alpha(n_iters, self.alpha)
        rule = support_rule(result, self)
        support, clusters = baseline(result, rule)
        warn_empty_support(support, rule)
        return Run(analyses, corrector, n_iters, rule, support, clusters)

    def _derive(self, result, run, outputs):
        """Return a new result with ``outputs`` and what NiMARE's report reads."""
        report_maps, report_tables = nimare_outputs.cluster_outputs(
            result, self.target_image, run.clusters
        )
        if outputs.counts is not None:
            report_tables.update(
                nimare_outputs.counts_tables(
                    self.target_image, self.name, run.analyses.ids, run.clusters, outputs.counts
                )
            )
        return derived_result(
            result,
            self,
            {**report_maps, **outputs.maps},
            {**report_tables, **outputs.tables},
            self._description(run) if self.generate_description else None,
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
