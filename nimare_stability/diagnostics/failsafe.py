"""``FailSafeN``: how many null analyses a cluster withstands (Acar et al., 2018)."""

import dataclasses
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.validation import check_number
from nimare_stability.diagnostics.base import DEFAULT_TARGET, ClusterDiagnostic, check_result
from nimare_stability.diagnostics.null_analyses import NullProfiles, augmented_fit, draw_nulls
from nimare_stability.engines import EngineInputs, resolve_engine
from nimare_stability.engines.fast import FastEngine
from nimare_stability.engines.keyed import Judge, vanishes

DIAGNOSTIC = "FailSafeN"
#: Sizes (numbers of null analyses) whose Monte Carlo nulls are drawn; others interpolate.
GRID_POINTS = 6
#: Study-id prefix of the null analyses of drawer ``d``: ``f"{NULL_PREFIX}{d}-"``.
NULL_PREFIX = "failsafen-null-"
COLUMNS = [
    "cluster_id",
    "tail",
    "fsn_mean",
    "fsn_min",
    "fsn_ci_low",
    "fsn_ci_high",
    "fsn_per_analysis",
    "censored",
]


class FailSafeN(ClusterDiagnostic):
    """The fail-safe N of each cluster: how many null analyses it withstands.

    Null analyses (foci uniform in the mask, foci counts and sample sizes copied from real
    analyses drawn at random) are added to the meta-analysis, which is refit and corrected as
    the baseline was; a cluster's fail-safe N is the fewest added null analyses with which
    it vanishes (none of its voxels in the support), searched by bisection up to
    ``max_multiple`` times the number of analyses, in each of ``n_drawers`` independent
    drawers of null analyses :footcite:p:`acar2018assessing`.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_image : :obj:`str`, default="z_desc-size_level-cluster_corr-FWE_method-montecarlo"
        Map to judge.
    max_multiple : :obj:`int`, default=10
        Search up to ``max_multiple * n_analyses`` null analyses (Acar et al. use 10).
    n_drawers : :obj:`int`, default=10
        Independent draws of the null analyses' foci.
    alpha, target_threshold, cluster_threshold, n_iters, engine, random_state, n_cores, \
progress, generate_description
        As in :class:`~nimare_stability.ResampledStability`.

    Notes
    -----
    Tables ``T + "_diag-FailSafeN_tab-clusters"`` (``cluster_id``, ``tail``, ``fsn_mean``,
    ``fsn_min``, ``fsn_ci_low`` and ``fsn_ci_high`` (95% t interval of the mean over
    drawers, the low end clipped at 0; NaN with one drawer), ``fsn_per_analysis``
    (``fsn_mean`` / number of analyses) and ``censored`` (the cluster survived the maximum
    in some drawer: its FSN there is a lower bound)) and ``T + "_diag-FailSafeN_tab-drawers"``
    (one row per cluster and drawer). A cluster is significant without null analyses (it
    is a baseline cluster), so its FSN is at least 1. The seed of the run is
    ``result.metadata[T + "_diag-FailSafeN_random_state"]``.

    The real analyses the null ones copy are drawn once, so the drawers differ only in
    where the null foci fall and share each size's Monte Carlo null. With the fast engine
    and a Monte Carlo target those nulls are drawn once, with common random numbers, for
    :data:`GRID_POINTS` sizes from 0 to the maximum, and interpolated linearly (per
    iteration) in between; each replicate keeps its own statistic map and cluster-forming
    threshold. The bisection assumes a cluster that vanishes with ``m`` null analyses
    vanishes with more. ``n_cores`` runs the grid's null in threads and the drawers after
    the first in processes; results do not depend on it.

    References
    ----------
    .. footbibliography::
    """

    name = DIAGNOSTIC

    def __init__(
        self,
        target_image=DEFAULT_TARGET,
        max_multiple=10,
        n_drawers=10,
        alpha=0.05,
        target_threshold=None,
        cluster_threshold=None,
        n_iters=None,
        engine="auto",
        random_state=None,
        n_cores=1,
        progress=True,
        generate_description=True,
    ):
        self.target_image = target_image
        self.max_multiple = max_multiple
        self.n_drawers = n_drawers
        self.alpha = alpha
        self.target_threshold = target_threshold
        self.cluster_threshold = cluster_threshold
        self.n_iters = n_iters
        self.engine = engine
        self.random_state = random_state
        self.n_cores = n_cores
        self.progress = progress
        self.generate_description = generate_description

    def transform(self, result):
        """Find each cluster's fail-safe N.

        Parameters
        ----------
        result : :obj:`~nimare.results.MetaResult`
            Never modified.

        Returns
        -------
        :obj:`~nimare.results.MetaResult`
            A new result with the ``_tab-clusters`` and ``_tab-drawers`` tables added.
        """
        started = time.perf_counter()
        check_result(result)
        self._check_params()
        run = self._prepare(result, single_group_cbma=True)
        n_real = run.analyses.ids.size
        n_max = self.max_multiple * n_real
        plan = self._seed_plan()
        fsn, censored = self._search(run, plan, n_max)
        out_tables = {
            f"{self._stem}_tab-clusters": _clusters_table(run.clusters, fsn, censored, n_real),
            f"{self._stem}_tab-drawers": pd.DataFrame(
                [
                    [cluster.cluster_id, cluster.tail, drawer, fsn[c, drawer], censored[c, drawer]]
                    for c, cluster in enumerate(run.clusters)
                    for drawer in range(self.n_drawers)
                ],
                columns=["cluster_id", "tail", "drawer", "fsn", "censored"],
            ),
        }
        new = self._derive(result, run, out_tables, _description(self, n_max))
        return self._record(new, plan, started)

    def _search(self, run, plan, n_max):
        """Return each cluster's FSN in each drawer, and whether it was censored.

        Arrays of shape (n_clusters, n_drawers). Drawer 0 runs first (it draws the grid of
        nulls, when one is needed); the others run in parallel (``n_cores`` processes),
        each drawing and fitting its own null analyses.
        """
        estimator = run.analyses.estimator
        profile_rng, *drawer_rngs = plan.stream_rngs(self.n_drawers + 1)
        engine = resolve_engine(self.engine, estimator, run.corrector, {})
        if run.n_iters is not None and "null" in engine.options:
            engine = _GridNullEngine
        task = _Task(
            estimator,
            NullProfiles.draw(estimator, n_max, profile_rng),
            engine,
            run.corrector,
            run.rule,
            run.n_iters,
            plan,
            run.clusters,
            n_max,
        )
        n_cores = _nimare_private.check_n_cores(self.n_cores)
        bar = tqdm(total=self.n_drawers, desc="FailSafeN drawers", disable=not self.progress)
        first = _drawer_fsn(task, 0, drawer_rngs[0], n_cores, self.progress)
        bar.update()
        task = dataclasses.replace(task, grid=first[2])
        rest = Parallel(n_jobs=n_cores, return_as="generator")(
            delayed(_drawer_fsn)(task, d, rng) for d, rng in enumerate(drawer_rngs[1:], start=1)
        )
        drawers = [first]
        for result in rest:
            drawers.append(result)
            bar.update()
        bar.close()
        return tuple(np.stack([drawer[i] for drawer in drawers], axis=1) for i in range(2))

    def _check_params(self):
        self._check_common()
        check_number("max_multiple", self.max_multiple, low=1, integer=True, optional=False)
        check_number("n_drawers", self.n_drawers, low=1, integer=True, optional=False)


@dataclasses.dataclass(frozen=True)
class _Task:
    """What every drawer's search shares (sent to the worker processes)."""

    estimator: object
    profiles: NullProfiles
    engine: type
    corrector: object
    rule: object
    n_iters: int
    plan: object
    clusters: list
    n_max: int
    grid: object = None


def _drawer_fsn(task, d, rng, n_cores=1, progress=False):
    """Return ``(fsn, censored, grid)`` of drawer ``d`` (see :func:`_bisect`).

    Draws the grid of nulls first when the engine needs one and ``task`` has none.
    """
    drawer = _Drawer(task.estimator, task.profiles, rng, f"{NULL_PREFIX}{d}-")
    engine = task.engine(
        EngineInputs(
            estimator=drawer.estimator,
            corrector=task.corrector,
            analyses=drawer.analyses,
            rule=task.rule,
            n_iters=task.n_iters,
            null_seed=task.plan.null_root,
        )
    )
    grid = task.grid
    if task.engine is _GridNullEngine:
        grid = grid or _SizeGrid.draw(engine, drawer, n_cores, progress)
        engine.grid = grid
    judge = Judge(engine, lambda key: task.plan.keyed_seed((d, *key)), n_cores)
    return (*_bisect(judge, drawer, task.clusters, task.n_max), grid)


class _Drawer:
    """One drawer: the real analyses plus its null ones, fit once."""

    def __init__(self, estimator, profiles, rng, prefix):
        nulls, null_ids = draw_nulls(
            profiles, estimator.masker, rng, prefix, space=estimator.dataset.space
        )
        self.estimator = augmented_fit(estimator, nulls)
        self.analyses = AnalysisSet(self.estimator)
        position = {id_: p for p, id_ in enumerate(self.analyses.ids)}
        real = np.asarray(estimator.inputs_["id"]).astype(str)
        self.real = np.array([position[id_] for id_ in real], dtype=np.intp)
        self.nulls = np.array([position[id_] for id_ in null_ids], dtype=np.intp)

    def retained(self, n_nulls):
        """Sorted positions of the real analyses plus the first ``n_nulls`` null ones."""
        return np.sort(np.concatenate([self.real, self.nulls[:n_nulls]]))


class _SizeGrid:
    """Monte Carlo null maxima at a few numbers of added null analyses (common foci)."""

    def __init__(self, sizes, nulls):
        self.sizes = sizes
        self.nulls = nulls

    @classmethod
    def draw(cls, engine, drawer, n_cores, progress):
        """Draw the grid's nulls with ``engine`` (a fast engine fit on ``drawer``)."""
        sizes = np.unique(np.linspace(0, len(drawer.nulls), GRID_POINTS).round().astype(int))
        splits = [drawer.retained(m) for m in sizes]
        thresholds, weights = engine.thresholds_and_weights(splits, n_cores)
        return cls(sizes, engine.null_maxima_of(splits, thresholds, weights, n_cores, progress))

    def at(self, n_nulls):
        """Null maxima with ``n_nulls`` null analyses, interpolated per iteration."""
        upper = int(np.clip(np.searchsorted(self.sizes, n_nulls), 1, len(self.sizes) - 1))
        low, high = self.sizes[upper - 1], self.sizes[upper]
        weight = (n_nulls - low) / (high - low)
        return tuple(
            None if null is None else (1 - weight) * null[upper - 1] + weight * null[upper]
            for null in self.nulls
        )


class _GridNullEngine(FastEngine):
    """The fast engine, with each replicate's null read from a :class:`_SizeGrid`.

    Without a :attr:`grid`, its nulls are the fast engine's own (used to draw the grid). A
    replicate's number of null analyses is its size minus the real analyses'.
    """

    grid = None

    def null_maxima_of(self, schedule, thresholds, weights, n_cores, progress, store=None):
        """Interpolate each replicate's null maxima from the grid."""
        if self.grid is None:
            return super().null_maxima_of(schedule, thresholds, weights, n_cores, progress, store)
        n_real = self.inputs.analyses.ids.size - self.grid.sizes[-1]
        rows = [self.grid.at(len(kept) - n_real) for kept in schedule]
        return tuple(
            None if rows[0][i] is None else np.stack([row[i] for row in rows]) for i in range(3)
        )


def _bisect(judge, drawer, clusters, n_max):
    """Per cluster, the fewest of the drawer's null analyses with which it vanishes.

    Returns
    -------
    fsn : ndarray of int, shape (n_clusters,)
    censored : ndarray of bool, shape (n_clusters,)
        Survived ``n_max`` null analyses (``fsn`` is then ``n_max``).
    """
    n_clusters = len(clusters)
    low, high = np.zeros(n_clusters, dtype=int), np.full(n_clusters, n_max)
    probe = dict.fromkeys(range(n_clusters), n_max)
    censored = np.zeros(n_clusters, dtype=bool)
    while probe:
        judged = judge({(m,): drawer.retained(m) for m in set(probe.values())})
        for c, m in probe.items():
            if vanishes(judged[(m,)], clusters[c]):
                high[c] = m
            else:
                low[c] = m
                censored[c] = m == n_max
        probe = {c: (low[c] + high[c]) // 2 for c in range(n_clusters) if high[c] - low[c] > 1}
    return high, censored


def _clusters_table(clusters, fsn, censored, n_real):
    rows = []
    for c, cluster in enumerate(clusters):
        values = fsn[c].astype(float)
        mean = values.mean()
        if values.size > 1:
            half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
        else:
            half = np.nan
        rows.append(
            [
                cluster.cluster_id,
                cluster.tail,
                mean,
                int(values.min()),
                max(mean - half, 0.0),
                mean + half,
                mean / n_real,
                bool(censored[c].any()),
            ]
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _description(diagnostic, n_max):
    return (
        "Robustness to unpublished null results was assessed with a fail-safe N "
        "\\citep{acar2018assessing} (FailSafeN, nimare-stability): up to "
        f"{n_max} null analyses (foci uniform in the mask; foci counts and sample sizes "
        "drawn from the included analyses) were added, in "
        f"{diagnostic.n_drawers} independent draws, until each cluster was no longer "
        "significant, the meta-analysis being refit and corrected as the original each time."
    )
