"""The private names of NiMARE's ``ALESubtraction`` this package relies on.

``tests/test_nimare_private.py`` checks each, as for the rest of this package.
"""

import copy

import numpy as np
import pandas as pd
from nimare.diagnostics import POSTAIL_LBL
from nimare.meta.cbma.ale import _collect_masked_ma_maps
from nimare.meta.cbma.null_utils import _ChunkedCSRGroup
from nimare.results import MetaResult
from nimare.transforms import p_to_z
from nimare.utils import DEFAULT_FLOAT_DTYPE, _mask_img_to_bool, _p_to_logp_values
from scipy import sparse

__all__ = [
    "PERMUTATION_STREAM",
    "SUBTRACTION_HOOKS",
    "SUBTRACTION_JACKKNIFE_HOOK",
    "SubtractionHooks",
    "SubtractionJackknifeHooks",
    "corrected_subtraction_maps",
    "ma_row_ids",
    "pairwise_ma_maps",
    "permutation_rows",
    "subtraction_maps",
]

#: The random stream NiMARE's subtraction seeds its permutations from.
PERMUTATION_STREAM = "alesubtraction_permutations"
#: Where the cluster-level null waits between the two hooks of one fit.
_PENDING = "_pending_cluster_null"
#: The methods of ``ALESubtraction`` that :class:`SubtractionHooks` overrides or calls.
SUBTRACTION_HOOKS = (
    "_run_null_permutations",
    "_compute_cluster_nulls",
    "_iteration_seeds",
    "_permute_pairwise_group_indices",
    "_finalize_alediff_tail_counts",
    "_finalize_masked_alediff_tail_counts",
)


class SubtractionHooks:
    """Mixin routing NiMARE's ``ALESubtraction`` permutations to ``permutation_null``.

    Put it before :class:`nimare.meta.cbma.ale.ALESubtraction` in the bases. NiMARE's
    ``_fit`` builds both groups' MA maps and the observed difference, then asks
    ``_run_null_permutations`` for each permutation's largest absolute difference and the
    voxels' p values and signs, and, with ``vfwe_only=False``,
    ``_compute_cluster_nulls`` for the cluster-forming threshold and each permutation's
    largest cluster (from every permutation's map, which NiMARE writes to a memmap). The
    subclass defines ``permutation_null(group1, group2, observed, group1_rows, n_iters,
    n_cores, voxel_thresh)``, given NiMARE's own permutations (``group1_rows(i)``: the
    pooled rows, group 1's first, that NiMARE's permutation ``i`` puts in group 1) and the
    estimator's cluster-forming p (None for voxel-level inference only). It returns
    ``(abs_max, upper, lower, cluster_null)``: ``cluster_null(voxel_flat, shape,
    voxel_thresh)`` gives ``(threshold, max_sizes, max_masses)`` at the cluster-forming p
    asked for (NiMARE's Monte Carlo correction may ask for another), for the maps' voxels
    at those C-order indices of a grid of that shape (None without ``voxel_thresh``).
    NiMARE's own code turns the counts into p values and signs; the memmap stays
    unwritten. Without an observed map (NiMARE's correction recomputing its null), the
    counts are ignored.
    """

    def _run_null_permutations(
        self,
        ma_store,
        n_iters,
        n_cores,
        diff_ale_values=None,
        iter_diff_values=None,
        group1_mask=None,
        group2_mask=None,
    ):
        seeds = self._iteration_seeds(n_iters, stream=PERMUTATION_STREAM)
        n_total, n_group1 = ma_store.n_total, ma_store.n_group1

        def group1_rows(i):
            return self._permute_pairwise_group_indices(n_total, n_group1, seeds[i])[0]

        # NiMARE's Monte Carlo correction recomputes the null without an observed map.
        observed = diff_ale_values
        if observed is None:
            observed = np.zeros(ma_store.n_voxels, DEFAULT_FLOAT_DTYPE)
        voxel_thresh = None if iter_diff_values is None else self.voxel_thresh
        abs_max, upper, lower, cluster_null = self.permutation_null(
            _csr(ma_store.group1),
            _csr(ma_store.group2),
            observed,
            group1_rows,
            n_iters,
            n_cores,
            voxel_thresh,
        )
        if cluster_null is not None:
            setattr(self, _PENDING, cluster_null)
        if diff_ale_values is None:
            p_values = signs = None
        elif group1_mask is None and group2_mask is None:
            p_values, signs = self._finalize_alediff_tail_counts(upper, lower, n_iters)
        else:
            p_values, signs = self._finalize_masked_alediff_tail_counts(
                upper, lower, diff_ale_values, group1_mask, group2_mask, n_iters
            )
        return abs_max.astype(DEFAULT_FLOAT_DTYPE), p_values, signs

    def _compute_cluster_nulls(self, iter_diff_values, voxel_thresh, n_iters, union_mask=None):
        cluster_null = self.__dict__.pop(_PENDING, None)
        if cluster_null is None:  # not after our permutations: NiMARE's, from the memmap
            return super()._compute_cluster_nulls(
                iter_diff_values, voxel_thresh, n_iters, union_mask=union_mask
            )
        mask = _mask_img_to_bool(self.masker.mask_img)
        voxel_flat = np.flatnonzero(mask)  # the masker's voxel order
        if union_mask is not None:  # NiMARE's fit then restricts the maps to it
            voxel_flat = voxel_flat[union_mask]
        return cluster_null(voxel_flat, mask.shape, voxel_thresh)


#: NiMARE's Jackknife method that refits without one analysis (:class:`SubtractionJackknifeHooks`).
SUBTRACTION_JACKKNIFE_HOOK = "_leave_one_out_values"


class SubtractionJackknifeHooks:
    """Mixin giving NiMARE's Jackknife of a subtraction its left-out statistics.

    Put it before :class:`nimare.diagnostics.Jackknife` in the bases. For each left-out
    analysis NiMARE refits the subtraction (permutations included) only to read its
    ``stat_desc-group1MinusGroup2`` map; the subclass's ``_left_out_statistic(id, group)``
    returns that map without analysis ``id`` of group 1 or 2 (None: NiMARE refits), and
    NiMARE's voxel-wise ``1 - without / with`` follows, as its refit path computes it.
    """

    def _leave_one_out_values(self, expid, sign, result, target_value_map, image_cache=None):
        statistic = self._left_out_statistic(expid, 1 if sign == POSTAIL_LBL else 2)
        if statistic is None:
            return super()._leave_one_out_values(expid, sign, result, target_value_map, image_cache)
        stat_values = result.get_map(target_value_map, return_type="array")
        with np.errstate(divide="ignore", invalid="ignore"):
            prop_values = np.nan_to_num(np.true_divide(statistic, stat_values))
        return 1 - prop_values, result.estimator.masker


def _csr(group):
    """One group's MA maps as one CSR matrix (NiMARE's low-memory chunks joined)."""
    if isinstance(group, _ChunkedCSRGroup):
        return sparse.vstack([sparse.csr_matrix(chunk) for chunk in group.chunks], "csr")
    return group


def pairwise_ma_maps(estimator):
    """Both groups' MA maps of a fitted ``ALESubtraction``, rows as its fit orders them.

    The rows of a group follow ``inputs_["coordinates1"]`` (``"coordinates2"``): a fit on a
    subset of a group's analyses has the subset's rows in the same relative order. The
    estimator is not modified.
    """
    shell = copy.copy(estimator)
    return tuple(
        _csr(_collect_masked_ma_maps(shell, coords_key=f"coordinates{g}", maps_key=f"ma_maps{g}"))
        for g in (1, 2)
    )


def ma_row_ids(estimator):
    """Each group's analysis ids in MA-row order (one array per group)."""
    return tuple(pd.unique(estimator.inputs_[f"coordinates{g}"]["id"]).astype(str) for g in (1, 2))


def permutation_rows(estimator, seed, n_total, n_group1, n_iters, stream=PERMUTATION_STREAM):
    """``rows(i)``: the rows NiMARE's permutations with ``random_state=seed`` put in group 1.

    Rows index the fit's pooled analyses, group 1's first (``n_total`` in all); ``stream``
    names the permutations (the subtraction's by default).
    """
    shell = copy.copy(estimator)
    shell.random_state = seed
    seeds = shell._iteration_seeds(n_iters, stream=stream)
    return lambda i: shell._permute_pairwise_group_indices(n_total, n_group1, seeds[i])[0]


def subtraction_maps(estimator, observed, upper, lower, n_iters):
    """Return the four ``desc-group1MinusGroup2`` maps a fit writes from its counts."""
    p_values, signs = estimator._finalize_alediff_tail_counts(upper, lower, n_iters)
    maps = {
        "stat_desc-group1MinusGroup2": observed,
        "p_desc-group1MinusGroup2": p_values,
        "z_desc-group1MinusGroup2": p_to_z(p_values, tail="two") * signs,
        "logp_desc-group1MinusGroup2": _p_to_logp_values(p_values, dtype=DEFAULT_FLOAT_DTYPE),
    }
    return MetaResult(None, mask=estimator.masker, maps=maps).maps  # stored as a fit's


def corrected_subtraction_maps(estimator, maps, nulls, corrector):
    """``corrector``'s maps of a subtraction fit's ``maps``, given the nulls it would draw.

    ``nulls`` holds the ``null_distributions_`` NiMARE's Monte Carlo correction reads or
    would recompute (its iterations, cluster-forming p and ``vfwe_only``), so that it
    corrects from them without refitting.
    """
    shell = copy.copy(estimator)
    shell.inputs_, shell.dataset1, shell.dataset2 = {}, None, None
    options = corrector.parameters
    shell.n_iters = options.get("n_iters") or estimator.n_iters
    shell.voxel_thresh = options.get("voxel_thresh", 0.001)
    shell.vfwe_only = options.get("vfwe_only", False)
    shell.null_distributions_ = dict(nulls)
    result = MetaResult(estimator=shell, mask=estimator.masker, maps=maps)
    return copy.deepcopy(corrector).transform(result).maps
