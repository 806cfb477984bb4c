"""The private names of NiMARE's ``MKDAChi2`` this package relies on.

``tests/test_nimare_private.py`` checks each, as for the rest of this package.
"""

import copy

import numpy as np
import pandas as pd
from nimare.correct import FWECorrector
from nimare.meta.cbma.utils import collect_csr_ma_maps
from nimare.results import MetaResult
from nimare.utils import _mask_img_to_bool
from scipy import sparse

__all__ = [
    "CHI2_PERMUTATION_STREAM",
    "chi2_fit",
    "chi2_ma_maps",
    "chi2_result",
    "corrected_chi2",
]

#: The random stream NiMARE's ``MKDAChi2`` seeds its label permutations from.
CHI2_PERMUTATION_STREAM = "chi2_label_permutations"


def chi2_ma_maps(estimator):
    """Return both groups' binary MA maps of a fitted ``MKDAChi2`` (int32 CSR), in row order.

    The rows of a group follow ``inputs_["coordinates1"]`` (``"coordinates2"``), as
    :func:`~nimare_stability.core._nimare_private.pairwise.ma_row_ids` lists them. Integer,
    so that a fit's counts summed from them have the kernel's integer type (its float32
    maps would turn the fit's probability maps to float32). The estimator is not modified.
    """
    shell = copy.copy(estimator)
    return tuple(
        collect_csr_ma_maps(shell, coords_key=f"coordinates{g}", maps_key=f"ma_maps{g}").astype(
            np.int32
        )
        for g in (1, 2)
    )


def chi2_fit(estimator, ids, maps):
    """Fit NiMARE's ``MKDAChi2`` on some analyses of each group, from their MA maps.

    Parameters
    ----------
    estimator : fitted ``MKDAChi2``
        The baseline's; not modified.
    ids : pair of arrays of str
        Each group's analyses kept, in MA-row order.
    maps : pair of CSR matrices
        Their binary MA maps (one row per id).

    Returns
    -------
    shell : ``MKDAChi2``
        A copy fitted on those analyses (its inputs hold their coordinates).
    maps : dict
        The fit's maps, as a ``MetaResult`` stores them.
    """
    shell = copy.copy(estimator)
    inputs = {}
    for g, (kept, group_maps) in enumerate(zip(ids, maps), start=1):
        coordinates = estimator.inputs_[f"coordinates{g}"]
        inputs[f"id{g}"] = np.asarray(kept)
        inputs[f"coordinates{g}"] = coordinates[coordinates["id"].isin(kept)]
        inputs[f"ma_maps{g}"] = group_maps
    shell.inputs_ = inputs
    fitted, _, _ = shell._fit(None, None)
    shell.inputs_ = {key: value for key, value in inputs.items() if not key.startswith("ma_")}
    shell.dataset1 = shell.dataset2 = None
    return shell, MetaResult(estimator=shell, mask=estimator.masker, maps=fitted).maps


def chi2_result(shell, maps):
    """Return a ``MetaResult`` of an ``MKDAChi2`` fit's ``maps`` (from :func:`chi2_fit`)."""
    return MetaResult(estimator=shell, mask=shell.masker, maps=maps)


def corrected_chi2(result, corrector, maxima=None):
    """Apply NiMARE's ``corrector`` to an ``MKDAChi2`` result; ``result`` is not modified.

    Parameters
    ----------
    result : ``MetaResult``
    corrector : NiMARE corrector
    maxima : array, shape (n_iters, 9), optional
        For a Monte Carlo FWE correction with label permutations: each permutation's
        largest value, cluster size and mass of the group 1, group 2 and association tests,
        as NiMARE's permutations of this fit would give them. NiMARE's own correction reads
        them instead of permuting (one task at a time: there is nothing left to share), and
        the corrected result's estimator is the fit's, with the null distributions added.
    """
    if maxima is None:
        return corrector.transform(result)
    estimator = result.estimator
    shell = copy.copy(estimator)
    shell.kernel_transformer = _RowsOnly(estimator.masker)
    shell._run_label_perm_fwe_permutation = _GivenMaxima(maxima)
    shadow = copy.copy(result)
    shadow.estimator = shell
    one_task = copy.deepcopy(corrector)
    one_task.parameters["n_cores"] = 1
    corrected = FWECorrector.transform(one_task, shadow)
    del corrected.estimator._run_label_perm_fwe_permutation
    corrected.estimator.kernel_transformer = copy.deepcopy(estimator.kernel_transformer)
    corrected.corrector = corrector
    return corrected


class _GivenMaxima:
    """Stands for ``MKDAChi2._run_label_perm_fwe_permutation``: permutation ``i``'s maxima."""

    def __init__(self, maxima):
        self.maxima = maxima

    def __call__(self, i_iter, *args, **kwargs):
        return tuple(self.maxima[i_iter])


class _RowsOnly:
    """Stands for the kernel in a correction given its maxima: empty maps, one row per id.

    NiMARE's correction reads only the number of rows of each group's maps before it asks
    each permutation for its maxima.
    """

    def __init__(self, masker):
        self.n_voxels = int(np.count_nonzero(_mask_img_to_bool(masker.mask_img)))

    def transform(self, coordinates, masker=None, return_type="sparse"):
        n_rows = pd.unique(coordinates["id"]).size
        return sparse.csr_matrix((n_rows, self.n_voxels), dtype=np.float32)
