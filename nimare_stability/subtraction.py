"""NiMARE's ``ALESubtraction``, its permutation null run by the compiled pairwise engine.

:class:`ALESubtraction` subclasses :class:`nimare.meta.cbma.ale.ALESubtraction`: the same
parameters, maps, null distributions and description; NiMARE's own code builds the MA maps,
the group maps and the observed difference, and the engine of
:mod:`nimare_stability.engines.permutations` runs the permutations.
"""

import logging

from nimare.meta.cbma import ale

from nimare_stability.core._nimare_private.pairwise import SubtractionHooks
from nimare_stability.engines.permutations import Permutations, PooledMaps

LGR = logging.getLogger(__name__)


class ALESubtraction(SubtractionHooks, ale.ALESubtraction):
    """NiMARE's ALE subtraction, its permutation null drawn by a compiled engine.

    A drop-in replacement for :class:`nimare.meta.cbma.ale.ALESubtraction`: the same
    parameters, the same maps (``stat``, ``p``, ``z`` and ``logp`` of
    ``desc-group1MinusGroup2`` and of each group), the same ``null_distributions_`` and
    description. It runs NiMARE's own permutations (the same ``random_state`` gives the
    same relabellings), so its p values are NiMARE's: each permutation's group ALE maps are
    computed in float64 from the same ``log1p(-MA)`` values, as NiMARE computes them, only
    summed in another order (the last bits of a sum may differ, not a comparison with the
    observed difference, in every case tested). Only the speed differs.

    Each permutation's difference map is streamed, never stored. With ``vfwe_only=False``
    (cluster-level nulls) NiMARE writes every permutation's map to disk, takes the
    cluster-forming threshold as a quantile of all of them and labels each map's clusters;
    the engine streams the permutations twice instead: first keeping only the largest
    values the quantile reads, then each map's voxels above the threshold, whose clusters
    it labels as NiMARE does (6-connected, each tail apart; mass summed in voxel order).

    In Python it is opt-in; the ``nimare-stability`` command uses it for two-group runs.

    Parameters
    ----------
    kernel_transformer, n_iters, voxel_thresh, low_memory, vfwe_only, \
restrict_to_inference_mask, memory, memory_level, n_cores, random_state, **kwargs
        As :class:`nimare.meta.cbma.ale.ALESubtraction`. ``n_cores`` threads share one copy
        of the MA maps; the result does not depend on it. ``low_memory`` changes how NiMARE
        builds the MA maps; the engine then holds both groups' maps, voxel-major, in memory.

    Notes
    -----
    Per permutation and voxel, group 1's ALE is ``1 - exp(l1)``, with ``l1`` the sum of
    ``log1p(-MA)`` over the analyses the permutation puts in group 1, and group 2's is
    ``1 - exp(lt - l1)``, ``lt`` the sum over all analyses. The engine sums ``l1`` for 128
    permutations at once and compares it with the value at which the difference equals the
    observed one; only where rounding could decide the comparison, or where the difference
    may be a permutation's largest, does it compute the difference itself.

    See Also
    --------
    nimare.meta.cbma.ale.ALESubtraction : The estimator this one replaces.

    Examples
    --------
    >>> from nimare_stability import ALESubtraction
    >>> from nimare_stability.datasets import load_nback_flanker
    >>> nback, flanker = load_nback_flanker("nback"), load_nback_flanker("flanker")
    >>> result = ALESubtraction(n_iters=5000, random_state=0).fit(nback, flanker)
    """

    def permutation_null(
        self, group1, group2, observed, group1_rows, n_iters, n_cores, voxel_thresh=None
    ):
        """Run the permutations on the compiled engine.

        Parameters
        ----------
        group1, group2 : sparse matrices, shape (n_analyses_in_group, n_voxels)
            Each group's MA maps.
        observed : array, shape (n_voxels,)
            The observed group-1 minus group-2 ALE.
        group1_rows : callable
            ``group1_rows(i)``: the pooled rows permutation ``i`` puts in group 1.
        n_iters, n_cores : :obj:`int`
        voxel_thresh : :obj:`float`, optional
            The cluster-forming p of a cluster-level null (None: voxel level only).

        Returns
        -------
        abs_max : array, shape (n_iters,)
            Each permutation's largest absolute difference.
        upper, lower : uint32 arrays, shape (n_voxels,)
            Permutations reaching at least / at most the observed difference, per voxel.
        cluster_null : callable or None
            With ``voxel_thresh``: ``cluster_null(voxel_flat, shape, asked_thresh)``
            returns NiMARE's cluster-forming threshold (the ``1 - asked_thresh`` quantile
            of every permutation's ``|d|``, float32) and each permutation's largest cluster
            size and mass (float32), the voxels at C-order indices ``voxel_flat`` of a grid
            of ``shape``. The largest values the quantile reads are collected while the
            counts are (for ``voxel_thresh``; another ``asked_thresh`` streams the
            permutations once more).
        """
        LGR.info("Running the subtraction's permutations with nimare_stability's engine.")
        maps = PooledMaps.from_groups(group1, group2)
        permutations = Permutations(maps, observed, group1_rows, n_iters, n_cores)
        if voxel_thresh is None:
            null = permutations.null()
            return null.abs_max, null.upper, null.lower, None
        null = permutations.null(top=permutations.top_for(voxel_thresh))

        def cluster_null(voxel_flat, shape, asked_thresh):
            largest = null.largest if asked_thresh == voxel_thresh else None  # else stream again
            return permutations.cluster_null(asked_thresh, voxel_flat, shape, largest)

        return null.abs_max, null.upper, null.lower, cluster_null
