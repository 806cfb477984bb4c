"""The analyses a result was fit on, as replicates index them, and how a replicate refits.

Single-group estimators resample ``inputs_["id"]``. Pairwise estimators resample group 1,
group 2, or both pooled (``resample_group``); with ``"both"`` the groups stay as they were,
so a replicate refits ``fit(dataset1.slice(kept1), dataset2.slice(kept2))``.
"""

import numpy as np
import pandas as pd
from nimare.meta.cbma.base import CBMAEstimator, PairwiseCBMAEstimator

GROUPS = ("group1", "group2")


class AnalysisSet:
    """Resampled analyses of a fitted estimator.

    Parameters
    ----------
    estimator : fitted NiMARE estimator
    resample_group : {"both", "group1", "group2"}
        Pairwise estimators only.

    Attributes
    ----------
    ids : ndarray of str
        Resampled analysis ids; schedules index them.
    membership : ndarray of str or None
        ``"group1"``/``"group2"`` per id when both pairwise groups are resampled.
    """

    def __init__(self, estimator, resample_group="both"):
        self.pairwise = isinstance(estimator, PairwiseCBMAEstimator)
        if not self.pairwise and resample_group != "both":
            raise ValueError(
                f"resample_group={resample_group!r} applies to pairwise estimators only, not "
                f"{type(estimator).__name__}; accepted: resample_group='both' (the default)."
            )
        self.estimator = estimator
        self.resample_group = resample_group if self.pairwise else None
        keys = ("dataset1", "dataset2") if self.pairwise else ("dataset",)
        self.collections = [getattr(estimator, key, None) for key in keys]
        inputs = getattr(estimator, "inputs_", {})
        id_keys = ("id1", "id2") if self.pairwise else ("id",)
        if any(c is None for c in self.collections) or any(k not in inputs for k in id_keys):
            raise ValueError(
                f"{type(estimator).__name__} holds no fitted data "
                f"({', '.join(f'estimator.{k}' for k in keys)}, inputs_); accepted: the "
                "result of estimator.fit(...)."
            )
        self.group_ids = [np.asarray(inputs[k]).astype(str) for k in id_keys]
        self.coordinates = [
            inputs.get(k)
            for k in (("coordinates1", "coordinates2") if self.pairwise else ("coordinates",))
        ]
        self.is_cbma = isinstance(estimator, CBMAEstimator)
        if not self.pairwise:
            self.ids, self.membership = self.group_ids[0], None
        elif resample_group == "both":
            self.ids = np.concatenate(self.group_ids)
            self.membership = np.repeat(GROUPS, [len(g) for g in self.group_ids])
        else:
            self.ids, self.membership = self.group_ids[GROUPS.index(resample_group)], None

    def fit(self, estimator, retained):
        """Fit ``estimator`` (a private copy) on the retained analyses."""
        if not self.pairwise:
            return estimator.fit(self.collections[0].slice(list(self.ids[retained])))
        kept = set(self.ids[retained])
        subsets = [
            collection.slice([i for i in ids if i in kept])
            if self.resample_group in ("both", group)
            else collection
            for collection, ids, group in zip(self.collections, self.group_ids, GROUPS)
        ]
        return estimator.fit(*subsets)

    def smallest_replicate(self, splits):
        """Return the fewest analyses any replicate keeps.

        With ``resample_group="both"``, the fewest of either group.
        """
        if self.membership is None:
            return min(len(retained) for retained in splits)
        return min(
            int(np.sum(self.membership[retained] == group))
            for retained in splits
            for group in GROUPS
        )

    def study_of(self):
        """Map each analysis id to its Studyset study id."""
        if self.is_cbma:
            frame = pd.concat([c[["id", "study_id"]] for c in self.coordinates])
        else:
            frame = pd.concat([c.metadata[["id", "study_id"]] for c in self.collections])
        return dict(zip(frame["id"], frame["study_id"]))

    def frames(self):
        """Metadata and annotation frames of the fitted collections (id column first)."""
        return [
            frame
            for collection in dict.fromkeys(self.collections)
            for frame in (collection.metadata, collection.annotations_df)
        ]
