"""Compiled Monte Carlo null engine for kernel CBMA (ALE, MKDADensity, KDA).

NiMARE's ``FWECorrector(method="montecarlo")`` redraws every focus uniformly from the null
voxel space, rebuilds the summary statistic map and keeps, per iteration, the maximum
statistic and the largest cluster size and mass above a cluster-forming threshold. This
module does the same, but

- compiled end to end and restricted to the voxels the random foci reach, and
- for R replicates (subsets of analyses) at once from the SAME random foci (common random
  numbers): replicate ``r``'s null is exactly the one it would get run alone on those foci.

Seeding: iterations run in fixed blocks of :data:`BLOCK_SIZE`; block ``b`` draws its foci
from the ``b``-th child of the given :class:`numpy.random.SeedSequence`, so results do not
depend on ``n_cores``.
"""

import copy
import dataclasses

import numpy as np
from joblib import Parallel, delayed
from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.meta.cbma.weights import normalize_weights
from nimare.meta.kernel import ALEKernel, KDAKernel, MKDAKernel
from nimare.meta.utils import get_ale_kernel, sphere_kernel_offsets
from tqdm.auto import tqdm

from nimare_stability._nimare_private import (
    RAW_WEIGHTS_ATTR,
    _mask_coverage_to_null_ijk,
    _mask_img_to_bool,
    check_n_cores,
)
from nimare_stability.engines import _numba_kernels as nk

__all__ = [
    "BLOCK_SIZE",
    "FociLayout",
    "build_layout",
    "child_sequences",
    "maxima_for_foci",
    "null_maxima",
    "replicate_weights",
]

#: Iterations per random stream; fixed so results do not depend on the number of cores.
BLOCK_SIZE = 100

#: Supported estimators: class -> (kernel class, statistic family).
_SUPPORTED = {
    ALE: (ALEKernel, nk.ALE),
    MKDADensity: (MKDAKernel, nk.MKDA),
    KDA: (KDAKernel, nk.KDA),
}


@dataclasses.dataclass(frozen=True)
class FociLayout:
    """Everything a Monte Carlo iteration needs except where the foci fall.

    Attributes
    ----------
    ids : ndarray of shape (n_analyses,)
        Analysis ids, in ``estimator.inputs_["id"]`` order (the columns of ``retained``).
    focus_starts : int64 ndarray of shape (n_analyses + 1,)
        Analysis ``a`` owns foci ``focus_starts[a]:focus_starts[a + 1]``.
    focus_rows : int64 ndarray of shape (n_foci,)
        Row of ``inputs_["coordinates"]`` behind each grouped focus.
    analysis_kernel : int64 ndarray of shape (n_analyses,)
        Index of each analysis's kernel in the kernel table.
    kernel_rows : int64 ndarray of shape (n_runs, 5)
        Kernels as runs along the last axis: ``(di, dj, dk0, length, first value)``.
    kernel_values : float64 ndarray of shape (n_kernel_voxels,)
        Per kernel voxel: ALE's ``log1p(-MA)``, else the sphere value.
    kernel_starts : int64 ndarray of shape (n_kernels + 1,)
        Kernel ``q`` is runs ``kernel_starts[q]:kernel_starts[q + 1]``.
    mode : int
        Statistic family (ALE, MKDA or KDA, see ``_numba_kernels``).
    shape : int64 ndarray of shape (3,)
        Volume shape.
    slot : int32 ndarray of shape (prod(shape),)
        ``-2`` outside the analysis mask, ``-1`` inside.
    null_ijk : int32 ndarray of shape (n_null, 3)
        Voxels the random foci are drawn from (the estimator's ``mask_coverage``).
    raw_weights : float64 ndarray of shape (n_analyses,) or None
        MKDADensity's unnormalised weights (``None``: equal weights).
    dense_log, dense_starts, dense_width : ndarrays
        ALE: each full kernel's cube of ``log1p(-MA)`` values (flattened, C order), where
        it starts in ``dense_log``, and its edge length.
    tail : float
        ALE: the largest ``-log1p(-MA)`` the truncated runs leave out (0: none).
    """

    ids: np.ndarray
    focus_starts: np.ndarray
    focus_rows: np.ndarray
    analysis_kernel: np.ndarray
    kernel_rows: np.ndarray
    kernel_values: np.ndarray
    kernel_starts: np.ndarray
    mode: int
    shape: np.ndarray
    slot: np.ndarray
    null_ijk: np.ndarray
    raw_weights: np.ndarray
    dense_log: np.ndarray
    dense_starts: np.ndarray
    dense_width: np.ndarray
    tail: float

    @property
    def n_analyses(self):
        """Number of analyses."""
        return len(self.ids)

    @property
    def n_foci(self):
        """Number of foci per iteration."""
        return int(self.focus_starts[-1])

    @property
    def max_entries(self):
        """Upper bound on kernel entries (focus x offset) per iteration."""
        runs = np.r_[0, np.cumsum(self.kernel_rows[:, 3])]
        sizes = np.diff(runs[self.kernel_starts])[self.analysis_kernel]
        return int(np.dot(np.diff(self.focus_starts), sizes))

    @property
    def max_touched(self):
        """Upper bound on voxels touched per iteration."""
        return min(self.max_entries, int(np.count_nonzero(self.slot == nk.UNTOUCHED)))


def _check_estimator(estimator):
    """Return the statistic family of a fitted, supported estimator."""
    for cls, (kernel_cls, mode) in _SUPPORTED.items():
        if type(estimator) is cls:
            if type(estimator.kernel_transformer) is not kernel_cls:
                raise ValueError(
                    f"estimator {cls.__name__} with kernel "
                    f"{type(estimator.kernel_transformer).__name__} is not supported; "
                    f"expected {kernel_cls.__name__}."
                )
            if not hasattr(estimator, "inputs_"):
                raise ValueError(f"estimator {cls.__name__} is not fitted; call fit first.")
            return mode
    names = ", ".join(cls.__name__ for cls in _SUPPORTED)
    raise TypeError(f"estimator {type(estimator).__name__!r} is not supported; use {names}.")


def _group_foci(coordinates, ids):
    """Return ``(focus_starts, focus_rows)`` grouping coordinate rows by analysis id."""
    position = {analysis_id: a for a, analysis_id in enumerate(ids)}
    owner = np.array([position[i] for i in coordinates["id"]], dtype=np.int64)
    rows = np.argsort(owner, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(owner, minlength=len(ids)))]
    return starts.astype(np.int64), rows.astype(np.int64)


def _dense_to_support(kernel, cutoff=0.0):
    """Offsets (from the centre voxel) and float32 values of a kernel's voxels >= cutoff."""
    nonzero = np.argwhere((kernel > 0) & (kernel >= cutoff))
    centre = np.asarray(kernel.shape) // 2
    return (nonzero - centre).astype(np.int32), kernel[tuple(nonzero.T)].astype(np.float32)


def _runs(offsets, first_value):
    """Split C-ordered kernel offsets into runs of consecutive ``dk`` (one row per run)."""
    new_run = np.r_[True, (np.diff(offsets, axis=0) != [0, 0, 1]).any(axis=1)]
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.r_[starts, len(offsets)])
    return np.column_stack([offsets[starts], lengths, first_value + starts]).astype(np.int64)


def _ale_cubes(estimator, coordinates, focus_rows, focus_starts):
    """NiMARE's dense ALE kernel per distinct width, and each analysis's index into them."""
    kernel, mask = estimator.kernel_transformer, estimator.masker.mask_img
    n_ana = len(focus_starts) - 1
    if kernel.fwhm is not None:
        return [get_ale_kernel(mask, fwhm=kernel.fwhm)[1]], np.zeros(n_ana, np.int64)
    if kernel.sample_size is not None:
        sizes = np.full(n_ana, kernel.sample_size, dtype=float)
    else:
        first_rows = focus_rows[focus_starts[:-1]]
        sizes = coordinates["sample_size"].to_numpy(dtype=float)[first_rows]
    unique, which = np.unique(sizes, return_inverse=True)
    return [get_ale_kernel(mask, sample_size=n)[1] for n in unique], which.astype(np.int64)


def _ale_tables(cubes, truncate):
    """Truncated sparse supports, full ``log1p(-MA)`` cubes, and the largest dropped term."""
    supports = [_dense_to_support(cube, truncate) for cube in cubes]
    dropped = [cube[(cube > 0) & (cube < truncate)].astype(np.float32) for cube in cubes]
    dropped = np.concatenate(dropped + [np.zeros(1, np.float32)])
    dense = [nk.ale_log_table(cube.astype(np.float32).ravel()) for cube in cubes]
    tables = {
        "dense_log": np.concatenate(dense),
        "dense_starts": np.r_[0, np.cumsum([len(d) for d in dense])[:-1]].astype(np.int64),
        "dense_width": np.array([cube.shape[0] for cube in cubes], dtype=np.int64),
        "tail": float(-nk.ale_log_table(dropped).min()),
    }
    return supports, tables


def _sphere_tables(estimator):
    """(M)KDA's sphere as a sparse support; no dense tables are needed."""
    kernel = estimator.kernel_transformer
    offsets = sphere_kernel_offsets(kernel.r, estimator.masker.mask_img.header.get_zooms())
    values = np.full(len(offsets), kernel.value, dtype=np.float32)
    tables = {
        "dense_log": np.zeros(0),
        "dense_starts": np.zeros(1, np.int64),
        "dense_width": np.zeros(1, np.int64),
        "tail": 0.0,
    }
    return [(offsets, values)], tables


def build_layout(estimator, truncate=1e-5):
    """Describe a fitted kernel-CBMA estimator's foci, kernels and voxel spaces.

    Parameters
    ----------
    estimator : ALE, MKDADensity or KDA
        Fitted, with its default kernel family. It is deep-copied, never modified.
    truncate : float, default=1e-5
        ALE only: kernel voxels with MA below this are skipped when spreading foci. Results
        do not change (voxels near the threshold or the maximum are recomputed with the
        full kernels); 0 disables it. Where ``n_analyses * truncate`` is not well below a
        cluster-forming threshold, the engine uses the full kernels instead.

    Returns
    -------
    FociLayout
    """
    mode = _check_estimator(estimator)
    est = copy.deepcopy(estimator)
    coordinates = est.inputs_["coordinates"]
    ids = np.asarray(est.inputs_["id"])
    focus_starts, focus_rows = _group_foci(coordinates, ids)
    mask = est.masker.mask_img
    if mode == nk.ALE:
        cubes, analysis_kernel = _ale_cubes(est, coordinates, focus_rows, focus_starts)
        supports, tables = _ale_tables(cubes, truncate)
    else:
        (supports, tables), analysis_kernel = _sphere_tables(est), np.zeros(len(ids), np.int64)
    firsts = np.r_[0, np.cumsum([len(v) for _, v in supports])]
    runs = [_runs(off, first) for (off, _), first in zip(supports, firsts)]
    values = np.concatenate([s[1] for s in supports])
    values = nk.ale_log_table(values) if mode == nk.ALE else values.astype(np.float64)
    slot = np.where(_mask_img_to_bool(mask).ravel(), nk.UNTOUCHED, nk.OUTSIDE)
    raw = getattr(est, RAW_WEIGHTS_ATTR, None) if mode == nk.MKDA else None
    return FociLayout(
        ids=ids,
        focus_starts=focus_starts,
        focus_rows=focus_rows,
        analysis_kernel=analysis_kernel,
        kernel_rows=np.concatenate(runs),
        kernel_values=values,
        kernel_starts=np.r_[0, np.cumsum([len(r) for r in runs])].astype(np.int64),
        mode=mode,
        shape=np.asarray(mask.shape, dtype=np.int64),
        slot=slot.astype(np.int32),
        null_ijk=_mask_coverage_to_null_ijk(est.masker, mask_coverage=est.mask_coverage).astype(
            np.int32
        ),
        raw_weights=None if raw is None else np.asarray(raw, dtype=np.float64),
        **tables,
    )


def replicate_weights(layout, retained):
    """Per-replicate analysis weights, 0 where an analysis is left out.

    ALE and KDA weigh retained analyses 1; MKDADensity renormalises its weights over each
    replicate's retained analyses, as NiMARE does for a subset.

    Parameters
    ----------
    layout : FociLayout
    retained : bool array of shape (R, n_analyses)

    Returns
    -------
    float64 ndarray of shape (R, n_analyses)
    """
    retained = _check_retained(layout, retained)
    weights = retained.astype(np.float64)
    if layout.raw_weights is not None:
        for row, keep in zip(weights, retained):
            row[keep] = normalize_weights(layout.raw_weights[keep], int(keep.sum()))
    return weights


def _check_retained(layout, retained):
    """Validate ``retained`` as a boolean (R, n_analyses) matrix with no empty row."""
    retained = np.atleast_2d(np.asarray(retained))
    if retained.dtype != bool or retained.shape[1] != layout.n_analyses:
        raise ValueError(
            f"retained must be a boolean array of shape (R, {layout.n_analyses}); "
            f"got dtype {retained.dtype} and shape {retained.shape}."
        )
    if not retained.any(axis=1).all():
        raise ValueError("retained has a replicate that retains no analysis.")
    return retained


def _check_thresholds(stat_thresholds, n_replicates):
    """Return thresholds as float64 (R,), broadcasting a scalar."""
    thresholds = np.broadcast_to(np.asarray(stat_thresholds, dtype=np.float64), (n_replicates,))
    return np.ascontiguousarray(thresholds)


def _full_kernels(layout):
    """The layout with ALE's untruncated kernels, rebuilt from its dense cubes."""
    rows, values, starts = [], [], [0]
    for start, width in zip(layout.dense_starts, layout.dense_width):
        cube = layout.dense_log[start : start + width**3].reshape((width,) * 3)
        offsets = np.argwhere(cube < 0)
        rows.append(_runs((offsets - width // 2).astype(np.int32), sum(map(len, values))))
        values.append(cube[tuple(offsets.T)])
        starts.append(starts[-1] + len(rows[-1]))
    return dataclasses.replace(
        layout,
        kernel_rows=np.concatenate(rows),
        kernel_values=np.concatenate(values),
        kernel_starts=np.asarray(starts, dtype=np.int64),
        tail=0.0,
    )


def _safe_layout(layout, weights, thresholds):
    """``layout``, or its untruncated version where truncation could hide a cluster voxel.

    A voxel no truncated kernel reaches has an ALE log sum of at most ``tail`` per retained
    analysis; it must stay far from every threshold's.
    """
    if not layout.tail:
        return layout
    slack = layout.tail * np.count_nonzero(weights, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cut = -np.log1p(-np.minimum(thresholds, 1.0))
    return layout if np.all(slack < 0.5 * cut) else _full_kernels(layout)


def _run(layout, grouped_foci, weights, thresholds):
    """Compiled pass over iterations of grouped foci, shape (n_iters, n_foci, 3)."""
    layout = _safe_layout(layout, weights, thresholds)
    kern = (
        layout.focus_starts,
        layout.analysis_kernel,
        layout.kernel_rows,
        layout.kernel_values,
        layout.kernel_starts,
        layout.dense_log,
        layout.dense_starts,
        layout.dense_width,
        layout.shape,
    )
    return tuple(
        nk.run_block(
            np.ascontiguousarray(grouped_foci, dtype=np.int32),
            kern,
            layout.mode,
            layout.tail,
            layout.slot.copy(),
            weights,
            thresholds,
            layout.max_touched,
            layout.max_entries,
        )
    )


def maxima_for_foci(layout, foci_ijk, retained, stat_thresholds):
    """Per-iteration maxima for given foci (the engine without the random draw).

    Parameters
    ----------
    layout : FociLayout
    foci_ijk : int array of shape (n_iters, n_foci, 3)
        Voxel indices of the foci, rows in ``inputs_["coordinates"]`` order (as NiMARE's
        ``iter_ijk``).
    retained : bool array of shape (R, n_analyses)
    stat_thresholds : float or array of shape (R,)
        Cluster-forming statistic threshold per replicate (cluster voxels: stat > it).

    Returns
    -------
    max_stat, max_size, max_mass : float64 ndarrays of shape (R, n_iters)
    """
    weights = replicate_weights(layout, retained)
    grouped = np.asarray(foci_ijk)[:, layout.focus_rows]
    return _run(layout, grouped, weights, _check_thresholds(stat_thresholds, len(weights)))


def child_sequences(seed_sequence, n_children):
    """The first ``n_children`` children ``seed_sequence.spawn`` would give, without spawning."""
    if not isinstance(seed_sequence, np.random.SeedSequence):
        seed_sequence = np.random.SeedSequence(seed_sequence)
    return [
        np.random.SeedSequence(
            seed_sequence.entropy,
            spawn_key=(*seed_sequence.spawn_key, b),
            pool_size=seed_sequence.pool_size,
        )
        for b in range(n_children)
    ]


def _null_block(layout, child, n_iters, weights, thresholds):
    """Draw one block's foci from ``child`` and return its maxima."""
    rng = np.random.default_rng(child)
    draws = rng.integers(0, len(layout.null_ijk), size=(n_iters, layout.n_foci))
    return _run(layout, layout.null_ijk[draws], weights, thresholds)


def null_maxima(
    layout, retained, stat_thresholds, n_iters, seed_sequence, n_cores=1, progress=False,
    weights=None,
):
    """Monte Carlo null maxima for R replicates from common random foci.

    Parameters
    ----------
    layout : FociLayout
        From :func:`build_layout`.
    retained : bool array of shape (R, n_analyses)
        Which analyses each replicate keeps (columns in ``layout.ids`` order).
    stat_thresholds : float or array of shape (R,)
        Cluster-forming statistic threshold per replicate.
    n_iters : int
        Monte Carlo iterations.
    seed_sequence : numpy.random.SeedSequence or int
        Block ``b`` (iterations ``b * BLOCK_SIZE`` onwards) uses its ``b``-th child; the
        sequence itself is not advanced.
    n_cores : int, default=1
        Threads; ``<= 0`` means all cores. Results do not depend on it.
    progress : bool, default=False
        Show a progress bar over iterations.
    weights : float array of shape (R, n_analyses), optional
        Per-replicate analysis weights (0 where left out), overriding
        :func:`replicate_weights`: pass the weights each replicate's statistic uses when
        they cannot be derived from the full fit's (MKDADensity imputing missing weights
        from the retained analyses).

    Returns
    -------
    max_stat, max_size, max_mass : float64 ndarrays of shape (R, n_iters)
        Per iteration: maximum statistic, largest cluster size (voxels) and largest
        cluster mass (sum of ``stat - threshold``), clusters 6-connected.
    """
    if int(n_iters) < 1:
        raise ValueError(f"n_iters must be a positive integer; got {n_iters!r}.")
    if weights is None:
        weights = replicate_weights(layout, retained)
    thresholds = _check_thresholds(stat_thresholds, len(weights))
    sizes = [min(BLOCK_SIZE, n_iters - start) for start in range(0, int(n_iters), BLOCK_SIZE)]
    children = child_sequences(seed_sequence, len(sizes))
    blocks = Parallel(n_jobs=check_n_cores(n_cores), backend="threading", return_as="generator")(
        delayed(_null_block)(layout, child, size, weights, thresholds)
        for child, size in zip(children, sizes)
    )
    done = []
    with tqdm(total=int(n_iters), desc="Monte Carlo null", unit="iter", disable=not progress) as bar:
        for size, block in zip(sizes, blocks):
            done.append(block)
            bar.update(size)
    return tuple(np.concatenate([block[i] for block in done], axis=1) for i in range(3))
