"""The per-cluster verdict: join stability with NiMARE's Jackknife contributions.

A cluster is ``robust``; ``one-analysis`` when a single analysis contributes more than
``one_analysis`` of it (Jackknife); ``unstable`` when its mean stability is below
``unstable``; ``fragile`` when both hold.
"""

from collections import Counter

import numpy as np
import pandas as pd
from nimare.diagnostics import Diagnostics

from nimare_stability import clusters as cluster_labels
from nimare_stability import mapnames
from nimare_stability._results import derived_result
from nimare_stability._validation import check_number
from nimare_stability.baseline import baseline, support_rule
from nimare_stability.stability import DIAGNOSTIC, ResampledStability, check_result

COLUMNS = ["cluster_id", "tail", "mean_stability", "top_analysis", "top_contribution", "verdict"]


def robustness_table(result, target_image=None, one_analysis=0.8, unstable=0.5):
    """Judge each cluster of ``target_image`` by its stability and its top contributor.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        Holds the outputs of :class:`~nimare_stability.ResampledStability` and of
        :class:`~nimare.diagnostics.Jackknife` for ``target_image``.
    target_image : str, optional
        Defaults to the target of the last ResampledStability run on ``result``.
    one_analysis : float, default=0.8
        Top Jackknife contribution above which a cluster rests on one analysis.
    unstable : float, default=0.5
        Mean stability below which a cluster is unstable.

    Returns
    -------
    :class:`pandas.DataFrame`
        One row per stability cluster, columns ``cluster_id``, ``tail``, ``mean_stability``,
        ``top_analysis``, ``top_contribution``, ``verdict``. Clusters are joined with
        Jackknife's by label value when both used the same threshold, and by the largest
        voxel overlap otherwise.
    """
    check_result(result)
    check_number("one_analysis", one_analysis, 0, 1, bounds="[]", optional=False)
    check_number("unstable", unstable, 0, 1, bounds="[]", optional=False)
    diagnostic = _stability_run(result, target_image)
    target_image = diagnostic.target_image
    stability = result.tables[f"{mapnames.diagnostic_stem(target_image, DIAGNOSTIC)}_tab-clusters"]
    _, clusters = baseline(result, support_rule(result, diagnostic))
    by_key = {(c.tail, c.cluster_id): c for c in clusters}
    rows = []
    for _, row in stability.iterrows():
        cluster = by_key[(row["tail"], row["cluster_id"])]
        top_analysis, top = _top_contributor(result, target_image, cluster)
        is_one = top > one_analysis
        is_unstable = row["mean"] < unstable
        verdict = {
            (False, False): "robust",
            (True, False): "one-analysis",
            (False, True): "unstable",
            (True, True): "fragile",
        }[(bool(is_one), bool(is_unstable))]
        rows.append([row["cluster_id"], row["tail"], row["mean"], top_analysis, top, verdict])
    return pd.DataFrame(rows, columns=COLUMNS)


class RobustnessVerdict(Diagnostics):
    """Workflow step writing ``target_image + "_tab-robustness"``.

    List it after ``"jackknife"`` and ``"resampledstability"``.

    .. versionadded:: 0.1.0

    Parameters
    ----------
    target_image : str
        Set by the workflow for each target.
    one_analysis, unstable : float
        See :func:`robustness_table`.
    target_threshold, cluster_threshold, n_cores : optional
        Accepted because NiMARE's workflows pass them to every diagnostic named by string;
        the verdict reads clusters from the diagnostics that ran before it.
    """

    def __init__(
        self,
        target_image="z_desc-size_level-cluster_corr-FWE_method-montecarlo",
        one_analysis=0.8,
        unstable=0.5,
        target_threshold=None,
        cluster_threshold=None,
        n_cores=1,
    ):
        self.target_image = target_image
        self.one_analysis = one_analysis
        self.unstable = unstable
        self.target_threshold = target_threshold
        self.cluster_threshold = cluster_threshold
        self.n_cores = n_cores

    def _transform(self, expid, label_map, sign, result, **kwargs):
        raise NotImplementedError(
            "RobustnessVerdict reads whole tables in transform(); it has no per-analysis step "
            "for Diagnostics.transform to call."
        )

    def transform(self, result):
        """Return a new result with the ``_tab-robustness`` table added.

        Parameters
        ----------
        result : :obj:`~nimare.results.MetaResult`
            Holds the outputs of ResampledStability and Jackknife. Never modified.

        Returns
        -------
        :obj:`~nimare.results.MetaResult`
        """
        table = robustness_table(result, self.target_image, self.one_analysis, self.unstable)
        return derived_result(result, self, tables={f"{self.target_image}_tab-robustness": table})


def _stability_run(result, target_image):
    runs = [
        d
        for d in result.diagnostics
        if isinstance(d, ResampledStability) and target_image in (None, d.target_image)
    ]
    if not runs:
        ran = sorted({d.target_image for d in result.diagnostics if hasattr(d, "target_image")})
        raise ValueError(
            f"target_image={target_image!r}: no ResampledStability output in this result; "
            f"run ResampledStability first (diagnostics run on: {ran or 'none'})."
        )
    return runs[-1]


def _top_contributor(result, target_image, cluster):
    """Return (analysis id, contribution) of the largest Jackknife contributor.

    (None, nan) when Jackknife has no cluster overlapping ``cluster``.
    """
    labels = result.maps.get(mapnames.label_map_name(target_image, cluster.tail))
    counts = _jackknife_counts(result, target_image, cluster.tail)
    if labels is None or counts is None:
        raise ValueError(
            f"No Jackknife output for target_image={target_image!r} ({cluster.tail} tail) in "
            "this result; run nimare.diagnostics.Jackknife on the same target first."
        )
    overlap = Counter(int(v) for v in np.asarray(labels)[cluster.voxels] if v > 0)
    if not overlap:
        return None, np.nan
    column = f"{cluster_labels.TAIL_LABELS[cluster.tail]} {overlap.most_common(1)[0][0]}"
    contributions = counts.set_index("id")[column].astype(float)
    return contributions.idxmax(), float(contributions.max())


def _jackknife_counts(result, target_image, tail):
    stem = f"{mapnames.diagnostic_stem(target_image, 'Jackknife')}_tab-counts"
    return result.tables.get(f"{stem}_tail-{tail}", result.tables.get(stem))
