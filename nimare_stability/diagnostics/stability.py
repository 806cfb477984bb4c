"""``ResampledStability``: how often each voxel stays significant under resampling."""

import warnings

import numpy as np

from nimare_stability.core import _nimare_private, grouping, names
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.validation import check_choice, check_number
from nimare_stability.diagnostics import stability_tables as tables
from nimare_stability.diagnostics.accumulator import StabilityAccumulator
from nimare_stability.diagnostics.base import ClusterDiagnostic, Outputs
from nimare_stability.diagnostics.docs import fill_doc
from nimare_stability.engines import EngineInputs, memory, resolve_engine
from nimare_stability.engines.batches import AUTO_BATCH_SIZE, judge_in_batches
from nimare_stability.resampling.policies import policy_name, resolve_policy
from nimare_stability.resampling.schedule import Schedule, capped_policy

#: ``n_resamples="auto"``: the default ``tol`` and ``max_resamples``.
DEFAULT_TOL = 0.01
DEFAULT_MAX_RESAMPLES = 2500
_CHOICES = {
    "resample_group": ("both", "group1", "group2"),
    "null": ("replicate", "shared"),
    "null_histogram": ("replicate", "full"),
}


@fill_doc
class ResampledStability(ClusterDiagnostic):
    """Map how often each voxel stays significant when the analyses are resampled.

    Each replicate keeps the analyses a resampling policy chooses, refits a deep copy of the
    result's estimator (seeded per replicate), re-applies a deep copy of the corrector that
    made ``target_image``, and marks its support: voxels with p < ``alpha`` in the target's
    own p values (or ``|z| > target_threshold``), minus clusters smaller than
    ``cluster_threshold``, signs kept. A voxel's stability is the fraction of replicates
    whose support holds it.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    %(target_image)s
    resampling_policy : :obj:`str` or :class:`~nimare_stability.policies.BasePolicy`, \
            default="leave_1_out"
        A name registered in the ``nimare_stability.policies`` entry-point group
        (``leave_1_out``, ``leave_k_out``, ``subsample``, ``leave_group_out``,
        ``subsample_groups``, ``stratified_subsample``), a policy object, or a
        scikit-learn splitter (train indices are the retained analyses).
    k, target_n, n_resamples : :obj:`int`, optional
        Policy parameters. ``target_n`` may be a fraction in (0, 1]; grouped policies count
        groups. Each must be None unless the named policy takes it. ``n_resamples="auto"``
        (random policies) draws replicates in batches of 50 until an upper 95% bound on the
        standard error of every cluster's mean stability and detection rate is below
        ``tol`` after two consecutive batches, and at least 200 are drawn (or
        ``max_resamples``); the result equals a run with ``n_resamples`` set to the number
        drawn (the summary table's ``n_resamples``; its ``precision`` is the largest bound
        reached). The rule controls the clusters' summaries, not each voxel's stability:
        the summary's ``max_voxel_se`` is the largest value of the ``_stat-se`` map.
    tol : :obj:`float`, optional
        With ``n_resamples="auto"`` only: the standard error to reach, in (0, 0.5]. None
        means 0.01.
    max_resamples : :obj:`int`, optional
        With ``n_resamples="auto"`` only: the most replicates to draw. None means 2500
        (fewer when the policy has fewer distinct subsets).
    groups, strata : :obj:`str` or :obj:`dict`, optional
        ``"study"``, a metadata or annotation column, or a mapping from analysis id to label.
        Only for policies that read them (grouped / stratified policies, scikit-learn
        splitters).
    resample_group : {"both", "group1", "group2"}, default="both"
        Pairwise estimators only: which group's analyses are resampled. With ``"both"``,
        subsample sizes apply within each group.
    %(alpha)s
    %(target_threshold)s
    %(cluster_threshold)s
    null : {"replicate", "shared"}, default="replicate"
        Monte Carlo null of each replicate (fast engine): its own, drawn from its own
        analyses (exact; common random numbers across replicates), or one per replicate size
        from random analyses (JALE's and NiMARE 0.22's approximation), redrawn every 50
        iterations: the first ``m`` of one random order for every size ``m``, so one pass
        of random foci serves every size.
    null_histogram : {"replicate", "full"}, default="replicate"
        Approximate-null histogram of a replicate (fast engine): its own, as a NiMARE fit and
        JALE compute it, or the full data's (the shortcut of NiMARE 0.22's
        ``ResampledStability``).
    %(n_iters)s
    %(engine)s
    %(random_state)s
        The seed used is also the summary table's ``random_state``.
    %(n_cores)s
    %(progress)s
    %(generate_description)s
    %(checkpoint_dir)s
        Its pieces: each replicate's support, each block of null iterations.

    Notes
    -----
    Outputs, with ``T = target_image`` and ``D = T_diag-ResampledStability``: maps ``D``
    (stability; negative values mark negative-tail support in two-tailed maps) and
    ``D_stat-se`` (sampling error); tables ``D_tab-summary``, ``D_tab-clusters``,
    ``D_tab-replicates`` and, for leave-one(-group)-out, ``D_tab-influence``. The run time
    is ``result.metadata[D_seconds]``.

    The resampling follows JALE's probabilistic ALE :footcite:p:`Frahm_Monimu_Hoffstaedter`
    and the idea of stability selection :footcite:p:`meinshausen2010stability`.

    Warns
    -----
    UserWarning
        When the target has NaN voxels (never supported), has no support at all, no Monte
        Carlo p value can fall below ``alpha``, replicates keep a single analysis, or
        ``alpha`` is set together with ``target_threshold`` (which replaces it).

    References
    ----------
    .. footbibliography::
    """

    def __init__(
        self,
        target_image=names.DEFAULT_TARGET,
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
        tol=None,
        max_resamples=None,
        checkpoint_dir=None,
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
        self.tol = tol
        self.max_resamples = max_resamples
        self.checkpoint_dir = checkpoint_dir

    name = names.STABILITY

    def _analyses(self, estimator):
        """Any fitted estimator; pairwise ones resample ``resample_group``."""
        return AnalysisSet(estimator, self.resample_group)

    def _judge(self, result, run, plan):
        """Draw the schedule, judge its replicates and count them into the stability map."""
        analyses, corrector, n_iters = run.analyses, run.corrector, run.n_iters
        self._check_null(n_iters)
        self._log_memory(run, plan)
        estimator = result.estimator
        engine = resolve_engine(
            self.engine,
            estimator,
            corrector,
            {"null": self.null, "null_histogram": self.null_histogram},
        )
        schedule = self._schedule(analyses, plan)
        replicate_seeds = plan.replicate_seeds(len(schedule))
        inputs = EngineInputs(
            estimator,
            corrector,
            analyses,
            run.rule,
            n_iters,
            self.null,
            self.null_histogram,
            plan.null_root,
        )
        accumulator = StabilityAccumulator(run.support, run.clusters, 0)
        with self._checkpoint(result, corrector, engine) as checkpoint:
            n_judged = judge_in_batches(
                engine(inputs),
                schedule,
                replicate_seeds,
                accumulator,
                _nimare_private.check_n_cores(self.n_cores),
                self.progress,
                checkpoint,
                self._tol,
            )
        schedule, replicate_seeds = schedule.head(n_judged), replicate_seeds[:n_judged]
        precision = accumulator.precision(schedule.n_possible_subsets())
        self._warn_imprecise(precision)

        settings = {
            "target_image": self.target_image,
            "resampling_policy": policy_name(self.resampling_policy),
            "n_resamples": len(schedule),
            "target_n": schedule.retained_size(),
            "k": self.k,
            "random_state": plan.seed,
            "null": self.null,
            "engine": engine.name,
            "n_iters": n_iters,
            "alpha": self.alpha,
            "tol": self._tol,
            "precision": precision,
        }
        maps, out_tables = self._outputs(
            accumulator, schedule, replicate_seeds, settings, analyses.membership
        )
        return Outputs(out_tables, maps, tables.vanish_shares(schedule, accumulator))

    def _memory(self, analyses, corrector, n_clusters, plan):
        """Estimate the engine's peak with every replicate of a batch judged at once."""
        engine = resolve_engine(
            self.engine,
            analyses.estimator,
            corrector,
            {"null": self.null, "null_histogram": self.null_histogram},
        )
        if self._auto:
            n_replicates = AUTO_BATCH_SIZE
        else:
            groups = grouping.analysis_labels(self.groups, "groups", analyses)
            strata = grouping.analysis_labels(self.strata, "strata", analyses)
            n_replicates = self._policy().get_n_splits(analyses.ids, groups, strata)
        values = memory.ma_values_per_analysis(analyses.estimator) or 0
        parts = engine.memory_parts(
            analyses.estimator, values, analyses.ids.size, n_replicates, self.n_cores
        )
        return memory.MemoryEstimate(parts, ("n_cores=1", "fewer replicates (n_resamples)"))

    def _schedule(self, analyses, plan):
        """Resolve the policy, groups and strata, draw the replicates and check them."""
        name = policy_name(self.resampling_policy)
        policy = self._policy()
        for parameter, reads in (("groups", policy.uses_groups), ("strata", policy.uses_strata)):
            spec = getattr(self, parameter)
            if spec is not None and not reads:
                raise ValueError(
                    f"{parameter}={grouping.describe(spec)} is not used by resampling_policy="
                    f"{name!r}; accepted: {parameter}=None, or a policy that reads {parameter}."
                )
        groups = grouping.analysis_labels(self.groups, "groups", analyses)
        strata = grouping.analysis_labels(self.strata, "strata", analyses)
        within = policy.within_strata() if analyses.membership is not None else None
        if within is not None:
            policy, strata = within, analyses.membership
        if self._auto:
            cap = DEFAULT_MAX_RESAMPLES if self.max_resamples is None else self.max_resamples
            policy = capped_policy(policy, name, cap, analyses.ids, groups, strata)
        schedule = Schedule.draw(policy, analyses.ids, groups, strata, plan.schedule_rng(), name)
        smallest = analyses.smallest_replicate(schedule.splits)
        floor = _nimare_private.estimator_min_analyses(analyses.estimator) or 1
        where = "" if analyses.membership is None else " of a group"
        if smallest < floor:
            raise ValueError(
                f"resampling_policy={name!r} keeps as few as {smallest} analyses{where} (of "
                f"{len(analyses.ids)}) in a replicate, but the estimator needs at least "
                f"{floor}; accepted: a schedule keeping more analyses (k, target_n)."
            )
        if smallest == 1:
            warnings.warn(
                f"resampling_policy={name!r} keeps only 1 analysis{where} in some replicates: "
                "their maps show that one analysis's foci, not a meta-analysis.",
                UserWarning,
                stacklevel=4,
            )
        return schedule

    def _outputs(self, accumulator, schedule, replicate_seeds, settings, membership=None):
        """Return the maps and tables of this run.

        ``membership`` (a contrast's ``"group1"``/``"group2"`` per analysis) adds the
        influence table's ``contrast_group`` column: the group(s) each row left out.
        """
        stability = accumulator.stability()
        error = tables.sampling_error(
            stability, len(schedule), schedule.n_possible_subsets(), schedule.is_exhaustive()
        )
        settings = {**settings, "max_voxel_se": float(error.max(initial=0.0))}
        target = self.target_image
        maps = {
            self._stem: stability.astype(np.float32),
            names.stat_map_key(target, self.name, names.STANDARD_ERROR): error.astype(np.float32),
        }
        out_tables = {
            names.table_key(target, self.name, names.SUMMARY): tables.summary_table(
                stability, settings
            ),
            names.table_key(target, self.name, names.CLUSTERS): tables.clusters_table(
                stability, accumulator
            ),
            names.table_key(target, self.name, names.REPLICATES): tables.replicates_table(
                schedule, replicate_seeds, accumulator
            ),
        }
        influence_rows = schedule.influence_rows()
        if influence_rows is not None:
            influence = tables.influence_table(*influence_rows, accumulator)
            if membership is not None:
                groups = [np.unique(membership[schedule.left_out(i)]) for i in range(len(schedule))]
                influence.insert(1, names.CONTRAST_GROUP, ["+".join(g) for g in groups])
            out_tables[names.table_key(target, self.name, names.INFLUENCE)] = influence
        return maps, out_tables

    @property
    def _auto(self):
        return isinstance(self.n_resamples, str) and self.n_resamples == "auto"

    @property
    def _tol(self):
        """The standard error ``n_resamples="auto"`` stops at (None for a fixed size)."""
        if not self._auto:
            return None
        return DEFAULT_TOL if self.tol is None else self.tol

    def _warn_imprecise(self, precision):
        if self._tol is not None and precision >= self._tol:
            warnings.warn(
                f"n_resamples='auto' stopped at max_resamples without reaching tol={self._tol}: "
                f"the largest cluster standard error is {precision:.4f}. Raise max_resamples "
                "for more precision.",
                UserWarning,
                stacklevel=4,
            )

    def _policy(self):
        """Return the policy object ``resampling_policy`` and its parameters name."""
        return resolve_policy(
            self.resampling_policy,
            k=self.k,
            target_n=self.target_n,
            n_resamples=None if self._auto else self.n_resamples,
        )

    def _check_params(self):
        for parameter, choices in _CHOICES.items():
            check_choice(parameter, getattr(self, parameter), choices)
        self._check_common()
        if isinstance(self.n_resamples, str) and not self._auto:
            raise ValueError(
                f"n_resamples={self.n_resamples!r} is not accepted; accepted: an int, None, or "
                "'auto'."
            )
        for parameter in ("tol", "max_resamples"):
            if getattr(self, parameter) is not None and not self._auto:
                raise ValueError(
                    f"{parameter}={getattr(self, parameter)!r} is only used with "
                    f"n_resamples='auto' (n_resamples={self.n_resamples!r}); accepted: "
                    f"{parameter}=None, or n_resamples='auto'."
                )
        check_number("tol", self.tol, 0, 0.5, bounds="(]")
        check_number("max_resamples", self.max_resamples, low=1, integer=True)
        self._check_checkpoint()
        self._policy()  # an unknown policy, or a parameter it does not take, fails here

    def _description(self, run):
        return (
            "The stability of the results was assessed with ResampledStability "
            f"(nimare-stability; resampling policy '{policy_name(self.resampling_policy)}'): "
            "the meta-analysis was refit, and re-corrected as the original result was, on "
            "each resampled set of analyses, and each voxel's stability was defined as the "
            f"fraction of replicates in which it remained significant ({self._support_text()}), "
            "following the resampling approach of JALE \\citep{Frahm_Monimu_Hoffstaedter}."
        )

    def _check_null(self, n_iters):
        if n_iters is None and self.null != "replicate":
            raise ValueError(
                f"null={self.null!r} applies to Monte Carlo FWE targets only; "
                f"target_image={self.target_image!r} has no Monte Carlo null. Accepted: "
                "null='replicate' (the default)."
            )
