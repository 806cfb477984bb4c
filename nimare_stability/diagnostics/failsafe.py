"""``FailSafeN``: how many null analyses a cluster withstands (Acar et al., 2018)."""

import dataclasses

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from tqdm.auto import tqdm

from nimare_stability.core import _nimare_private, names
from nimare_stability.core.analyses import AnalysisSet
from nimare_stability.core.clusters import LOCATION, vanishes
from nimare_stability.core.progress import tqdm_disable
from nimare_stability.core.validation import check_number
from nimare_stability.diagnostics.base import ClusterDiagnostic, Outputs
from nimare_stability.diagnostics.docs import fill_doc
from nimare_stability.diagnostics.null_analyses import NullProfiles, augmented_estimator, draw_nulls
from nimare_stability.diagnostics.null_grid import GRID_POINTS, SizeGrid
from nimare_stability.engines import DRAWS_NULLS, TAKES_NULLS, EngineInputs, memory, resolve_engine
from nimare_stability.engines.keyed import Judge

#: Study-id prefix of the null analyses of drawer ``d``: ``f"{NULL_PREFIX}{d}-"``. NiMARE
#: orders analyses by id, and ``~`` sorts after ASCII letters and digits: the null analyses
#: then follow the real ones, in the order they are added, so each size of the grid adds
#: analyses in analysis order (the engine's faster nested pass).
NULL_PREFIX = "~failsafen-null-"
COLUMNS = [
    "cluster_id",
    "tail",
    *LOCATION,
    "fsn_mean",
    "fsn_min",
    "fsn_ci_low",
    "fsn_ci_high",
    "fsn_per_analysis",
    "censored",
]


@fill_doc
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
    %(target_image)s
    max_multiple : :obj:`int`, default=10
        Search up to ``max_multiple * n_analyses`` null analyses (Acar et al. use 10).
    n_drawers : :obj:`int`, default=10
        Independent draws of the null analyses' foci.
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
        Its pieces: each drawer's bisection probes (supports), and the thresholds and
        blocks of null iterations of the grid and of each batch of probes.

    Notes
    -----
    Tables ``T_diag-FailSafeN_tab-clusters`` (``cluster_id``, ``tail``, ``fsn_mean``,
    ``fsn_min``, ``fsn_ci_low`` and ``fsn_ci_high`` (95% t interval of the mean over
    drawers, the low end clipped at 0; NaN with one drawer), ``fsn_per_analysis``
    (``fsn_mean`` / number of analyses) and ``censored`` (the cluster survived the maximum
    in some drawer: its FSN there is a lower bound)) and ``T_diag-FailSafeN_tab-drawers``
    (one row per cluster and drawer), with ``T = target_image``. A cluster is significant
    without null analyses (it is a baseline cluster), so its FSN is at least 1.

    The real analyses the null ones copy are drawn once, so the drawers differ only in
    where the null foci fall and share each size's Monte Carlo null. With the fast engine
    and a Monte Carlo target those nulls are drawn once, with common random numbers, for
    :data:`~nimare_stability.diagnostics.null_grid.GRID_POINTS` sizes from 0 to the
    maximum, and interpolated linearly in between, quantile by quantile (between the
    sorted nulls: a null is only read as a distribution, and averaging two sizes' maxima
    iteration by iteration would narrow it); each replicate keeps its own statistic map
    and cluster-forming threshold. The bisection assumes a
    cluster that vanishes with ``m`` null analyses vanishes with more. ``n_cores`` runs the
    grid's null in threads and the drawers after the first in processes; results do not
    depend on it.

    References
    ----------
    .. footbibliography::
    """

    name = names.FAILSAFE
    _not_pairwise = (
        "its null analyses (Acar et al., 2018) are defined for one group's ALE; added to one "
        "group of a contrast they would change both the difference and its permutation null, "
        "and no published fail-safe N says which group should receive them."
    )

    def __init__(
        self,
        target_image=names.DEFAULT_TARGET,
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
        checkpoint_dir=None,
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
        self.checkpoint_dir = checkpoint_dir

    def _judge(self, result, run, plan):
        """Bisect each cluster's FSN in every drawer; return the clusters and drawers tables."""
        self._log_memory(run, plan)
        engine = resolve_engine(self.engine, run.analyses.estimator, run.corrector, {})
        with self._checkpoint(result, run.corrector, engine) as checkpoint:
            fsn, censored = self._search(run, plan, self._n_max(run), engine, checkpoint)
        n_real = run.analyses.ids.size
        clusters = _clusters_table(run.clusters, fsn, censored, n_real)
        return Outputs(
            {
                names.table_key(self.target_image, self.name, names.CLUSTERS): clusters,
                names.table_key(self.target_image, self.name, names.DRAWERS): _drawers_table(
                    run.clusters, fsn, censored
                ),
            }
        )

    def _memory(self, analyses, corrector, n_clusters, plan):
        """Estimate the peak of the drawers searched at once.

        Each holds its engine's data for every real and null analysis (the fast engine's
        MA maps), in a process of its own when several run at once.
        """
        estimator = analyses.estimator
        n_analyses = analyses.ids.size * (1 + self.max_multiple)
        n_parallel = min(_nimare_private.check_n_cores(self.n_cores), self.n_drawers)
        engine = resolve_engine(self.engine, estimator, corrector, {})
        values = memory.ma_values_per_analysis(estimator) or 0
        label = "{}" if n_parallel == 1 else f"{{}}, x{n_parallel} drawers at once"
        parts = {
            label.format(part): n_parallel * size
            for part, size in engine.memory_parts(
                estimator, values, n_analyses, GRID_POINTS, 1
            ).items()
        }
        if n_parallel > 1:
            parts[f"{n_parallel} worker processes"] = n_parallel * memory.PROCESS_BYTES
        hints = ("a smaller max_multiple (the fail-safe N is then censored above it)",)
        if n_parallel > 1:
            hints += ("n_cores=1 (drawers then run one at a time)",)
        return memory.MemoryEstimate(parts, hints)

    def _n_max(self, run):
        """Return the most null analyses a drawer adds: ``max_multiple`` times the real ones."""
        return self.max_multiple * run.analyses.ids.size

    def _description(self, run):
        return (
            "Robustness to unpublished null results was assessed with a fail-safe N "
            "\\citep{acar2018assessing} (FailSafeN, nimare-stability): up to "
            f"{self._n_max(run)} null analyses (foci uniform in the mask; foci counts and "
            "sample sizes drawn from the included analyses) were added, in "
            f"{self.n_drawers} independent draws, until each cluster was no longer "
            "significant, the meta-analysis being refit and corrected as the original each "
            "time."
        )

    def _search(self, run, plan, n_max, engine, checkpoint):
        """Return each cluster's FSN in each drawer, and whether it was censored.

        Arrays of shape (n_clusters, n_drawers). Drawer 0 runs first (it draws the grid of
        nulls, when one is needed); the others run in parallel (``n_cores`` processes),
        each drawing and fitting its own null analyses. ``checkpoint`` (or None) keeps
        their work.
        """
        estimator = run.analyses.estimator
        profile_rng, *drawer_rngs = plan.stream_rngs(self.n_drawers + 1)
        task = _Task(
            estimator,
            NullProfiles.draw(estimator, n_max, profile_rng),
            engine,
            run.n_iters is not None and engine.can(DRAWS_NULLS, TAKES_NULLS),
            run.corrector,
            run.rule,
            run.n_iters,
            plan,
            run.clusters,
            n_max,
            checkpoint,
        )
        n_cores = _nimare_private.check_n_cores(self.n_cores)
        bar = tqdm(
            total=self.n_drawers, desc="FailSafeN drawers", disable=tqdm_disable(self.progress)
        )
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
        self._check_checkpoint()


@dataclasses.dataclass(frozen=True)
class _Task:
    """What every drawer's search shares (sent to the worker processes)."""

    estimator: object
    profiles: NullProfiles
    engine: type
    #: Whether the drawers share a :class:`SizeGrid` of Monte Carlo nulls.
    grid_null: bool
    corrector: object
    rule: object
    n_iters: int
    plan: object
    clusters: list
    n_max: int
    #: Where the drawers keep their work (a Checkpoint), or None.
    checkpoint: object = None
    grid: object = None


def _drawer_fsn(task, d, rng, n_cores=1, progress=False):
    """Return ``(fsn, censored, grid)`` of drawer ``d`` (see :func:`_bisect`).

    Draws the grid of nulls first when the drawers share one and ``task`` has none. With a
    checkpoint, the drawer's work is kept in its scope ``drawer-<d>``.
    """
    store = None if task.checkpoint is None else task.checkpoint.scope(f"drawer-{d}")
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
    if task.grid_null:
        grid = grid or SizeGrid.draw(
            engine, drawer, n_cores, progress, None if store is None else store.scope("grid")
        )
        engine = engine.with_null_maxima(grid.maxima)
    judge = Judge(engine, lambda key: task.plan.keyed_seed((d, *key)), n_cores, store=store)
    return (*_bisect(judge, drawer, task.clusters, task.n_max), grid)


class _Drawer:
    """One drawer: the real analyses plus its null ones, prepared once (not fit)."""

    def __init__(self, estimator, profiles, rng, prefix):
        nulls, null_ids = draw_nulls(
            profiles, estimator.masker, rng, prefix, space=estimator.dataset.space
        )
        self.estimator = augmented_estimator(estimator, nulls)
        self.analyses = AnalysisSet(self.estimator)
        position = {id_: p for p, id_ in enumerate(self.analyses.ids)}
        real = np.asarray(estimator.inputs_["id"]).astype(str)
        self.real = np.array([position[id_] for id_ in real], dtype=np.intp)
        self.nulls = np.array([position[id_] for id_ in null_ids], dtype=np.intp)

    def retained(self, n_nulls):
        """Sorted positions of the real analyses plus the first ``n_nulls`` null ones."""
        return np.sort(np.concatenate([self.real, self.nulls[:n_nulls]]))


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


def _drawers_table(clusters, fsn, censored):
    return pd.DataFrame(
        [
            [cluster.cluster_id, cluster.tail, drawer, fsn[c, drawer], censored[c, drawer]]
            for c, cluster in enumerate(clusters)
            for drawer in range(fsn.shape[1])
        ],
        columns=["cluster_id", "tail", "drawer", "fsn", "censored"],
    )


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
                *cluster.location,
                mean,
                int(values.min()),
                max(mean - half, 0.0),
                mean + half,
                mean / n_real,
                bool(censored[c].any()),
            ]
        )
    return pd.DataFrame(rows, columns=COLUMNS)
