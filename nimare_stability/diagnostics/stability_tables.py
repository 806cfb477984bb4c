"""Stability outputs: the sampling-error map and the summary, cluster and other tables."""

import numpy as np
import pandas as pd

from nimare_stability.core.clusters import LOCATION


def sampling_error(stability, n_replicates, n_possible, exhaustive):
    """Return the standard error of each voxel's stability.

    0 for exhaustive schedules; for random distinct subsets
    ``sqrt(s(1 - s) / R * (M - R) / (M - 1))``, with ``M`` the number of possible subsets
    (no finite-population factor when ``M`` is unknown).
    """
    s = np.abs(stability)
    if exhaustive:
        return np.zeros_like(s)
    variance = s * (1 - s) / n_replicates
    if n_possible is not None and n_possible > 1:
        variance *= (n_possible - n_replicates) / (n_possible - 1)
    return np.sqrt(variance)


def summary_table(stability, settings):
    """One-row summary: the run's settings, then counts over the stability map."""
    s = np.abs(stability)
    nonzero = s[s > 0]
    row = dict(settings)
    row.update(
        n_voxels_nonzero=int(nonzero.size),
        n_voxels_ge50=int(np.count_nonzero(s >= 0.5)),
        n_voxels_ge80=int(np.count_nonzero(s >= 0.8)),
        mean_nonzero=float(nonzero.mean()) if nonzero.size else 0.0,
    )
    return pd.DataFrame([row])


def clusters_table(stability, accumulator):
    """One row per baseline cluster, with the distribution of its voxels' stability."""
    columns = [
        "cluster_id",
        "tail",
        *LOCATION,
        "n_voxels",
        "mean",
        "median",
        "min",
        "share_ge50",
        "share_ge80",
        "detection_rate",
        "unstable",
    ]
    rows = []
    for column, cluster in enumerate(accumulator.clusters):
        values = np.clip(cluster.sign * stability[cluster.voxels], 0, None)
        rows.append(
            [
                cluster.cluster_id,
                cluster.tail,
                *cluster.location,
                cluster.voxels.size,
                values.mean(),
                np.median(values),
                values.min(),
                np.mean(values >= 0.5),
                np.mean(values >= 0.8),
                accumulator.detected[:, column].mean(),
                values.mean() < 0.5,
            ]
        )
    return pd.DataFrame(rows, columns=columns)


def replicates_table(schedule, seeds, accumulator):
    """One row per replicate: its seed, retained and left-out ids, and how it compares."""
    ids = np.asarray(schedule.ids)
    rows = []
    for index, (retained, seed) in enumerate(zip(schedule.splits, seeds)):
        rows.append(
            {
                "replicate": index,
                "seed": seed,
                "retained": ";".join(ids[retained]),
                "left_out": ";".join(ids[schedule.left_out(index)]),
                "n_support": int(accumulator.n_support[index]),
                "dice": float(accumulator.dice[index]),
                "n_clusters": int(accumulator.n_clusters[index]),
            }
        )
    return pd.DataFrame(rows)


def influence_table(row_name, row_labels, accumulator):
    """Leave-one(-group)-out influence: 1 where a cluster vanished without that row.

    Columns are named as Jackknife's ``_tab-counts`` columns (``"PositiveTail 1"``), so
    the two tables join on them.
    """
    table = pd.DataFrame(
        (~accumulator.detected).astype(np.int64),
        columns=[cluster.label for cluster in accumulator.clusters],
    )
    table.insert(0, row_name, list(row_labels))
    return table


def vanish_shares(schedule, accumulator):
    """Per analysis and cluster: the share of the replicates leaving it out where it vanished.

    Returns
    -------
    (n_analyses, n_clusters) ndarray
        Leave-one-out: 1 where the cluster vanishes without the analysis (the influence);
        0 for analyses no replicate leaves out.
    """
    left_out = np.zeros((len(schedule), len(schedule.ids)))
    for index in range(len(schedule)):
        left_out[index, schedule.left_out(index)] = 1
    n_out = left_out.sum(axis=0)
    vanished = left_out.T @ (~accumulator.detected).astype(np.float64)
    return np.divide(
        vanished, n_out[:, None], out=np.zeros_like(vanished), where=n_out[:, None] > 0
    )
