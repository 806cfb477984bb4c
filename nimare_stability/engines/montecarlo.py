"""Compiled Monte Carlo null engine for kernel CBMA (ALE, MKDADensity, KDA).

NiMARE's ``FWECorrector(method="montecarlo")`` redraws every focus uniformly from the null
voxel space, rebuilds the summary statistic map and keeps, per iteration, the maximum
statistic and the largest cluster size and mass above a cluster-forming threshold. This
module does the same, but

- compiled end to end, for R replicates (subsets of analyses) at once from the SAME random
  foci (common random numbers): replicate ``r``'s null is exactly the one it would get run
  alone on those foci, and
- at a cost per replicate that follows the voxels that can pass its threshold or hold its
  maximum, found from one shared bound per iteration (see ``_numba_kernels``), not the
  kernels of its retained analyses.

Seeding: iterations run in fixed blocks of :data:`BLOCK_SIZE`; block ``b`` draws its foci
from the ``b``-th child of the given :class:`numpy.random.SeedSequence`, so results do not
depend on ``n_cores`` or on where the blocks run (threads by default; any joblib backend).
"""

import numpy as np
from joblib import Parallel, delayed
from nimare.meta.cbma.weights import normalize_weights
from tqdm.auto import tqdm

from nimare_stability.core.progress import tqdm_disable
from nimare_stability.engines import _numba_kernels as nk
from nimare_stability.engines import parallel
from nimare_stability.engines.layout import FociLayout, build_layout
from nimare_stability.resampling.seeds import child_sequences

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
_MAXIMA = ("max_stat", "max_size", "max_mass")


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


def _run(layout, grouped_foci, weights, thresholds):
    """Compiled pass over iterations of grouped foci, shape (n_iters, n_foci, 3)."""
    reference = weights.max(axis=0)
    complement = np.all((weights == 0) | (weights == reference), axis=1)
    return tuple(
        nk.run_block(
            np.ascontiguousarray(grouped_foci, dtype=np.int32),
            layout.kernel_tables(),
            layout.mode,
            layout.slot.copy(),
            layout.mask_flat,
            reference,
            weights,
            complement,
            thresholds,
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


def _null_block(layout, child, n_iters, weights, thresholds):
    """Draw one block's foci from ``child`` and return its maxima."""
    rng = np.random.default_rng(child)
    draws = rng.integers(0, len(layout.null_ijk), size=(n_iters, layout.n_foci))
    return _run(layout, layout.null_ijk[draws], weights, thresholds)


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
    blocks = [None if store is None else _stored_block(store, b) for b in range(len(sizes))]
    todo = [b for b, block in enumerate(blocks) if block is None]
    shared = parallel.share(layout) if todo else layout  # nothing to scatter when resumed
    drawn = Parallel(n_jobs=parallel.n_workers(n_cores), prefer="threads", return_as="generator")(
        delayed(_null_block)(shared, children[b], sizes[b], weights, thresholds) for b in todo
    )
    with tqdm(
        total=int(n_iters), desc="Monte Carlo null", unit="iter", disable=tqdm_disable(progress)
    ) as bar:
        bar.update(sum(size for size, block in zip(sizes, blocks) if block is not None))
        for b, block in zip(todo, drawn):
            blocks[b] = block
            if store is not None:
                store.save(f"null-block-{b}", **dict(zip(_MAXIMA, block)))
            bar.update(sizes[b])
    return tuple(np.concatenate([block[i] for block in blocks], axis=1) for i in range(3))


def _stored_block(store, b):
    arrays = store.load(f"null-block-{b}")
    return None if arrays is None else tuple(arrays[name] for name in _MAXIMA)
