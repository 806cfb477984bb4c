"""``ResampledStability``: how often each voxel stays significant when the analyses are
resampled."""

import numbers
import time
from dataclasses import dataclass

import numpy as np
from nimare.diagnostics import Diagnostics

from nimare_stability import _nimare_private, clusters, grouping, policies, seeds, tables, targets
from nimare_stability._results import derived_result
from nimare_stability.aggregate import StabilityAccumulator
from nimare_stability.analyses import AnalysisSet
from nimare_stability.engines import fast
from nimare_stability.refit import RefitEngine
from nimare_stability.support import SupportRule

DIAGNOSTIC = "ResampledStability"
_CHOICES = {
    "resample_group": ("both", "group1", "group2"),
    "null": ("replicate", "shared"),
    "null_histogram": ("replicate", "full"),
    "engine": ("auto", "refit", "fast"),
}


class ResampledStability(Diagnostics):
    """Map how often each voxel stays significant when the meta-analysis is refit on
    resampled sets of analyses.

    Each replicate keeps the analyses a resampling policy chooses, refits a deep copy of the
    result's estimator (seeded per replicate), re-applies a deep copy of the corrector that
    made ``target_image``, and marks its support: voxels with p < ``alpha`` in the target's
    own p values (or |z| > ``target_threshold``), minus clusters smaller than
    ``cluster_threshold``, signs kept. A voxel's stability is the fraction of replicates
    whose support holds it.

    Parameters
    ----------
    target_image : str, default="z_desc-size_level-cluster_corr-FWE_method-montecarlo"
        Map to judge.
    resampling_policy : str or policy, default="leave_1_out"
        A name registered in the ``nimare_stability.policies`` entry-point group
        (``leave_1_out``, ``leave_k_out``, ``subsample``, ``leave_group_out``,
        ``subsample_groups``, ``stratified_subsample``), a policy object, or a
        scikit-learn splitter (train indices are the retained analyses).
    k, target_n, n_resamples : int, optional
        Policy parameters. ``target_n`` may be a fraction in (0, 1]; grouped policies count
        groups.
    groups, strata : str or mapping, optional
        ``"study"``, a metadata or annotation column, or a mapping from analysis id to label.
    resample_group : {"both", "group1", "group2"}, default="both"
        Pairwise estimators only.
    alpha : float, default=0.05
        Support threshold on the target's p values.
    target_threshold : float, optional
        Replaces ``p < alpha`` by ``|z| > target_threshold`` on the target (NiMARE's
        workflows pass their ``voxel_thresh``, 1.65; on two-tailed maps that is p < .10).
    cluster_threshold : int, optional
        Drop support clusters smaller than this many voxels (face connectivity).
    null : {"replicate", "shared"}, default="replicate"
        Monte Carlo null of each replicate (fast engine): its own, drawn from its own
        analyses (exact; common random numbers across replicates), or one per replicate size
        from random analyses (JALE's and NiMARE 0.22's approximation).
    null_histogram : {"replicate", "full"}, default="replicate"
        Approximate-null histogram of a replicate (fast engine): its own, or the full data's
        (the JALE shortcut).
    n_iters : int, optional
        Monte Carlo iterations per replicate; None uses the target's corrector's.
    engine : {"auto", "refit", "fast"}, default="auto"
        ``"refit"`` fits and corrects every replicate with NiMARE (any estimator).
        ``"fast"``: ALE, MKDADensity or KDA with an approximate null, from MA maps cached once
        and a compiled Monte Carlo null. ``"auto"``: fast where supported, else refit.
    random_state : int or None, default=None
        Fixes the schedule and every replicate's seed. None draws one, recorded in the
        summary table.
    n_cores : int, default=1
        Parallel replicates (joblib); <= 0 uses every core. Results do not depend on it.
    progress : bool, default=True
        Show a progress bar.
    generate_description : bool, default=True
        Append a description and references to the result's boilerplate.

    Notes
    -----
    Outputs, with ``T = target_image`` and ``D = T + "_diag-ResampledStability"``: maps
    ``D`` (stability; negative values mark negative-tail support in two-tailed maps) and
    ``D + "_stat-se"`` (sampling error); tables ``D + "_tab-summary"``, ``"_tab-clusters"``,
    ``"_tab-replicates"`` and, for leave-one(-group)-out, ``"_tab-influence"``.
    """

    def __init__(
        self,
        target_image="z_desc-size_level-cluster_corr-FWE_method-montecarlo",
        resampling_policy="leave_1_out",
        k=None,
        target_n=None,
        n_resamples=None,
        groups=None,
        strata=None,
        resample_group="both",
        alpha=0.05,
        target_threshold=None,
        cluster_threshold=None,
        null="replicate",
        null_histogram="replicate",
        n_iters=None,
        engine="auto",
        random_state=None,
        n_cores=1,
        progress=True,
        generate_description=True,
    ):
        self.target_image = target_image
        self.resampling_policy = resampling_policy
        self.k = k
        self.target_n = target_n
        self.n_resamples = n_resamples
        self.groups = groups
        self.strata = strata
        self.resample_group = resample_group
        self.alpha = alpha
        self.target_threshold = target_threshold
        self.cluster_threshold = cluster_threshold
        self.null = null
        self.null_histogram = null_histogram
        self.n_iters = n_iters
        self.engine = engine
        self.random_state = random_state
        self.n_cores = n_cores
        self.progress = progress
        self.generate_description = generate_description

    def _transform(self, expid, label_map, sign, result, **kwargs):
        """Not used: stability is computed over whole replicates in :meth:`transform`."""
        raise TypeError("ResampledStability computes replicates in transform(), not per analysis.")

    def transform(self, result):
        """Compute voxelwise stability for ``result``.

        Parameters
        ----------
        result : :class:`~nimare.results.MetaResult`
            A fitted (and, for corrected targets, corrected) result. Never modified.

        Returns
        -------
        :class:`~nimare.results.MetaResult`
            A new result holding ``result``'s maps and tables plus this diagnostic's.
        """
        started = time.perf_counter()
        self._check_params()
        targets.check_target(result, self.target_image)
        estimator = result.estimator
        analyses = AnalysisSet(estimator, self.resample_group)
        corrector = targets.corrector_for(result, self.target_image, self.n_iters)
        n_iters = targets.monte_carlo_iterations(result, corrector)
        targets.warn_unreachable_alpha(n_iters, self.alpha)
        engine = self._resolve_engine(estimator, corrector)

        rule = self._support_rule(result)
        baseline, baseline_clusters = self.baseline(result, rule)

        plan = seeds.SeedPlan(seeds.check_random_state(self.random_state))
        schedule = self._schedule(analyses, plan)
        self._check_schedule(schedule.splits, estimator, analyses)
        replicate_seeds = plan.replicate_seeds(len(schedule.splits))

        accumulator = StabilityAccumulator(baseline, baseline_clusters, len(schedule.splits))
        if engine == "fast":
            runner = fast.FastEngine(
                estimator, corrector, rule, self.null, self.null_histogram, n_iters,
                plan.null_root,
            )
        else:
            runner = RefitEngine(estimator, corrector, analyses, rule)
        n_cores = _nimare_private.check_n_cores(self.n_cores)
        for index, support in runner.run(schedule.splits, replicate_seeds, n_cores, self.progress):
            accumulator.add(index, support)

        settings = {
            "target_image": self.target_image,
            "resampling_policy": _policy_name(self.resampling_policy),
            "n_resamples": len(schedule.splits),
            "target_n": schedule.ask("retained_size"),
            "k": self.k,
            "random_state": plan.seed,
            "null": self.null,
            "engine": engine,
            "n_iters": n_iters,
            "alpha": self.alpha,
        }
        maps, out_tables = self._outputs(accumulator, schedule, replicate_seeds, settings)
        new = derived_result(
            result, self, maps, out_tables,
            _description(self) if self.generate_description else None,
        )
        new.metadata[f"{DIAGNOSTIC}_seconds"] = time.perf_counter() - started
        return new

    def _schedule(self, analyses, plan):
        """Resolve the policy, groups and strata, and draw the replicates."""
        groups = grouping.analysis_labels(self.groups, "groups", analyses)
        strata = grouping.analysis_labels(self.strata, "strata", analyses)
        policy = policies.resolve_policy(
            self.resampling_policy, k=self.k, target_n=self.target_n, n_resamples=self.n_resamples
        )
        if analyses.membership is not None and type(policy) is policies.Subsample:
            # Pairwise, both groups: subsample sizes apply within each group.
            policy = policies.SubsampleWithinStrata(self.target_n, self.n_resamples)
            strata = analyses.membership
        splits = list(
            policy.split(analyses.ids, groups=groups, strata=strata, rng=plan.schedule_rng())
        )
        return Schedule(policy, analyses.ids, groups, strata, splits)

    def _outputs(self, accumulator, schedule, replicate_seeds, settings):
        """Return the maps and tables of this run."""
        stability = accumulator.stability()
        n_replicates = len(schedule.splits)
        error = tables.sampling_error(
            stability, n_replicates, schedule.ask("n_possible_subsets"),
            bool(schedule.ask("is_exhaustive")),
        )
        name = f"{self.target_image}_diag-{DIAGNOSTIC}"
        maps = {name: stability.astype(np.float32), f"{name}_stat-se": error.astype(np.float32)}
        out_tables = {
            f"{name}_tab-summary": tables.summary_table(stability, settings),
            f"{name}_tab-clusters": tables.clusters_table(stability, accumulator),
            f"{name}_tab-replicates": tables.replicates_table(
                schedule.splits, replicate_seeds, schedule.ids, accumulator
            ),
        }
        influence_rows = schedule.influence_rows()
        if influence_rows is not None:
            out_tables[f"{name}_tab-influence"] = tables.influence_table(
                *influence_rows, accumulator
            )
        return maps, out_tables

    def _support_rule(self, result):
        return SupportRule(
            self.target_image,
            targets.z_tail(self.target_image, result.estimator),
            np.asanyarray(result.masker.mask_img_.dataobj).astype(bool),
            self.alpha,
            self.target_threshold,
            self.cluster_threshold,
        )

    def baseline(self, result, rule=None):
        """Return the baseline :class:`~nimare_stability.support.Support` of ``result`` and
        its clusters (list of :class:`~nimare_stability.clusters.Cluster`)."""
        rule = rule or self._support_rule(result)
        support = rule(result.maps)
        return support, clusters.baseline_clusters(result, self.target_image, support, rule.mask)

    def _check_params(self):
        for parameter, choices in _CHOICES.items():
            value = getattr(self, parameter)
            if value not in choices:
                raise ValueError(
                    f"{parameter}={value!r} is not accepted; accepted: "
                    f"{', '.join(map(repr, choices))}."
                )
        _check_number("alpha", self.alpha, low=0, high=1, integer=False)
        _check_number("n_iters", self.n_iters, low=1, integer=True)
        _check_number("cluster_threshold", self.cluster_threshold, low=0, integer=True)
        _check_number("target_threshold", self.target_threshold, low=0, integer=False)
        _check_number("n_cores", self.n_cores, low=None, integer=True, optional=False)

    def _resolve_engine(self, estimator, corrector):
        fast_ok = fast.supports(estimator, corrector)
        if self.engine == "fast" and not fast_ok:
            raise ValueError(
                f"engine='fast' does not support {type(estimator).__name__} with "
                f"{type(corrector).__name__ if corrector else 'no corrector'}; accepted: ALE, "
                "MKDADensity or KDA with null_method='approximate', corrected by FDR, "
                "Bonferroni or Monte Carlo FWE (or uncorrected). Use engine='refit' or 'auto'."
            )
        engine = "fast" if self.engine == "fast" or (self.engine == "auto" and fast_ok) else "refit"
        for parameter, default in (("null", "replicate"), ("null_histogram", "replicate")):
            if engine == "refit" and getattr(self, parameter) != default:
                raise ValueError(
                    f"{parameter}={getattr(self, parameter)!r} needs the fast engine, which "
                    f"does not apply here (engine={self.engine!r}, "
                    f"{type(estimator).__name__}); accepted: {parameter}={default!r}."
                )
        return engine

    def _check_schedule(self, schedule, estimator, analyses):
        name = _policy_name(self.resampling_policy)
        if not schedule:
            raise ValueError(f"resampling_policy={name!r} produced no replicates.")
        floor = _nimare_private.estimator_min_analyses(estimator) or 1
        for retained in schedule:
            analyses.check_replicate(retained, floor, name)


def _description(diagnostic):
    return (
        "The stability of the results was assessed with ResampledStability "
        f"(nimare-stability; resampling policy '{_policy_name(diagnostic.resampling_policy)}'): "
        "the meta-analysis was refit, and re-corrected as the original result was, on each "
        "resampled set of analyses, and each voxel's stability was defined as the fraction of "
        f"replicates in which it remained significant (p < {diagnostic.alpha}), following the "
        "resampling approach of JALE \\citep{Frahm_Monimu_Hoffstaedter}."
    )


def _policy_name(policy):
    return policy if isinstance(policy, str) else type(policy).__name__


@dataclass(frozen=True)
class Schedule:
    """The replicates of a run and the policy, ids, groups and strata that drew them."""

    policy: object
    ids: np.ndarray
    groups: np.ndarray
    strata: np.ndarray
    splits: list

    def ask(self, method):
        """Call an optional method of our policies; None for a policy that lacks it."""
        method = getattr(self.policy, method, None)
        return None if method is None else method(self.ids, groups=self.groups, strata=self.strata)

    def influence_rows(self):
        """(row name, row labels) of the influence table, or None unless leave-one-out."""
        if isinstance(self.policy, policies.LeaveOneOut):
            labels = self.ids
        elif isinstance(self.policy, policies.LeaveGroupOut):
            labels = self.groups
        else:
            return None
        everything = np.arange(self.ids.size)
        left_out = [labels[np.setdiff1d(everything, kept)][0] for kept in self.splits]
        return ("id" if labels is self.ids else "group"), left_out


def _check_number(name, value, low=None, high=None, integer=False, optional=True):
    if value is None and optional:
        return
    kind = numbers.Integral if integer else numbers.Real
    accepted = f"{'an int' if integer else 'a number'}" + (
        f" in ({low}, {high})" if high is not None else f" >= {low}" if low is not None else ""
    )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise TypeError(f"{name}={value!r} is not accepted; accepted: {accepted}.")
    too_low = low is not None and (value <= low if high is not None else value < low)
    if too_low or (high is not None and value >= high):
        raise ValueError(f"{name}={value!r} is out of range; accepted: {accepted}.")
