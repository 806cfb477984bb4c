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

from nimare_stability.core import _nimare_private as private
from nimare_stability.core.volumes import mask_array
from nimare_stability.engines import _numba_candidates as nc
from nimare_stability.engines.families import statistic_family


class KernelTables(NamedTuple):
    """The arrays the compiled loops read to stamp kernels (a numba-friendly record).

    Attributes are those of :class:`FociLayout` with the same names; ``rows``, ``values``
    and ``starts`` are its ``kernel_rows``, ``kernel_values`` and ``kernel_starts``;
    ``bound_rows``, ``bound_values`` and ``bound_starts`` the same kernels without ALE's
    entries of magnitude up to ``tail`` (see :meth:`FociLayout.kernel_tables`), and ``shell``
    what those leave out, per block of voxels (see
    :func:`~nimare_stability.engines._numba_candidates.shell_table`); ``reach`` is
    the largest offset of any kernel voxel from its centre along an axis, and
    ``plane_end[q]`` the first run after run ``q`` with another ``di`` (or kernel).
    """

    focus_starts: np.ndarray
    analysis_kernel: np.ndarray
    rows: np.ndarray
    values: np.ndarray
    starts: np.ndarray
    bound_rows: np.ndarray
    bound_values: np.ndarray
    bound_starts: np.ndarray
    tail: float
    shell: np.ndarray
    reach: int
    plane_end: np.ndarray
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
        Kernels as runs along the last axis: ``(di, dj, dk0, length, first value)``; every
        voxel of NiMARE's kernel with a nonzero value.
    kernel_values : float64 ndarray of shape (n_kernel_voxels,)
        Per kernel voxel: ALE's ``log1p(-MA)``, else the sphere value.
    kernel_starts : int64 ndarray of shape (n_kernels + 1,)
        Kernel ``q`` is runs ``kernel_starts[q]:kernel_starts[q + 1]``.
    mode : int
        Statistic family (ALE, MKDA or KDA, see ``_numba_candidates``).
    shape : int64 ndarray of shape (3,)
        Volume shape.
    slot : int32 ndarray of shape (prod(shape),)
        ``-2`` outside the analysis mask, ``-1`` inside.
    null_ijk : int32 ndarray of shape (n_null, 3)
        Voxels the random foci are drawn from (the estimator's ``mask_coverage``).
    raw_weights : float64 ndarray of shape (n_analyses,) or None
        MKDADensity's unnormalised weights (``None``: equal weights).
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

    @property
    def n_analyses(self):
        """Number of analyses."""
        return len(self.ids)

    @property
    def n_foci(self):
        """Number of foci per iteration."""
        return int(self.focus_starts[-1])

    @property
    def mask_flat(self):
        """Flat indices of the in-mask voxels, ascending."""
        return np.flatnonzero(self.slot == nc.INSIDE)

    @property
    def reach(self):
        """Largest offset of any kernel voxel from its centre along an axis."""
        return int(np.abs(_voxel_offsets(self.kernel_rows)).max())

    def kernel_tables(self, tail=0.0):
        """Return the :class:`KernelTables` of this layout.

        Parameters
        ----------
        tail : float, default=0.0
            ALE only: the kernels stamped to bound the statistic leave out the voxels whose
            ``-log1p(-MA)`` is at most this (the engine bounds them instead). Results do not
            depend on it: statistics are always computed with the full kernels.
        """
        rows, values, starts = self.kernel_rows, self.kernel_values, self.kernel_starts
        dropped, shell = 0.0, np.zeros((0, 0))
        if self.mode == nc.ALE and tail > 0.0:
            shell = nc.shell_table(rows, values, starts, tail, *nc.shell_cells(self.reach))
            rows, values, starts, dropped = _truncated(rows, values, starts, tail)
        return KernelTables(
            self.focus_starts,
            self.analysis_kernel,
            self.kernel_rows,
            self.kernel_values,
            self.kernel_starts,
            rows,
            values,
            starts,
            dropped,
            shell,
            self.reach,
            _plane_ends(self.kernel_rows, self.kernel_starts),
            self.shape,
        )


def _voxel_offsets(rows):
    """Offsets of the first and last voxel of every run, shape (2 * n_runs, 3)."""
    last = rows[:, :3] + np.c_[np.zeros((len(rows), 2), np.int64), rows[:, 3] - 1]
    return np.r_[rows[:, :3], last]


def _plane_ends(rows, starts):
    """Index of the first run after each run whose ``di`` or kernel differs."""
    new_plane = np.r_[True, np.diff(rows[:, 0]) != 0]
    new_plane[starts[:-1]] = True
    firsts = np.r_[np.flatnonzero(new_plane), len(rows)]
    return np.repeat(firsts[1:], np.diff(firsts)).astype(np.int64)


def _group_foci(coordinates, ids):
    """Return ``(focus_starts, focus_rows)`` grouping coordinate rows by analysis id."""
    position = {analysis_id: a for a, analysis_id in enumerate(ids)}
    owner = np.array([position[i] for i in coordinates["id"]], dtype=np.int64)
    rows = np.argsort(owner, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(owner, minlength=len(ids)))]
    return starts.astype(np.int64), rows.astype(np.int64)


def _dense_to_support(kernel):
    """Offsets (from the centre voxel) and float32 values of a kernel's nonzero voxels."""
    nonzero = np.argwhere(kernel > 0)
    centre = np.asarray(kernel.shape) // 2
    return (nonzero - centre).astype(np.int32), kernel[tuple(nonzero.T)].astype(np.float32)


def _runs(offsets, first_value):
    """Split C-ordered kernel offsets into runs of consecutive ``dk`` (one row per run)."""
    if not len(offsets):  # a kernel the bound leaves out whole
        return np.zeros((0, 5), np.int64)
    new_run = np.r_[True, (np.diff(offsets, axis=0) != [0, 0, 1]).any(axis=1)]
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.r_[starts, len(offsets)])
    return np.column_stack([offsets[starts], lengths, first_value + starts]).astype(np.int64)


def _truncated(rows, values, starts, tail):
    """Kernel runs without the voxels whose ``-log1p(-MA)`` is at most ``tail``.

    Returns the runs, values and run starts of what is kept, and the largest magnitude left
    out (0 when none is).
    """
    lengths = rows[:, 3]
    run_of = np.repeat(np.arange(len(rows)), lengths)
    step = np.arange(len(run_of)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    offsets = rows[run_of, :3] + np.outer(step, [0, 0, 1])
    entries = values[rows[run_of, 4] + step]
    keep = -entries > tail
    bounds = np.r_[0, np.cumsum(lengths)][starts]  # each kernel's voxels, in run order
    kept = [
        (offsets[lo:hi][keep[lo:hi]], entries[lo:hi][keep[lo:hi]])
        for lo, hi in zip(bounds[:-1], bounds[1:])
    ]
    firsts = np.r_[0, np.cumsum([len(v) for _, v in kept])]
    runs = [_runs(off, first) for (off, _), first in zip(kept, firsts)]
    return (
        np.concatenate(runs),
        np.concatenate([v for _, v in kept]),
        np.r_[0, np.cumsum([len(r) for r in runs])].astype(np.int64),
        float(-entries[~keep].min(initial=0.0)),
    )


def _ale_supports(estimator, coordinates, focus_rows, focus_starts):
    """NiMARE's ALE kernel per distinct width, and each analysis's index into them."""
    kernel, mask = estimator.kernel_transformer, estimator.masker.mask_img
    n_ana = len(focus_starts) - 1
    if kernel.fwhm is not None:
        cubes, which = [get_ale_kernel(mask, fwhm=kernel.fwhm)[1]], np.zeros(n_ana, np.int64)
    else:
        if kernel.sample_size is not None:
            sizes = np.full(n_ana, kernel.sample_size, dtype=float)
        else:
            first_rows = focus_rows[focus_starts[:-1]]
            sizes = coordinates["sample_size"].to_numpy(dtype=float)[first_rows]
        unique, which = np.unique(sizes, return_inverse=True)
        cubes = [get_ale_kernel(mask, sample_size=n)[1] for n in unique]
    return [_dense_to_support(cube) for cube in cubes], which.astype(np.int64)


def _sphere_support(estimator):
    """(M)KDA's sphere: offsets and values."""
    kernel = estimator.kernel_transformer
    offsets = sphere_kernel_offsets(kernel.r, estimator.masker.mask_img.header.get_zooms())
    return offsets, np.full(len(offsets), kernel.value, dtype=np.float32)


def _tables(supports, mode):
    """Return runs, values (ALE: ``log1p(-MA)``) and run starts of kernel supports."""
    firsts = np.r_[0, np.cumsum([len(v) for _, v in supports])]
    runs = [_runs(off, first) for (off, _), first in zip(supports, firsts)]
    values = np.concatenate([s[1] for s in supports])
    values = nc.ale_log_table(values) if mode == nc.ALE else values.astype(np.float64)
    return np.concatenate(runs), values, np.r_[0, np.cumsum([len(r) for r in runs])]


def build_layout(estimator):
    """Describe a fitted kernel-CBMA estimator's foci, kernels and voxel spaces.

    Parameters
    ----------
    estimator : ALE, MKDADensity or KDA
        Fitted, with its default kernel family. It is deep-copied, never modified.

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
    if mode == nc.ALE:
        supports, analysis_kernel = _ale_supports(est, coordinates, focus_rows, focus_starts)
    else:
        supports, analysis_kernel = [_sphere_support(est)], np.zeros(len(ids), np.int64)
    kernel_rows, kernel_values, kernel_starts = _tables(supports, mode)
    slot = np.where(mask_array(mask).ravel(), nc.INSIDE, nc.OUTSIDE)
    raw = private.raw_weights(est) if mode == nc.MKDA else None
    return FociLayout(
        ids=ids,
        focus_starts=focus_starts,
        focus_rows=focus_rows,
        analysis_kernel=analysis_kernel,
        kernel_rows=kernel_rows,
        kernel_values=kernel_values,
        kernel_starts=kernel_starts,
        mode=mode,
        shape=np.asarray(mask.shape, dtype=np.int64),
        slot=slot.astype(np.int32),
        null_ijk=private.null_voxels(est).astype(np.int32),
        raw_weights=None if raw is None else np.asarray(raw, dtype=np.float64),
    )
