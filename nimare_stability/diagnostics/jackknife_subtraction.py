"""A subtraction's statistic without one analysis, for NiMARE's Jackknife, without a refit.

NiMARE's :class:`~nimare.diagnostics.Jackknife` refits an ``ALESubtraction`` without each
analysis (group 1's for positive clusters, group 2's for negative ones), permutations
included, only to read its ``stat_desc-group1MinusGroup2`` map. That map is each group's
ALE from its analyses' MA maps: with both groups' maps pooled once, a left-out analysis
costs one pass over them, summed in the order the refit sums them, so the map is the
refit's value for value.
"""

import numpy as np

from nimare_stability.core._nimare_private import pairwise as private_pairwise
from nimare_stability.engines.permutations import PooledMaps


class SubtractionLeaveOneOut:
    """Left-out statistics of a fitted ``ALESubtraction`` (ALE kernel).

    Parameters
    ----------
    estimator : fitted ``ALESubtraction``
        Not modified.
    """

    def __init__(self, estimator):
        self.maps = PooledMaps.from_groups(*private_pairwise.pairwise_ma_maps(estimator))
        ids = private_pairwise.ma_row_ids(estimator)
        offsets = (0, len(ids[0]))
        self.row_of = [
            {analysis: offset + row for row, analysis in enumerate(group_ids)}
            for offset, group_ids in zip(offsets, ids)
        ]
        self.membership = np.repeat(np.int8([1, 2]), [len(group_ids) for group_ids in ids])

    def statistic(self, analysis_id, group):
        """Return ``stat_desc-group1MinusGroup2`` refit without ``analysis_id`` of ``group``."""
        membership = self.membership.copy()
        membership[self.row_of[group - 1][str(analysis_id)]] = 0
        return self.maps.difference(membership)[0]
