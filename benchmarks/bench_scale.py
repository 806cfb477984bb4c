"""Exact per-replicate Monte Carlo nulls at real scale: n-back (494 analyses, 201 studies).

Usage::

    python benchmarks/bench_scale.py [--n-iters 200] [--nimare-iters 10] [--full]

One process, one core unless said otherwise, ALE with per-analysis sample sizes
(``nimare_stability.datasets.load_nback_flanker("nback")``). Prints:

1. NiMARE 0.22.1's ``FWECorrector(method="montecarlo")`` on the full data, iterations/s.
2. The engine's nulls for 20 ``subsample_groups`` replicates (75% of studies), exact
   per-replicate null from common random foci, in replicate-iterations/s, and the ratio
   to NiMARE per core; the same for the engine it replaced
   (``tests/helpers/reference_engine.py``) on a few iterations. The replicates'
   cluster-forming thresholds (one approximate-null histogram each) are timed apart.
3. ``--full``: ``ResampledStability`` end to end, 100 grouped replicates x 5000 iterations
   on two cores: wall time and the process's peak RSS.
"""

import argparse
import logging
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _timed(func):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _replicates(result, n_resamples):
    """Retained-analysis matrix of ``n_resamples`` replicates keeping 75% of studies."""
    from nimare_stability.policies import resolve_policy

    from nimare_stability.core.analyses import AnalysisSet
    from nimare_stability.core.grouping import analysis_labels
    from nimare_stability.engines.fast import _retained_matrix

    analyses = AnalysisSet(result.estimator)
    study = analysis_labels("study", "groups", analyses)
    policy = resolve_policy("subsample_groups", target_n=0.75, n_resamples=n_resamples)
    splits = list(policy.split(analyses.ids, groups=study, rng=np.random.default_rng(0)))
    return splits, _retained_matrix(splits, analyses.ids.size)


def engine_throughput(result, n_iters, nimare_iters):
    """Print NiMARE's corrector rate, ours for 20 replicates, and their ratio per core."""
    from helpers.reference_engine import reference_maxima
    from nimare.correct import FWECorrector

    from nimare_stability.engines.kernels import KernelReplicates
    from nimare_stability.engines.montecarlo import build_layout, null_maxima

    corrector = FWECorrector(method="montecarlo", n_iters=nimare_iters, n_cores=1)
    t_nimare, _ = _timed(lambda: corrector.transform(result))
    nimare_rate = nimare_iters / t_nimare
    print(f"NiMARE FWECorrector(montecarlo), full data: {nimare_rate:.2f} it/s ({t_nimare:.1f} s)")

    splits, retained = _replicates(result, 20)
    replicates = KernelReplicates.from_estimator(result.estimator)
    t_setup, thresholds = _timed(
        lambda: [replicates.stat_threshold(kept, 0.001) for kept in splits]
    )
    print(f"cluster-forming thresholds of 20 replicates: {t_setup:.1f} s (one histogram each)")
    layout = build_layout(result.estimator)
    null_maxima(layout, retained, thresholds, 1, 0)  # numba compiles or loads its cache
    t_ours, _ = _timed(lambda: null_maxima(layout, retained, thresholds, n_iters, 1))
    ours = len(splits) * n_iters / t_ours
    print(
        f"engine, 20 replicates x {n_iters} iterations: {t_ours:.1f} s = {ours:.0f} "
        f"replicate-it/s -> {ours / nimare_rate:.0f}x NiMARE per core"
    )
    rng = np.random.default_rng(1)
    foci = layout.null_ijk[rng.integers(0, len(layout.null_ijk), (4, layout.n_foci))]
    reference_maxima(layout, foci[:1], retained, thresholds)  # compile
    t_old, _ = _timed(lambda: reference_maxima(layout, foci, retained, thresholds))
    old = len(splits) * len(foci) / t_old
    print(
        f"the engine it replaced, 20 replicates x {len(foci)} iterations: {old:.0f} "
        f"replicate-it/s -> {old / nimare_rate:.0f}x NiMARE per core"
    )


def full_run(result):
    """Print the wall time and peak RSS of 100 grouped replicates x 5000 iterations."""
    from nimare_stability import ResampledStability

    diagnostic = ResampledStability(
        target_image=TARGET,
        resampling_policy="subsample_groups",
        groups="study",
        target_n=0.75,
        n_resamples=100,
        n_iters=5000,
        random_state=0,
        n_cores=2,
        progress=False,
    )
    seconds, diagnosed = _timed(lambda: diagnostic.transform(result))
    summary = diagnosed.tables[f"{TARGET}_diag-ResampledStability_tab-summary"]
    print(
        f"ResampledStability, 100 grouped replicates x 5000 iterations, 2 cores: {seconds:.0f} s"
        f" ({seconds / 60:.1f} min), peak RSS {_peak_rss_mb():.0f} MB, "
        f"voxels >= .8: {int(summary['n_voxels_ge80'].iloc[0])}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iters", type=int, default=200)
    parser.add_argument("--nimare-iters", type=int, default=10)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")

    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE

    from nimare_stability.datasets import load_nback_flanker

    studyset = load_nback_flanker("nback")
    t_fit, fitted = _timed(lambda: ALE().fit(studyset))
    print(
        f"n-back: {len(studyset.ids)} analyses, {len(set(studyset.study_ids))} studies; "
        f"ALE fit {t_fit:.1f} s"
    )
    engine_throughput(fitted, args.n_iters, args.nimare_iters)
    if args.full:
        # The baseline's own null is not what is timed: a few iterations make its target.
        baseline = FWECorrector(method="montecarlo", n_iters=10, n_cores=1).transform(fitted)
        full_run(baseline)
    print(f"peak RSS of this process: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
