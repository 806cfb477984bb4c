"""``Fragility``: the fewest analyses whose removal makes a cluster vanish."""

import numpy as np
import pandas as pd
from nimare.meta.cbma.ale import ALESubtraction
from scipy import sparse

from nimare_stability.core import _nimare_private, grouping, names
from nimare_stability.core._nimare_private import pairwise as private_pairwise
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.clusters import LOCATION
from nimare_stability.core.validation import check_number
from nimare_stability.diagnostics.base import ClusterDiagnostic, Outputs
from nimare_stability.diagnostics.docs import fill_doc
from nimare_stability.diagnostics.fragility_screen import (
    NEAR_MIN_ANALYSES,
    NEAR_SHARE,
    Screen,
    baseline_null,
    contrast_bound,
    survival_bound,
)
from nimare_stability.diagnostics.fragility_search import (
    CONFIRM_BATCH,
    CONFIRM_BATCH_COMMON_NULLS,
    Search,
    Units,
)
from nimare_stability.engines import (
    DRAWS_NULLS,
    TAKES_NULLS,
    EngineInputs,
    memory,
    resolve_engine,
)
from nimare_stability.engines.kernels import collect_ma_maps
from nimare_stability.engines.keyed import Judge

#: Monte Carlo iterations of the screening null (at most the run's own).
SCREEN_ITERATIONS = 1000
COLUMNS = [
    "cluster_id",
    "tail",
    *LOCATION,
    "n_contributing",
    "n_contributing_studies",
    "fragility",
    "exact",
    "removed",
]


@fill_doc
class Fragility(ClusterDiagnostic):
    """The fewest analyses (or groups) whose removal makes each baseline cluster vanish.

    A cluster vanishes when none of its voxels is in the support of the meta-analysis refit
    without the removed analyses and corrected as the baseline was (the support rule and
    engines of :class:`~nimare_stability.ResampledStability`). Only analyses that
    contribute to a cluster (nonzero modeled activation inside it) are candidates. Every set
    of up to ``max_exact`` contributors is tried (smallest first); beyond that, the
    ``k`` largest contributors for ``k`` up to ``max_removed`` (a greedy upper bound).

    .. versionadded:: 0.1.0

    Parameters
    ----------
    %(target_image)s
    groups : :obj:`str` or :obj:`dict`, optional
        Remove groups instead of analyses: ``"study"``, a metadata or annotation column, or a
        mapping from analysis id to label.
    max_exact : :obj:`int`, default=2
        Sets of up to this many analyses are searched exhaustively.
    max_removed : :obj:`int`, default=10
        Largest set tried; a cluster that survives is reported as ``"> max_removed"``.
    %(alpha)s
    %(target_threshold)s
    %(cluster_threshold)s
    %(n_iters)s
    %(engine)s
    %(random_state)s
    %(n_cores)s
    %(progress)s
    %(generate_description)s
    %(checkpoint_dir)s
        Its pieces: each candidate set's support, screened and confirmed, and the blocks of
        null iterations and thresholds of each batch of sets.

    Notes
    -----
    Table ``T_diag-Fragility_tab-clusters``, with ``T = target_image``: ``cluster_id``, ``tail``,
    ``n_contributing`` (analyses), ``n_contributing_studies``, ``fragility`` (an int, or
    ``"> max_removed"``), ``exact`` (True when every smaller set was tried) and ``removed``
    (the ids or group labels, ``;``-joined).

    An ``ALESubtraction`` (group 1 minus group 2) is searched over the analyses (or groups)
    of both: a set may remove from either group, never all of one, and each candidate is
    refit with its own permutations (the pairwise engine, or NiMARE's refits). Its table
    adds ``removed_groups``: the group(s) of each removed unit (``"group1"``,
    ``"group2"``, or ``"group1+group2"`` for a study in both), aligned with ``removed``.

    With the fast or pairwise engine and a Monte Carlo target, candidate sets are screened
    with a cheaper null: in runs of at least :data:`NEAR_MIN_ANALYSES` analyses, a set that
    removes at most :data:`NEAR_SHARE` of them, against the baseline's own null maxima
    (for ALE cluster-size and subtraction voxel-level targets, skipping the clusters a
    bound shows it leaves standing, :mod:`~nimare_stability.diagnostics.fragility_screen`);
    any other set, against
    ``null="shared"`` at most :data:`SCREEN_ITERATIONS` iterations (fast engine) or its own
    permutations (pairwise engine: no cheaper null). The reported set is
    confirmed with each replicate's own null at the full ``n_iters``. A set
    the screen misses is not tried again.
    """

    name = names.FRAGILITY
    _not_pairwise = (
        "its contrast search reads the MA maps of an ALESubtraction; other pairwise "
        "estimators have none to read."
    )

    def __init__(
        self,
        target_image=names.DEFAULT_TARGET,
        groups=None,
        max_exact=2,
        max_removed=10,
        alpha=0.05,
        target_threshold=None,
        cluster_threshold=None,
        n_iters=None,
        engine="auto",
        random_state=None,
        n_cores=1,
        progress=True,
        generate_description=True,
        checkpoint_dir=None,
    ):
        self.target_image = target_image
        self.groups = groups
        self.max_exact = max_exact
        self.max_removed = max_removed
        self.alpha = alpha
        self.target_threshold = target_threshold
        self.cluster_threshold = cluster_threshold
        self.n_iters = n_iters
        self.engine = engine
        self.random_state = random_state
        self.n_cores = n_cores
        self.progress = progress
        self.generate_description = generate_description
        self.checkpoint_dir = checkpoint_dir

    def _judge(self, result, run, plan):
        """Search each cluster's smallest sinking set; return the clusters table."""
        self._log_memory(run, plan)
        analyses = run.analyses
        labels = grouping.analysis_labels(self.groups, "groups", analyses)
        units = Units(analyses.ids if labels is None else labels, analyses.membership)
        ma_maps, rows = _ma_maps(analyses)
        per_analysis = cluster_contributions(ma_maps, rows, run.clusters)
        contributions = units.sum(per_analysis)
        floor = _nimare_private.estimator_min_analyses(analyses.estimator) or 1
        engine = resolve_engine(self.engine, analyses.estimator, run.corrector, {})
        search = Search(
            units,
            run.clusters,
            contributions,
            units.group_sizes.sum(0) - floor,
            _confirm_batch(engine),
            ahead=engine.can(DRAWS_NULLS),
        )
        with self._checkpoint(result, run.corrector, engine) as checkpoint:
            null = None
            if analyses.ids.size >= NEAR_MIN_ANALYSES:
                null = baseline_null(result.estimator)
            screen, exact, near = self._judges(run, plan, engine, checkpoint, null)
            screen = Screen(screen, units, run.clusters)
            if screen.judge is not exact or near is not None:  # near sets are confirmed
                exact = Screen(exact, units, run.clusters)
            else:
                exact = screen
            if near is not None:
                screen.near = near
                screen.near_limit = int(NEAR_SHARE * analyses.ids.size)
                if analyses.pairwise:
                    screen.bound = contrast_bound(self, run, units, near.engine, null[0])
                else:
                    screen.bound = survival_bound(self, run, units, ma_maps, rows, null[1])
            search.run(screen, exact, self.max_exact, self.max_removed, self.progress)

        study_of = analyses.study_of()
        table = pd.DataFrame(
            [
                [
                    cluster.cluster_id,
                    cluster.tail,
                    *cluster.location,
                    len(contributing),
                    len({study_of[i] for i in contributing}),
                    *search.outcome(index, self.max_removed, self.max_exact),
                ]
                for index, cluster in enumerate(run.clusters)
                for contributing in [analyses.ids[per_analysis[:, index] > 0]]
            ],
            columns=[*COLUMNS, "removed_groups"],
        )
        if not analyses.pairwise:  # one group: nothing to say
            table = table.drop(columns="removed_groups")
        key = names.table_key(self.target_image, self.name, names.CLUSTERS)
        return Outputs({key: table}, counts=search.removed_matrix())

    def _description(self, run):
        return (
            "The fragility of each cluster, the fewest analyses whose removal makes it vanish, "
            "was searched with Fragility (nimare-stability): every set of up to "
            f"{self.max_exact} contributing analyses"
            f"{' of either group' if run.analyses.pairwise else ''}, then the largest "
            f"contributors up to {self.max_removed}, each refit and corrected as the original "
            "result was."
        )

    def _analyses(self, estimator):
        """Accept a single-group CBMA estimator or an ``ALESubtraction``."""
        if isinstance(estimator, ALESubtraction):
            return AnalysisSet(estimator)
        return super()._analyses(estimator)

    def _check_params(self):
        self._check_common()
        check_number("max_exact", self.max_exact, low=0, integer=True, optional=False)
        check_number(
            "max_removed",
            self.max_removed,
            low=max(self.max_exact, 1),
            integer=True,
            optional=False,
            context=f" (max_exact={self.max_exact})",
        )
        self._check_checkpoint()

    def _memory(self, analyses, corrector, n_clusters, plan):
        """Estimate the engine's peak while it confirms a batch of sets per cluster."""
        engine = resolve_engine(self.engine, analyses.estimator, corrector, {})
        n_replicates = _confirm_batch(engine) * (n_clusters or 1)
        values = memory.ma_values_per_analysis(analyses.estimator) or 0
        parts = engine.memory_parts(
            analyses.estimator, values, analyses.ids.size, n_replicates, self.n_cores
        )
        return memory.MemoryEstimate(parts, ("n_cores=1",))

    def _judges(self, run, plan, engine, checkpoint, null):
        """Return the screening, the exact and the near judge.

        The screening judge is the exact one when screening is exact, else the exact one's
        engine (sharing its MA maps) drawing shared nulls; the near one (None when
        ``null``, the baseline's null maxima, is None or not taken) is that engine reading
        ``null`` for every replicate. Each keeps its work in its own scope of
        ``checkpoint`` (None: no checkpoint).
        """
        analyses, corrector = run.analyses, run.corrector
        n_cores = _nimare_private.check_n_cores(self.n_cores)

        def store(scope):
            return None if checkpoint is None else checkpoint.scope(scope)

        inputs = EngineInputs(
            estimator=analyses.estimator,
            corrector=corrector,
            analyses=analyses,
            rule=run.rule,
            n_iters=run.n_iters,
            null="replicate",
            null_seed=plan.null_root,
        )
        exact = Judge(engine(inputs), plan.keyed_seed, n_cores, store=store("exact"))
        screen = exact
        if run.n_iters is not None and engine.can(DRAWS_NULLS):
            n_screen = min(run.n_iters, SCREEN_ITERATIONS)
            shared = exact.engine.with_inputs(null="shared", n_iters=n_screen)
            screen = Judge(shared, plan.keyed_seed, n_cores, store=store("screen"))
        if run.n_iters is None or null is None or not engine.can(TAKES_NULLS):
            return screen, exact, None

        def maxima(retained):
            return tuple(
                None if values is None else np.tile(values, (len(retained), 1)) for values in null
            )

        near = exact.engine.with_null_maxima(maxima)
        return screen, exact, Judge(near, plan.keyed_seed, n_cores, store=store("near"))


def _confirm_batch(engine):
    """Return how many sets per cluster ``engine`` (a class) confirms per pass."""
    return CONFIRM_BATCH_COMMON_NULLS if engine.can(DRAWS_NULLS) else CONFIRM_BATCH


def _ma_maps(analyses):
    """Return the MA maps of ``analyses`` (sparse, one row each) and each id's row.

    A contrast's pools both groups' maps, group 1's rows first.
    """
    if not analyses.pairwise:
        _, ma_maps, _, rows = collect_ma_maps(analyses.estimator)
        return ma_maps, rows
    groups = private_pairwise.pairwise_ma_maps(analyses.estimator)
    ma_maps = sparse.vstack([sparse.csr_matrix(group) for group in groups], "csr")
    ids = np.concatenate(private_pairwise.ma_row_ids(analyses.estimator))
    row_of = {analysis: row for row, analysis in enumerate(ids)}
    return ma_maps, np.array([row_of[i] for i in analyses.ids], dtype=np.intp)


def cluster_contributions(ma_maps, rows, clusters):
    """Return the summed modeled activation of each analysis inside each cluster.

    Parameters
    ----------
    ma_maps : scipy.sparse.csr_matrix, shape (n_rows, n_voxels)
    rows : ndarray of int, shape (n_analyses,)
        MA-map row of each analysis (see
        :func:`~nimare_stability.engines.kernels.collect_ma_maps`).
    clusters : list of :class:`~nimare_stability.core.clusters.Cluster`

    Returns
    -------
    ndarray of float, shape (n_analyses, n_clusters)
    """
    out = np.zeros((len(rows), len(clusters)))
    for column, cluster in enumerate(clusters):
        out[:, column] = np.asarray(ma_maps[:, cluster.voxels].sum(axis=1)).ravel()[rows]
    return out
