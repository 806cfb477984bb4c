"""Stability and Fragility of an ALE subtraction, n-back vs flanker, by study.

Usage: ``python benchmarks/bench_contrast_stability.py [--n-iters 5000] [--n-cores 2]
[--n-resamples 100] [--target voxel-fwe] [--nimare-iters 100] [--no-fragility]
[--repeats 3]``

NiMARE's bundled NeuroStore set (needs pyarrow): 494 n-back against 404 flanker
analyses. Timed, step by step, as a user runs them:

1. the baseline: ``nimare_stability.ALESubtraction(n_iters, random_state=0)`` fit;
2. for ``--target voxel-fwe``, NiMARE's ``FWECorrector(method="montecarlo",
   vfwe_only=True)`` (it reads the fit's voxel null);
3. ``ResampledStability(resampling_policy="subsample_groups", groups="study",
   target_n=0.8, n_resamples=...)``, both groups resampled, on the pairwise engine;
4. ``Fragility(groups="study")`` on the same target (unless ``--no-fragility``).

NiMARE 0.22.1's ``ResampledStability`` does not take a subtraction, so NiMARE's side is
the refit a replicate costs with NiMARE's own ``ALESubtraction`` (and corrector): one
replicate of the schedule refit at 1 and at ``--nimare-iters`` permutations, extrapolated
linearly to ``--n-iters``, times ``--n-resamples``, divided by ``--n-cores`` (replicates
in parallel). Printed: each step's time, the total, the peak memory of the process tree
(PSS), NiMARE's estimate and the ratio of the stability step.
"""

import argparse
import copy
import logging
import os
import warnings

from _timing import Figures, TreePss, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported
TARGETS = {
    "uncorrected": "z_desc-group1MinusGroup2",
    "voxel-fwe": "z_desc-group1MinusGroup2_level-voxel_corr-FWE_method-montecarlo",
}


def _stability(args):
    from nimare_stability import ResampledStability

    return ResampledStability(
        target_image=TARGETS[args.target],
        resampling_policy="subsample_groups",
        groups="study",
        target_n=0.8,
        n_resamples=args.n_resamples,
        random_state=0,
        n_cores=args.n_cores,
        progress=False,
    )


def _fragility(args):
    from nimare_stability import Fragility

    return Fragility(
        target_image=TARGETS[args.target],
        groups="study",
        random_state=0,
        n_cores=args.n_cores,
        progress=False,
    )


def _corrector(args):
    from nimare.correct import FWECorrector

    if args.target == "uncorrected":
        return None
    return FWECorrector(method="montecarlo", vfwe_only=True, n_cores=args.n_cores)


def _ours(groups, args, figures):
    from nimare_stability import ALESubtraction

    with TreePss() as pss:
        estimator = ALESubtraction(n_iters=args.n_iters, random_state=0, n_cores=args.n_cores)
        t_fit, result = timed(lambda: estimator.fit(*groups))
        corrector = _corrector(args)
        t_correct = 0.0
        if corrector is not None:
            t_correct, result = timed(lambda: corrector.transform(result))
        t_stability, diagnosed = timed(lambda: _stability(args).transform(result))
        t_fragility = 0.0
        if args.fragility:
            t_fragility, _ = timed(lambda: _fragility(args).transform(result))
    key = f"{TARGETS[args.target]}_diag-ResampledStability"
    engine = diagnosed.tables[f"{key}_tab-summary"]["engine"].iloc[0]
    figures.add("baseline ALESubtraction fit (ours)", t_fit, "s", 1)
    figures.add("correction", t_correct, "s", 1)
    figures.add(f"ResampledStability ({engine} engine)", t_stability, "s", 1)
    if args.fragility:
        figures.add("Fragility by study", t_fragility, "s", 1)
    figures.add("total", t_fit + t_correct + t_stability + t_fragility, "s", 1)
    figures.add("peak memory, all processes (PSS)", pss.peak_mb, "MB", 0)
    return result, t_stability


def _nimare_stability_seconds(result, args):
    """NiMARE refits of the schedule's replicates, from one like them timed twice."""
    import numpy as np
    from nimare.meta.cbma.ale import ALESubtraction

    from nimare_stability.core.analyses import AnalysisSet

    analyses = AnalysisSet(result.estimator)
    study_of = analyses.study_of()
    studies = np.array([study_of[i] for i in analyses.ids])
    unique = np.unique(studies)
    chosen = np.random.default_rng(0).choice(unique, size=round(0.8 * unique.size), replace=False)
    retained = np.flatnonzero(np.isin(studies, chosen))  # a replicate: 80% of the studies

    def refit(n_iters):
        estimator = ALESubtraction(n_iters=n_iters, random_state=1, n_cores=1)
        fitted = analyses.fit(copy.deepcopy(estimator), retained)
        corrector = _corrector(args)
        return fitted if corrector is None else copy.deepcopy(corrector).transform(fitted)

    t_run, _ = timed(lambda: refit(args.nimare_iters))
    t_one, _ = timed(lambda: refit(1))
    per_iter = (t_run - t_one) / (args.nimare_iters - 1)
    replicate = t_one + per_iter * (args.n_iters - 1)
    return replicate * args.n_resamples / args.n_cores


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--n-cores", type=int, default=2)
    parser.add_argument("--n-resamples", type=int, default=100)
    parser.add_argument("--target", choices=tuple(TARGETS), default="voxel-fwe")
    parser.add_argument("--nimare-iters", type=int, default=100)
    parser.add_argument("--no-fragility", dest="fragility", action="store_false")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for logger in ("nimare", "nimare_stability"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    from nimare_stability import ALESubtraction
    from nimare_stability.datasets import load_nback_flanker

    steps = "stability and Fragility" if args.fragility else "stability"
    header(
        f"ALE subtraction n-back vs flanker, {steps} by study ({args.n_resamples} grouped "
        f"subsamples of 80%), {args.target} target, n_iters={args.n_iters}, "
        f"n_cores={args.n_cores}",
        args.repeats,
    )
    groups = load_nback_flanker("nback"), load_nback_flanker("flanker")
    ALESubtraction(n_iters=1).fit(*groups)  # numba's cache
    figures = Figures()
    for repeat in range(args.repeats):
        figures.start_repeat(repeat, args.repeats)
        result, t_stability = _ours(groups, args, figures)
        t_nimare = _nimare_stability_seconds(result, args)
        figures.add("NiMARE refits of the replicates (extrapolated)", t_nimare, "s", 0)
        figures.add("NiMARE / ours, stability step", t_nimare / t_stability, "x", 1)
    figures.report(
        f"494 n-back vs 404 flanker analyses; NiMARE timed at 1 and {args.nimare_iters} "
        "permutations on one replicate"
    )


if __name__ == "__main__":
    main()
