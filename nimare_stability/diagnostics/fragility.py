"""``Fragility``: the fewest analyses whose removal makes a cluster vanish."""

import itertools

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private, grouping, names
from nimare_stability.core.clusters import LOCATION
from nimare_stability.core.progress import tqdm_disable
from nimare_stability.core.validation import check_number
from nimare_stability.diagnostics.base import ClusterDiagnostic, Outputs
from nimare_stability.diagnostics.docs import fill_doc
from nimare_stability.diagnostics.fragility_screen import (
    NEAR_MIN_ANALYSES,
    NEAR_SHARE,
    Screen,
    baseline_null,
    survival_bound,
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
#: Candidate sets, per cluster and size, confirmed with the exact null in one batch.
CONFIRM_BATCH = 2
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

    With the fast engine and a Monte Carlo target, candidate sets are screened with a
    cheaper null: in runs of at least :data:`NEAR_MIN_ANALYSES` analyses, a set that
    removes at most :data:`NEAR_SHARE` of them, against the baseline's own null maxima
    (for ALE cluster-size targets, skipping the clusters a bound shows it leaves standing,
    :mod:`~nimare_stability.diagnostics.fragility_screen`); any other set, against
    ``null="shared"`` at most :data:`SCREEN_ITERATIONS` iterations. The reported set is
    confirmed with each replicate's own null at the full ``n_iters``. A set
    the screen misses is not tried again.
    """

    name = names.FRAGILITY
    _not_pairwise = (
        "its search refits a subtraction, permutations included, for every candidate set of "
        "removed analyses, and is not built for contrasts yet."
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
        units = _Units(analyses.ids if labels is None else labels)
        _, ma_maps, _, rows = collect_ma_maps(analyses.estimator)
        per_analysis = cluster_contributions(ma_maps, rows, run.clusters)
        contributions = units.sum(per_analysis)
        floor = _nimare_private.estimator_min_analyses(analyses.estimator) or 1
        search = _Search(units, run.clusters, contributions, analyses.ids.size - floor)
        engine = resolve_engine(self.engine, analyses.estimator, run.corrector, {})
        with self._checkpoint(result, run.corrector, engine) as checkpoint:
            null = None
            if analyses.ids.size >= NEAR_MIN_ANALYSES:
                null = baseline_null(result.estimator)
            screen, exact, near = self._judges(run, plan, engine, checkpoint, null)
            screen = Screen(screen, units, run.clusters)
            exact = screen if screen.judge is exact else Screen(exact, units, run.clusters)
            if near is not None:
                screen.near = near
                screen.near_limit = int(NEAR_SHARE * analyses.ids.size)
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
            columns=COLUMNS,
        )
        key = names.table_key(self.target_image, self.name, names.CLUSTERS)
        return Outputs({key: table}, counts=search.removed_matrix())

    def _description(self, run):
        return (
            "The fragility of each cluster, the fewest analyses whose removal makes it vanish, "
            "was searched with Fragility (nimare-stability): every set of up to "
            f"{self.max_exact} contributing analyses, then the largest contributors up to "
            f"{self.max_removed}, each refit and corrected as the original result was."
        )

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
        """Estimate the engine's peak while it confirms :data:`CONFIRM_BATCH` sets per cluster."""
        engine = resolve_engine(self.engine, analyses.estimator, corrector, {})
        n_replicates = CONFIRM_BATCH * (n_clusters or 1)
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
        if run.n_iters is None or not engine.can(DRAWS_NULLS):
            return exact, exact, None
        n_screen = min(run.n_iters, SCREEN_ITERATIONS)
        shared = exact.engine.with_inputs(null="shared", n_iters=n_screen)
        screen = Judge(shared, plan.keyed_seed, n_cores, store=store("screen"))
        if null is None or not engine.can(TAKES_NULLS):
            return screen, exact, None

        def maxima(retained):
            return tuple(np.tile(values, (len(retained), 1)) for values in null)

        near = exact.engine.with_null_maxima(maxima)
        return screen, exact, Judge(near, plan.keyed_seed, n_cores, store=store("near"))


class _Units:
    """Removal units: analyses, or groups of them."""

    def __init__(self, labels):
        self.labels = np.asarray(labels, dtype=object)
        self.names, self.of_analysis = np.unique(self.labels.astype(str), return_inverse=True)
        self.sizes = np.bincount(self.of_analysis, minlength=len(self.names))

    def sum(self, per_analysis):
        """Sum (n_analyses, n_clusters) values per unit: (n_units, n_clusters)."""
        out = np.zeros((len(self.names), per_analysis.shape[1]))
        np.add.at(out, self.of_analysis, per_analysis)
        return out

    def retained(self, removed):
        """Sorted positions of the analyses kept when the units ``removed`` are left out."""
        keep = ~np.isin(self.of_analysis, removed)
        return np.flatnonzero(keep).astype(np.intp)


class _Search:
    """Search, cluster by cluster, the smallest set of units whose removal sinks it."""

    def __init__(self, units, clusters, contributions, max_analyses_removed):
        self.units = units
        self.clusters = clusters
        self.max_analyses_removed = max_analyses_removed
        self.contributors = []
        for column in contributions.T:
            order = np.lexsort((units.names, -column))
            self.contributors.append([int(u) for u in order if column[u] > 0])
        self.contribution = contributions
        self.found = {}

    def candidates(self, index, size, max_exact):
        """Return the sets of ``size`` contributors to try for cluster ``index``, best first."""
        contributors = self.contributors[index]
        if size > len(contributors):
            return []
        if size <= max_exact:
            sets = itertools.combinations(contributors, size)
            column = self.contribution[:, index]
            sets = sorted(sets, key=lambda s: -column[list(s)].sum())
        else:
            sets = [tuple(contributors[:size])]
        return [
            tuple(sorted(s))
            for s in sets
            if self.units.sizes[list(s)].sum() <= self.max_analyses_removed
        ]

    def run(self, screen, exact, max_exact, max_removed, progress):
        """Find each cluster's smallest sinking set, up to ``max_removed`` units.

        Sets are screened size by size; each cluster's first sinking sets are then
        confirmed with the exact judge, all clusters in one batch. A cluster none of
        whose screened sets is confirmed is screened again from the next size.
        """
        start = dict.fromkeys(range(len(self.clusters)), 1)
        with tqdm(total=len(start), desc="Fragility", disable=tqdm_disable(progress)) as bar:
            while start:
                screened = self._screen(screen, start, max_exact, max_removed)
                confirmed = screened if screen is exact else self._confirm(exact, screened)
                start = {}
                for index, (size, sets) in screened.items():
                    if confirmed[index][1]:
                        self.found[index] = (size, confirmed[index][1][0])
                    elif sets and size < max_removed:
                        start[index] = size + 1
                bar.update(len(screened) - len(start))

    def _screen(self, judge, start, max_exact, max_removed):
        """Return ``{cluster: (size, sinking sets)}``, sizes from ``start`` upward.

        ``size`` is the first at which some set sinks the cluster (no set: ``max_removed``
        and an empty list).
        """
        screened, size = {}, min(start.values())
        while size <= max_removed and len(screened) < len(start):
            tried = {
                index: self.candidates(index, size, max_exact)
                for index, first in start.items()
                if first <= size and index not in screened
            }
            for index, sets in judge.sinking(tried).items():
                if sets or size == max_removed:
                    screened[index] = (size, sets)
            size += 1
        return screened

    def _confirm(self, judge, screened):
        """Return ``{cluster: (size, confirmed sets)}``, the first confirmed set first.

        Confirms :data:`CONFIRM_BATCH` sets per cluster per pass, all clusters together.
        """
        confirmed = {index: (size, []) for index, (size, _) in screened.items()}
        pending = {index: list(sets) for index, (_, sets) in screened.items() if sets}
        while pending:
            batch = {index: sets[:CONFIRM_BATCH] for index, sets in pending.items()}
            for index, sets in judge.sinking(batch).items():
                rest = pending.pop(index)[CONFIRM_BATCH:]
                if sets:
                    confirmed[index] = (confirmed[index][0], sets)
                elif rest:
                    pending[index] = rest
        return confirmed

    def removed_matrix(self):
        """(n_analyses, n_clusters) array: 1 for the analyses of each cluster's sinking set."""
        removed = np.zeros((self.units.of_analysis.size, len(self.clusters)))
        for index, (_, units) in self.found.items():
            removed[np.isin(self.units.of_analysis, units), index] = 1
        return removed

    def outcome(self, index, max_removed, max_exact):
        """``(fragility, exact, removed)`` of cluster ``index``."""
        if index not in self.found:
            return f"> {max_removed}", False, ""
        size, removed = self.found[index]
        names = ";".join(self.units.names[list(removed)])
        return size, size <= max_exact, names


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
