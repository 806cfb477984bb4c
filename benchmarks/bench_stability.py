"""ResampledStability: NiMARE 0.22.1's versus ours, side by side on pain (ALE).

Usage: ``python benchmarks/bench_stability.py [--n-iters 5000] [--n-cores 1]``

The baseline (ALE + FWECorrector(montecarlo)) is fit once; each case then runs in a forked
child so that its own peak RSS can be read. Prints seconds, the ratio NiMARE / ours, and
peak RSS per case.
"""

import argparse
import logging
import multiprocessing
import os
import resource
import time
import warnings

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
    start = time.perf_counter()
    result = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=n_cores).transform(
        ALE(random_state=0).fit(pain)
    )
    return result, time.perf_counter() - start


def _case(args):
    """Run one case in this (forked) process; return (seconds, peak RSS in MB)."""
    who, name, null, n_cores = args
    result = BASELINE["result"]
    params = dict(CASES[name])
    start = time.perf_counter()
    if who == "nimare":
        from nimare.diagnostics import ResampledStability as Upstream

        params.setdefault("random_state", 0)
        Upstream(target_image=TARGET, n_cores=n_cores, **params).transform(result)
    else:
        from nimare_stability import ResampledStability

        params.setdefault("random_state", 0)
        ResampledStability(
            target_image=TARGET, null=null, n_cores=n_cores, progress=False, **params
        ).transform(result)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--n-cores", type=int, default=1)
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    args = parser.parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")

    BASELINE["result"], seconds = _baseline(args.n_iters, args.n_cores)
    print(f"pain, ALE, n_iters={args.n_iters}, n_cores={args.n_cores}")
    print(f"baseline FWECorrector(montecarlo): {seconds:.1f} s (not counted below)")
    print(
        f"{'case':<13}{'NiMARE 0.22.1':>15}{'ours shared':>14}{'ratio':>8}"
        f"{'ours replicate':>17}{'ratio':>8}   peak RSS MB (NiMARE/shared/replicate)"
    )
    context = multiprocessing.get_context("fork")
    for name in args.cases:
        runs = {}
        for who, null in (("nimare", None), ("ours", "shared"), ("ours", "replicate")):
            with context.Pool(1) as pool:
                runs[null] = pool.apply(_case, ((who, name, null, args.n_cores),))
        nimare_s = runs[None][0]
        print(
            f"{name:<13}{nimare_s:>14.1f}s{runs['shared'][0]:>13.1f}s"
            f"{nimare_s / runs['shared'][0]:>7.1f}x{runs['replicate'][0]:>16.1f}s"
            f"{nimare_s / runs['replicate'][0]:>7.1f}x   "
            f"{runs[None][1]:.0f}/{runs['shared'][1]:.0f}/{runs['replicate'][1]:.0f}"
        )


if __name__ == "__main__":
    main()
