"""ResampledStability: NiMARE 0.22.1's versus ours, side by side on pain (ALE).

Usage: ``python benchmarks/bench_stability.py [--n-iters 5000] [--n-cores 1]
[--cases leave_1_out leave_k_out subsample] [--repeats 3]``

The baseline (ALE + FWECorrector(montecarlo)) is fit once (one run, not counted); our
ResampledStability then runs once untimed (numba compiles or loads its cache, and forked
children inherit it). Each repeat first times one Monte Carlo null of the full data,
NiMARE's ``FWECorrector(method="montecarlo")`` (its whole ``transform``) against our
engine's ``null_maxima`` for one replicate of every analysis (the single-null path, its
layout built once, not counted), in iterations/s per core. Then it runs every case in a
forked child, NiMARE's and ours (``null="shared"`` and ``null="replicate"``) on the same
policy, replicates' count, baseline and cores, so that its own peak RSS can be read. Each
time is the whole ``transform`` call (end to end). Prints the median (min - max) over the
repeats of the rates, seconds, ratios NiMARE / ours and the peak RSS of each case.
"""

import argparse
import logging
import multiprocessing
import os
import warnings

from _timing import Figures, add_repeats, header, peak_rss_mb, reset_peak_rss, timed

CASES = {
    "leave_1_out": dict(resampling_policy="leave_1_out"),
    "leave_k_out": dict(resampling_policy="leave_k_out", k=3, n_resamples=20, random_state=42),
    "subsample": dict(resampling_policy="subsample", target_n=15, n_resamples=20, random_state=42),
}
TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
BASELINE = {}


def _baseline(n_iters, n_cores):
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    corrector = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=n_cores)
    return timed(lambda: corrector.transform(ALE(random_state=0).fit(pain)))


def _single_null(n_iters, n_cores, figures):
    """Time NiMARE's Monte Carlo FWE correction and our single-null engine on the full data."""
    import numpy as np
    from nimare.correct import FWECorrector

    from nimare_stability.engines import parallel
    from nimare_stability.engines.montecarlo import build_layout, null_maxima

    result = BASELINE["result"]
    corrector = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=n_cores)
    t_nimare, _ = timed(lambda: corrector.transform(result))
    layout = build_layout(result.estimator)
    threshold = result.estimator._p_to_summarystat(0.001)
    everything = np.ones((1, layout.n_analyses), dtype=bool)
    t_ours, _ = timed(lambda: null_maxima(layout, everything, threshold, n_iters, 0, n_cores))
    per_core = parallel.n_workers(n_cores)
    figures.add(
        "single null: NiMARE FWECorrector(montecarlo), per core",
        n_iters / t_nimare / per_core,
        "it/s",
    )
    figures.add("single null: our engine, per core", n_iters / t_ours / per_core, "it/s")
    figures.add("single null: ratio ours / NiMARE", t_nimare / t_ours, "x")


def _case(args):
    """Run one case in this (forked) process; return (seconds, peak RSS in MB)."""
    who, name, null, n_cores = args
    result = BASELINE["result"]
    params = dict(CASES[name])
    reset_peak_rss()
    params.setdefault("random_state", 0)
    if who == "nimare":
        from nimare.diagnostics import ResampledStability as Upstream

        diagnostic = Upstream(target_image=TARGET, n_cores=n_cores, **params)
    else:
        from nimare_stability import ResampledStability

        diagnostic = ResampledStability(
            target_image=TARGET, null=null, n_cores=n_cores, progress=False, **params
        )
    seconds, _ = timed(lambda: diagnostic.transform(result))
    return seconds, peak_rss_mb()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--n-cores", type=int, default=1)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = add_repeats(parser).parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")

    from nimare_stability import ResampledStability

    header(f"pain, ALE, n_iters={args.n_iters}, n_cores={args.n_cores}", args.repeats)
    seconds, BASELINE["result"] = _baseline(args.n_iters, args.n_cores)
    print(f"baseline FWECorrector(montecarlo): {seconds:.1f} s (one run, not counted below)")
    for null in ("shared", "replicate"):  # untimed: numba compiles or loads its cache
        ResampledStability(
            target_image=TARGET, null=null, n_iters=10, n_cores=args.n_cores, progress=False
        ).transform(BASELINE["result"])

    context = multiprocessing.get_context("fork")
    figures = Figures()
    for index in range(args.repeats):
        figures.start_repeat(index, args.repeats)
        _single_null(args.n_iters, args.n_cores, figures)
        for name in args.cases:
            runs = {}
            for who, null in (("nimare", None), ("ours", "shared"), ("ours", "replicate")):
                with context.Pool(1) as pool:
                    runs[null] = pool.apply(_case, ((who, name, null, args.n_cores),))
            nimare_s = runs[None][0]
            figures.add(f"{name}: NiMARE 0.22.1", nimare_s)
            for null in ("shared", "replicate"):
                figures.add(f"{name}: ours, null={null!r}", runs[null][0])
                figures.add(f"{name}: ratio NiMARE / ours {null}", nimare_s / runs[null][0], "x")
            for null, label in (
                (None, "NiMARE"),
                ("shared", "ours shared"),
                ("replicate", "ours replicate"),
            ):
                figures.add(f"{name}: peak RSS, {label}", runs[null][1], "MB", 0)
    figures.report()


if __name__ == "__main__":
    main()
