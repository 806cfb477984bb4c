"""Exact per-replicate Monte Carlo nulls at real scale: n-back (494 analyses, 201 studies).

Usage::

    python benchmarks/bench_scale.py [--n-iters 200] [--nimare-iters 10] [--full] [--repeats 3]

One process, one core unless said otherwise, ALE with per-analysis sample sizes
(``nimare_stability.datasets.load_nback_flanker("nback")``), fit once. Each repeat prints:

1. NiMARE 0.22.1's ``FWECorrector(method="montecarlo")`` on the full data, iterations/s;
   its output is the baseline the next step diagnoses.
2. End to end: ``ResampledStability`` with 20 ``subsample_groups`` replicates (75% of
   studies) and an exact per-replicate null of ``--n-iters`` iterations each, timed around
   ``transform`` (MA maps, the replicates' cluster-forming thresholds, the layout, the
   nulls, supports, clusters and tables): replicate-iterations/s and the ratio to NiMARE
   per core, i.e. NiMARE's corrector run once per replicate (its refits not counted).
3. The same 20 replicates (read back from the replicate table) piece by piece: the MA maps,
   the 20 thresholds (one approximate-null histogram each; beside them NiMARE's own
   ``_compute_null_approximate`` for the same replicates, checked equal), the layout, and
   the engine's nulls alone, with the engine-only ratio; then the engine it replaced
   (``tests/helpers/reference_engine.py``) on a few iterations.
4. ``--full``: ``ResampledStability`` end to end, 100 grouped replicates x 5000 iterations
   on two cores: wall time, the main process's peak RSS and the peak PSS of the process
   with its worker processes (sampled every 0.5 s).

numba compiles (or loads its on-disk cache) in an untimed call first.
"""

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from _timing import Figures, TreePss, add_repeats, header, peak_rss_mb, reset_peak_rss, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
STEM = f"{TARGET}_diag-ResampledStability"
N_REPLICATES = 20


def _stability(**params):
    from nimare_stability import ResampledStability

    settings = dict(
        target_image=TARGET,
        resampling_policy="subsample_groups",
        groups="study",
        target_n=0.75,
        random_state=0,
        progress=False,
    )
    return ResampledStability(**{**settings, **params})


def _splits(diagnosed, estimator):
    """Retained positions of each replicate of a diagnosed result, in the engine's order."""
    from nimare_stability.core.analyses import AnalysisSet

    ids = AnalysisSet(estimator).ids
    retained = diagnosed.tables[f"{STEM}_tab-replicates"]["retained"]
    return [np.flatnonzero(np.isin(ids, kept.split(";"))) for kept in retained]


def one_repeat(fitted, args, figures, first):
    """Time NiMARE's corrector, our transform end to end and the engine's pieces once."""
    from helpers.reference_engine import reference_maxima
    from nimare.correct import FWECorrector

    from nimare_stability.engines.fast import _retained_matrix
    from nimare_stability.engines.kernels import KernelReplicates
    from nimare_stability.engines.montecarlo import build_layout, null_maxima

    corrector = FWECorrector(method="montecarlo", n_iters=args.nimare_iters, n_cores=1)
    t_nimare, baseline = timed(lambda: corrector.transform(fitted))
    nimare_rate = args.nimare_iters / t_nimare
    figures.add(f"NiMARE FWECorrector(montecarlo), full data, {args.nimare_iters} it", t_nimare)
    figures.add("NiMARE FWECorrector(montecarlo): rate", nimare_rate, "it/s", 2)

    work = N_REPLICATES * args.n_iters
    diagnostic = _stability(n_resamples=N_REPLICATES, n_iters=args.n_iters, n_cores=1)
    t_e2e, diagnosed = timed(lambda: diagnostic.transform(baseline))
    figures.add(f"ours end to end: {N_REPLICATES} replicates x {args.n_iters} it", t_e2e)
    figures.add("ours end to end: rate", work / t_e2e, "rep-it/s", 0)
    figures.add("ours end to end: ratio to NiMARE per core", work / t_e2e / nimare_rate, "x", 1)

    splits = _splits(diagnosed, fitted.estimator)
    retained = _retained_matrix(splits, len(fitted.estimator.inputs_["id"]))
    t_kernels, replicates = timed(lambda: KernelReplicates.from_estimator(fitted.estimator))
    t_thresholds, thresholds = timed(
        lambda: [replicates.stat_threshold(kept, 0.001) for kept in splits]
    )
    t_theirs, theirs = timed(lambda: [_nimare_threshold(replicates, kept) for kept in splits])
    assert theirs == thresholds, "thresholds differ from NiMARE's"
    t_layout, layout = timed(lambda: build_layout(fitted.estimator))
    t_engine, _ = timed(lambda: null_maxima(layout, retained, thresholds, args.n_iters, 1))
    figures.add("  pieces: MA maps", t_kernels)
    figures.add(f"  pieces: {N_REPLICATES} cluster-forming thresholds", t_thresholds)
    figures.add(f"  NiMARE's histograms, the same {N_REPLICATES} thresholds", t_theirs)
    figures.add("  thresholds: NiMARE / ours per replicate", t_theirs / t_thresholds, "x", 1)
    figures.add("  pieces: layout", t_layout)
    figures.add("  pieces: engine nulls alone", t_engine)
    figures.add(
        "  pieces: rest of transform (support, clusters, tables)",
        t_e2e - t_kernels - t_thresholds - t_layout - t_engine,
    )
    figures.add("engine alone: rate", work / t_engine, "rep-it/s", 0)
    figures.add("engine alone: ratio to NiMARE per core", work / t_engine / nimare_rate, "x", 1)

    rng = np.random.default_rng(1)
    foci = layout.null_ijk[rng.integers(0, len(layout.null_ijk), (4, layout.n_foci))]
    if first:
        reference_maxima(layout, foci[:1], retained, thresholds)  # compile
    t_old, _ = timed(lambda: reference_maxima(layout, foci, retained, thresholds))
    old = len(splits) * len(foci) / t_old
    figures.add(f"the engine it replaced ({len(foci)} it): rate", old, "rep-it/s", 0)
    figures.add("the engine it replaced: ratio to NiMARE per core", old / nimare_rate, "x", 1)
    return baseline


def _nimare_threshold(replicates, kept):
    """A replicate's threshold from NiMARE's own ``_compute_null_approximate``."""
    from nimare_stability.core import _nimare_private as private

    estimator = replicates._estimator
    rows = np.sort(replicates._rows[kept])
    ids = replicates._kernel_ids[rows]
    coordinates = estimator.inputs_["coordinates"]
    coordinates = coordinates[coordinates["id"].isin(ids)]
    ma_maps = replicates.ma_maps[rows]
    subset = private.subset_copy(estimator, ids, coordinates, ma_maps)
    return private.p_to_stat(private.null_histogram(subset, ma_maps), 0.001, "approximate")


def full_run(baseline, figures):
    """Time 100 grouped replicates x 5000 iterations on two cores; peak RSS and PSS."""
    diagnostic = _stability(n_resamples=100, n_iters=5000, n_cores=2)
    exact = reset_peak_rss()
    with TreePss() as tree:
        seconds, diagnosed = timed(lambda: diagnostic.transform(baseline))
    summary = diagnosed.tables[f"{STEM}_tab-summary"].iloc[0]
    figures.add("--full: 100 grouped replicates x 5000 it, 2 cores", seconds, "s", 0)
    figures.add("--full: same, in minutes", seconds / 60, "min", 1)
    rss = "peak RSS, main process" + ("" if exact else " (since start)")
    figures.add(f"--full: {rss}", peak_rss_mb() / 1024, "GB", 2)
    figures.add("--full: peak PSS, with worker processes", tree.peak_mb / 1024, "GB", 2)
    return int(summary["n_voxels_ge80"])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iters", type=int, default=200)
    parser.add_argument("--nimare-iters", type=int, default=10)
    parser.add_argument("--full", action="store_true")
    args = add_repeats(parser).parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")

    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE

    from nimare_stability.datasets import load_nback_flanker

    header("n-back (ALE, per-analysis sample sizes), one process", args.repeats)
    studyset = load_nback_flanker("nback")
    t_fit, fitted = timed(lambda: ALE().fit(studyset))
    print(
        f"n-back: {len(studyset.ids)} analyses, {len(set(studyset.study_ids))} studies; "
        f"ALE fit {t_fit:.1f} s (once, not repeated)"
    )
    # Untimed: numba compiles (or loads its cache) on a run of 2 replicates x 2 iterations.
    warm = FWECorrector(method="montecarlo", n_iters=2, n_cores=1).transform(fitted)
    _stability(n_resamples=2, n_iters=2, n_cores=1).transform(warm)

    figures = Figures()
    voxels = None
    for index in range(args.repeats):
        figures.start_repeat(index, args.repeats)
        baseline = one_repeat(fitted, args, figures, first=index == 0)
        if args.full:
            # The baseline's own null is not what is timed: a few iterations make its target.
            voxels = full_run(baseline, figures)
    figures.report()
    if voxels is not None:
        print(f"--full: voxels with stability >= .8: {voxels}")


if __name__ == "__main__":
    main()
