"""What the compiled Monte Carlo null engine knows of a fitted kernel CBMA estimator.

Its foci grouped by analysis, its kernels as runs of voxels, and the voxel spaces.

The estimator/kernel pairs it supports are those of
:data:`nimare_stability.engines.families.KERNEL_ESTIMATORS`.
"""

import copy
import dataclasses
from typing import NamedTuple

import numpy as np
from nimare.meta.utils import get_ale_kernel, sphere_kernel_offsets

from nimare_stability._nimare_private import RAW_WEIGHTS_ATTR, _mask_coverage_to_null_ijk
from nimare_stability.engines import _numba_kernels as nk
from nimare_stability.engines.families import statistic_family
from nimare_stability.volumes import mask_array


class KernelTables(NamedTuple):
    """The arrays the compiled loops read to stamp kernels (a numba-friendly record).

    Attributes are those of :class:`FociLayout` with the same names; ``rows``, ``values``
    and ``starts`` are its ``kernel_rows``, ``kernel_values`` and ``kernel_starts``.
    """

    focus_starts: np.ndarray
    analysis_kernel: np.ndarray
    rows: np.ndarray
    values: np.ndarray
    starts: np.ndarray
    dense_log: np.ndarray
    dense_starts: np.ndarray
    dense_width: np.ndarray
    shape: np.ndarray


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

    def kernel_tables(self):
        """Return the :class:`KernelTables` of this layout."""
        return KernelTables(
            self.focus_starts,
            self.analysis_kernel,
            self.kernel_rows,
            self.kernel_values,
            self.kernel_starts,
            self.dense_log,
            self.dense_starts,
            self.dense_width,
            self.shape,
        )

    @property
    def max_touched(self):
        """Upper bound on voxels touched per iteration."""
        return min(self.max_entries, int(np.count_nonzero(self.slot == nk.UNTOUCHED)))


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
    """Return truncated sparse supports, full ``log1p(-MA)`` cubes and the largest dropped term."""
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
    mode = statistic_family(estimator)
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
    slot = np.where(mask_array(mask).ravel(), nk.UNTOUCHED, nk.OUTSIDE)
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


def full_kernels(layout):
    """Return the layout with ALE's untruncated kernels, rebuilt from its dense cubes."""
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
