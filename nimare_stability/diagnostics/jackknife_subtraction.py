"""A subtraction's statistic without one analysis, for NiMARE's Jackknife, without a refit.

NiMARE's :class:`~nimare.diagnostics.Jackknife` refits an ``ALESubtraction`` without each
analysis (group 1's for positive clusters, group 2's for negative ones), permutations
included, only to read its ``stat_desc-group1MinusGroup2`` map. That map is each group's
ALE from its analyses' MA maps: with both groups' maps pooled once, a left-out analysis
costs one pass over them, summed in the order the refit sums them, so the map is the
refit's value for value.
"""

import numpy as np

from nimare_stability.engines.pairwise import pooled_subtraction


class SubtractionLeaveOneOut:
    """Left-out statistics of a fitted ``ALESubtraction`` (ALE kernel).

    Parameters
    ----------
    estimator : fitted ``ALESubtraction``
        Not modified.
    """

    def __init__(self, estimator):
        self.maps, self.row_of = pooled_subtraction(estimator)
        n1 = self.maps.n_group1
        self.membership = np.repeat(np.int8([1, 2]), [n1, self.maps.n_analyses - n1])

    def statistic(self, analysis_id):
        """Return ``stat_desc-group1MinusGroup2`` refit without analysis ``analysis_id``.

        The analysis leaves the group it belongs to (an id is in one group only).
        """
        membership = self.membership.copy()
        membership[self.row_of[str(analysis_id)]] = 0
        return self.maps.difference(membership)[0]
