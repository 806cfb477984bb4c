"""MKDAChi2, n-back vs flanker: NiMARE's Monte Carlo FWE and stability against ours.

Usage: ``python benchmarks/bench_chi2.py [--n-iters 5000] [--nimare-iters 100]
[--n-cores 2] [--n-resamples 100] [--repeats 3]``

NiMARE's bundled NeuroStore set (needs pyarrow): 494 n-back against 404 flanker analyses,
``MKDAChi2(random_state=0)`` (MKDA kernel, label-permutation null). Timed, as a user runs
them, on ``--n-cores`` cores:

1. the baseline correction, ``FWECorrector(method="montecarlo", n_iters=...)``: NiMARE's
   against ``nimare_stability.FWECorrector`` (the same permutations: the maps are checked
   equal at ``--nimare-iters``);
2. ``ResampledStability(resampling_policy="subsample_groups", groups="study",
   target_n=0.8)`` of the association's cluster-size FWE map on the chi2 engine, against
   NiMARE's refits of the replicates (NiMARE 0.22.1's ``ResampledStability`` takes no
   pairwise estimator).

NiMARE's correction costs a fixed part plus a constant time per permutation; it is timed
at 1 and at ``--nimare-iters`` permutations and extrapolated linearly to ``--n-iters``
(printed as such); its refits likewise, on one replicate of the schedule, times
``--n-resamples``, divided by ``--n-cores`` (replicates in parallel). Both run in this one
process, as a user would run them: NiMARE's per-permutation cost includes nilearn's
garbage collection in each masker call, which grows with the objects alive.
"""

import argparse
import logging
import os
import warnings

import numpy as np
from _timing import Figures, TreePss, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported
TARGET = "z_desc-associationSize_level-cluster_corr-FWE_method-montecarlo"


def _extrapolated(run, n_iters, nimare_iters):
    """``run(iters)``'s time at ``n_iters``, from runs at 1 and ``nimare_iters``."""
    t_run, result = timed(lambda: run(nimare_iters))
    t_one, _ = timed(lambda: run(1))
    per_iter = (t_run - t_one) / (nimare_iters - 1)
    return t_one + per_iter * (n_iters - 1), result


def _same(theirs, ours):
    """Whether two corrected results hold the same maps and nulls, value for value."""
    nulls = theirs.estimator.null_distributions_, ours.estimator.null_distributions_
    return (
        sorted(theirs.maps) == sorted(ours.maps)
        and all(np.array_equal(theirs.maps[k], ours.maps[k], equal_nan=True) for k in theirs.maps)
        and sorted(nulls[0]) == sorted(nulls[1])
        and all(np.array_equal(nulls[0][k], nulls[1][k]) for k in nulls[0])
    )


def _replicate(result):
    """One replicate of the schedule: 80% of each group's studies."""
    from nimare_stability.core.analyses import AnalysisSet

    analyses = AnalysisSet(result.estimator)
    study_of = analyses.study_of()
    studies = np.array([study_of[i] for i in analyses.ids])
    unique = np.unique(studies)
    chosen = np.random.default_rng(0).choice(unique, size=round(0.8 * unique.size), replace=False)
    return analyses, np.flatnonzero(np.isin(studies, chosen))


def _repeat(groups, args, figures):
    """Time ours, then NiMARE's, once."""
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import MKDAChi2

    from nimare_stability import FWECorrector as OurFWECorrector
    from nimare_stability import ResampledStability

    with TreePss() as pss:
        t_fit, result = timed(lambda: MKDAChi2(random_state=0).fit(*groups))
        ours = OurFWECorrector(method="montecarlo", n_iters=args.n_iters, n_cores=args.n_cores)
        t_ours, corrected = timed(lambda: ours.transform(result))
        stability = ResampledStability(
            target_image=TARGET,
            resampling_policy="subsample_groups",
            groups="study",
            target_n=0.8,
            n_resamples=args.n_resamples,
            random_state=0,
            n_cores=args.n_cores,
            progress=False,
        )
        t_stability, diagnosed = timed(lambda: stability.transform(corrected))
    engine = diagnosed.tables[f"{TARGET}_diag-ResampledStability_tab-summary"]["engine"]

    def nimare_correction(iters):
        corrector = FWECorrector(method="montecarlo", n_iters=iters, n_cores=args.n_cores)
        return corrector.transform(result)

    t_nimare, theirs = _extrapolated(nimare_correction, args.n_iters, args.nimare_iters)
    small = OurFWECorrector(method="montecarlo", n_iters=args.nimare_iters)
    same = _same(theirs, small.transform(result))
    print(f"  same maps and nulls as NiMARE's at {args.nimare_iters}: {same}")
    analyses, retained = _replicate(result)

    def refit(iters):
        fitted = analyses.fit(MKDAChi2(random_state=1), retained)
        return FWECorrector(method="montecarlo", n_iters=iters).transform(fitted)

    t_replicate, _ = _extrapolated(refit, args.n_iters, args.nimare_iters)
    t_refits = t_replicate * args.n_resamples / args.n_cores
    figures.add("MKDAChi2 fit", t_fit, "s", 1)
    figures.add("NiMARE FWECorrector (extrapolated)", t_nimare, "s", 0)
    figures.add("nimare_stability.FWECorrector", t_ours, "s", 1)
    figures.add("NiMARE / ours, correction", t_nimare / t_ours, "x", 1)
    figures.add(f"ResampledStability ({engine.iloc[0]} engine)", t_stability, "s", 1)
    figures.add("NiMARE refits of the replicates (extrapolated)", t_refits, "s", 0)
    figures.add("NiMARE / ours, stability", t_refits / t_stability, "x", 1)
    figures.add("fit + correction + stability (ours)", t_fit + t_ours + t_stability, "s", 1)
    figures.add("peak memory, all processes (PSS)", pss.peak_mb, "MB", 0)


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--nimare-iters", type=int, default=100)
    parser.add_argument("--n-cores", type=int, default=2)
    parser.add_argument("--n-resamples", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for logger in ("nimare", "nimare_stability"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    from nimare_stability.datasets import load_nback_flanker

    header(
        f"MKDAChi2 n-back vs flanker: Monte Carlo FWE (n_iters={args.n_iters}) and stability "
        f"by study ({args.n_resamples} grouped subsamples of 80%), n_cores={args.n_cores}",
        args.repeats,
    )
    groups = load_nback_flanker("nback"), load_nback_flanker("flanker")
    figures = Figures()
    for repeat in range(args.repeats):
        figures.start_repeat(repeat, args.repeats)
        _repeat(groups, args, figures)
    figures.report(
        f"494 n-back vs 404 flanker analyses; NiMARE timed at 1 and {args.nimare_iters} "
        "permutations"
    )


if __name__ == "__main__":
    main()
