"""Compiled Monte Carlo null engine for kernel CBMA (ALE, MKDADensity, KDA).

NiMARE's ``FWECorrector(method="montecarlo")`` redraws every focus uniformly from the null
voxel space, rebuilds the summary statistic map and keeps, per iteration, the maximum
statistic and the largest cluster size and mass above a cluster-forming threshold. This
module does the same, but

- compiled end to end, for R replicates (subsets of analyses) at once from the SAME random
  foci (common random numbers): replicate ``r``'s null is exactly the one it would get run
  alone on those foci, and
- at a cost per replicate that follows the voxels that can pass its threshold or hold its
  maximum, found from one shared bound per iteration (see ``_numba_blocks``), not the
  kernels of its retained analyses.

Seeding: iterations run in fixed blocks of :data:`BLOCK_SIZE`; block ``b`` draws its foci
from the ``b``-th child of the given :class:`numpy.random.SeedSequence`, so results do not
depend on ``n_cores`` or on where the blocks run (threads by default; any joblib backend).
:func:`null_maxima_each` draws groups of replicates apart, each from its own seed (the shared
null's random subsets), all their blocks in one parallel pass.
"""

from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from nimare.meta.cbma.weights import normalize_weights
from tqdm.auto import tqdm

from nimare_stability.core.progress import tqdm_disable
from nimare_stability.engines import _numba_blocks as nb
from nimare_stability.engines import _numba_candidates as nc
from nimare_stability.engines import _numba_nested, parallel
from nimare_stability.engines.layout import FociLayout, build_layout
from nimare_stability.resampling.seeds import child_sequences

__all__ = [
    "BLOCK_SIZE",
    "FociLayout",
    "bound_tail",
    "build_layout",
    "child_sequences",
    "maxima_for_foci",
    "null_maxima",
    "null_maxima_each",
    "replicate_weights",
]

#: Iterations per random stream; fixed so results do not depend on the number of cores.
BLOCK_SIZE = 100
_MAXIMA = ("max_stat", "max_size", "max_mass")
#: Share of the lowest threshold's log sum, per focus an average voxel has in reach, below
#: which ALE's kernel voxels are bounded per block rather than stamped (see :func:`bound_tail`).
CUT_FRACTION = 0.2


class _Block(NamedTuple):
    """One block of iterations to draw.

    The replicates' weights and thresholds, the block's seed and iterations, and the
    checkpoint (or None) it is saved to as ``null-block-<index>``.
    """

    weights: np.ndarray
    thresholds: np.ndarray
    seed: np.random.SeedSequence
    n_iters: int
    store: object
    index: int
    nested: bool = False


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


def bound_tail(layout, weights, thresholds):
    """How much of ALE's kernels the bound leaves out: the ``tail`` of its kernel tables.

    The bound is the costliest step of an iteration, and its cost follows the kernel voxels
    it stamps. Kernel voxels of ``-log1p(-MA)`` up to ``tail`` are left out of it and
    bounded per block of voxels instead
    (:func:`~nimare_stability.engines._numba_candidates.stamp_shell`), which only widens
    the candidates (never changes a result). The tail is :data:`CUT_FRACTION` of the lowest
    threshold's ``-log1p(-threshold)``, divided by the foci an average voxel has within a
    kernel's reach: on n-back (6146 foci) it leaves out MA below about 4e-5, and on
    FailSafeN's grid of n-back (1976 analyses) below about 1e-5.

    Parameters
    ----------
    layout : FociLayout
    weights : float array of shape (R, n_analyses)
    thresholds : float array of shape (R,)

    Returns
    -------
    float
        0 for MKDADensity and KDA, whose kernels are never truncated.
    """
    if layout.mode != nc.ALE:
        return 0.0
    used = np.asarray(weights).any(axis=0)
    n_foci = int(np.diff(layout.focus_starts)[used].sum())
    in_reach = n_foci * (2 * layout.reach + 1) ** 3 / len(layout.null_ijk)
    level = -np.log1p(-min(float(np.min(thresholds)), 0.5))
    return CUT_FRACTION * level / max(in_reach, 1.0)


def _tables(layout, weights, thresholds):
    """Return the :class:`~nimare_stability.engines.layout.KernelTables` of one call."""
    return layout.kernel_tables(bound_tail(layout, weights, thresholds))


def _run(layout, tables, grouped_foci, weights, thresholds, nested=False):
    """Compiled pass over iterations of grouped foci, shape (n_iters, n_foci, 3).

    ``nested``: the replicates are nested (see :func:`null_maxima`).
    """
    reference = weights.max(axis=0)
    foci = np.ascontiguousarray(grouped_foci, dtype=np.int32)
    inputs = (foci, tables, layout.mode, layout.slot.copy(), layout.mask_flat, reference, weights)
    if nested:
        return tuple(_numba_nested.run_nested_block(*inputs, thresholds))
    complement = np.all((weights == 0) | (weights == reference), axis=1)
    return tuple(nb.run_block(*inputs, complement, thresholds))


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
    thresholds = _check_thresholds(stat_thresholds, len(weights))
    grouped = np.asarray(foci_ijk)[:, layout.focus_rows]
    return _run(layout, _tables(layout, weights, thresholds), grouped, weights, thresholds)


def _null_block(layout, tables, child, n_iters, weights, thresholds, nested=False):
    """Draw one block's foci from ``child`` and return its maxima."""
    rng = np.random.default_rng(child)
    draws = rng.integers(0, len(layout.null_ijk), size=(n_iters, layout.n_foci))
    return _run(layout, tables, layout.null_ijk[draws], weights, thresholds, nested)


def _block_sizes(n_iters):
    """Return the iterations of each block of a run of ``n_iters``."""
    if int(n_iters) < 1:
        raise ValueError(f"n_iters must be a positive integer; got {n_iters!r}.")
    return [min(BLOCK_SIZE, n_iters - start) for start in range(0, int(n_iters), BLOCK_SIZE)]


def null_maxima(
    layout,
    retained,
    stat_thresholds,
    n_iters,
    seed_sequence,
    n_cores=1,
    progress=False,
    weights=None,
    store=None,
    nested=False,
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
        Threads (or the tasks of joblib's active backend, a Dask cluster included);
        ``<= 0`` means all cores. Results do not depend on it.
    progress : bool, default=False
        Show a progress bar over iterations.
    weights : float array of shape (R, n_analyses), optional
        Per-replicate analysis weights (0 where left out), overriding
        :func:`replicate_weights`: pass the weights each replicate's statistic uses when
        they cannot be derived from the full fit's (MKDADensity imputing missing weights
        from the retained analyses).
    store : :class:`~nimare_stability.engines.checkpoint.Checkpoint`, optional
        Where finished blocks are saved (``null-block-<b>``) and read back instead of
        being drawn again.
    nested : bool, default=False
        The replicates are nested, each keeping every analysis of the one before
        (FailSafeN's sizes, whose thresholds differ several-fold): each analysis's kernels
        are stamped once per iteration and each replicate judged on its own bound, rather
        than every replicate on one bound at the lowest threshold. The same maxima.

    Returns
    -------
    max_stat, max_size, max_mass : float64 ndarrays of shape (R, n_iters)
        Per iteration: maximum statistic, largest cluster size (voxels) and largest
        cluster mass (sum of ``stat - threshold``), clusters 6-connected.
    """
    sizes = _block_sizes(n_iters)
    if weights is None:
        weights = replicate_weights(layout, retained)
    thresholds = _check_thresholds(stat_thresholds, len(weights))
    if nested:
        _check_nested(weights, "nested=True", "nested=False for these")
    children = child_sequences(seed_sequence, len(sizes))
    blocks = [
        _Block(weights, thresholds, child, size, store, b, nested)
        for b, (child, size) in enumerate(zip(children, sizes))
    ]
    return _concatenated(_draw(layout, blocks, n_cores, progress))


def null_maxima_each(
    layout,
    retained,
    stat_thresholds,
    n_iters,
    seed_sequences,
    n_cores=1,
    progress=False,
    weights=None,
    stores=None,
    groups=None,
):
    """Monte Carlo null maxima of groups of replicates drawn apart, each from its own seed.

    Group ``g`` (the rows ``groups[g]`` of ``retained``; by default each replicate alone)
    gets exactly what ``null_maxima(layout, retained[groups[g]], stat_thresholds[groups[g]],
    n_iters[g], seed_sequences[g], weights=weights[groups[g]], store=stores[g],
    nested=True)`` returns (each of its replicates keeps every analysis of the one before),
    but every group's blocks of iterations share one parallel pass (its tasks balanced over
    ``n_cores``).

    Parameters
    ----------
    layout : FociLayout
    retained : bool array of shape (R, n_analyses)
    stat_thresholds : float array of shape (R,)
    n_iters : sequence of G ints
    seed_sequences : sequence of G numpy.random.SeedSequence or int
    n_cores : int, default=1
    progress : bool, default=False
        Show a progress bar over iterations.
    weights : float array of shape (R, n_analyses), optional
        As in :func:`null_maxima`.
    stores : sequence of G Checkpoint or None, optional
        Where each group's finished blocks are saved and read back.
    groups : sequence of G int arrays, optional
        The replicates of each group, smallest first. Default: ``[[0], [1], ...]``.

    Returns
    -------
    list of G tuples ``(max_stat, max_size, max_mass)``, each float64 of shape
    (len(groups[g]), n_iters[g])
    """
    if weights is None:
        weights = replicate_weights(layout, retained)
    thresholds = _check_thresholds(stat_thresholds, len(weights))
    groups = [[r] for r in range(len(weights))] if groups is None else groups
    stores = [None] * len(groups) if stores is None else stores
    blocks, firsts = [], [0]
    for g, (rows, count, seeds, store) in enumerate(zip(groups, n_iters, seed_sequences, stores)):
        rows, sizes = np.asarray(rows), _block_sizes(count)
        _check_nested(weights[rows], f"groups[{g}]", "each group's replicates smallest first")
        for b, (child, size) in enumerate(zip(child_sequences(seeds, len(sizes)), sizes)):
            blocks.append(
                _Block(weights[rows], thresholds[rows], child, size, store, b, rows.size > 1)
            )
        firsts.append(len(blocks))
    drawn = _draw(layout, blocks, n_cores, progress)
    return [_concatenated(drawn[lo:hi]) for lo, hi in zip(firsts, firsts[1:])]


def _check_nested(weights, name, accepted):
    """Raise unless each replicate (row of ``weights``) keeps every analysis of the one before."""
    if not np.all((weights[1:] != 0) >= (weights[:-1] != 0)):
        raise ValueError(
            f"{name} needs replicates that each keep every analysis of the one before; "
            f"accepted: {accepted}."
        )


def _concatenated(blocks):
    """Return blocks of maxima joined along iterations."""
    return tuple(np.concatenate([block[i] for block in blocks], axis=1) for i in range(3))


def _draw(layout, blocks, n_cores, progress):
    """Return each :class:`_Block`'s maxima, in order: read back from its store or drawn.

    Every block drawn uses one set of kernel tables, chosen for the lowest threshold of all.
    """
    maxima = [None if block.store is None else _stored_block(block) for block in blocks]
    missing = [i for i, found in enumerate(maxima) if found is None]
    todo = [blocks[i] for i in missing]
    shared = tables = None  # nothing to scatter when resumed
    if todo:
        weights = np.vstack([block.weights for block in todo])
        thresholds = np.concatenate([block.thresholds for block in todo])
        shared = parallel.share(layout)
        tables = parallel.share(_tables(layout, weights, thresholds))
    drawn = Parallel(n_jobs=parallel.n_workers(n_cores), prefer="threads", return_as="generator")(
        delayed(_null_block)(shared, tables, b.seed, b.n_iters, b.weights, b.thresholds, b.nested)
        for b in todo
    )
    with tqdm(
        total=sum(block.n_iters for block in blocks),
        desc="Monte Carlo null",
        unit="iter",
        disable=tqdm_disable(progress),
    ) as bar:
        bar.update(sum(b.n_iters for b, found in zip(blocks, maxima) if found is not None))
        for i, found in zip(missing, drawn):
            maxima[i] = found
            if blocks[i].store is not None:
                blocks[i].store.save(f"null-block-{blocks[i].index}", **dict(zip(_MAXIMA, found)))
            bar.update(blocks[i].n_iters)
    return maxima


def _stored_block(block):
    arrays = block.store.load(f"null-block-{block.index}")
    return None if arrays is None else tuple(arrays[name] for name in _MAXIMA)
