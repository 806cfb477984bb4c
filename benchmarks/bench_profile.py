"""The full robustness profile on pain (ALE), one core and two, beside NiMARE 0.22.1's tools.

Usage: ``python benchmarks/bench_profile.py [--n-iters 5000] [--cores 1 2] [--skip-nimare]``

The baseline (ALE + FWECorrector(montecarlo)) is fit once. The profile is ours:
ResampledStability (leave-one-out) + Fragility + FailSafeN (defaults: 10 drawers of up to
10 N null analyses) + the verdict. NiMARE 0.22.1 has neither Fragility nor a fail-safe N;
its leave-one-out ResampledStability and its Jackknife are timed beside our
leave-one-out step, with the ratio NiMARE / ours.
"""

import argparse
import logging
import os
import resource
import time
import warnings

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _baseline(n_iters):
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    start = time.perf_counter()
    result = FWECorrector(method="montecarlo", n_iters=n_iters).transform(
        ALE(random_state=0).fit(pain)
    )
    return result, time.perf_counter() - start


def _timed(step, result):
    start = time.perf_counter()
    out = step(result)
    return out, time.perf_counter() - start


def profile(result, n_cores):
    """Run the profile; return the result and the seconds of each step."""
    from nimare_stability import FailSafeN, Fragility, ResampledStability, robustness_table

    common = {"target_image": TARGET, "random_state": 0, "n_cores": n_cores, "progress": False}
    seconds = {}
    for name, diagnostic in (
        ("ResampledStability (leave-one-out)", ResampledStability(**common)),
        ("Fragility", Fragility(**common)),
        ("FailSafeN", FailSafeN(**common)),
    ):
        result, seconds[name] = _timed(diagnostic.transform, result)
    table, seconds["robustness_table"] = _timed(lambda r: robustness_table(r, TARGET), result)
    return result, table, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-nimare", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")

    result, seconds = _baseline(args.n_iters)
    print(f"pain, ALE, n_iters={args.n_iters}")
    print(f"baseline FWECorrector(montecarlo): {seconds:.1f} s (not counted below)")
    ours_loo = {}
    for n_cores in args.cores:
        out, table, steps = profile(result, n_cores)
        ours_loo[n_cores] = steps["ResampledStability (leave-one-out)"]
        print(f"\nours, n_cores={n_cores}")
        for name, value in steps.items():
            print(f"  {name:<36}{value:>8.1f} s")
        print(f"  {'full profile':<36}{sum(steps.values()):>8.1f} s")
    print("\n" + table.to_string())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the main process: {peak:.0f} MB (FailSafeN's worker processes apart)")

    if args.skip_nimare:
        return
    from nimare.diagnostics import Jackknife
    from nimare.diagnostics import ResampledStability as Upstream

    for n_cores in args.cores:
        print(f"\nNiMARE 0.22.1, n_cores={n_cores}")
        _, upstream = _timed(
            Upstream(target_image=TARGET, random_state=0, n_cores=n_cores).transform, result
        )
        ratio = upstream / ours_loo[n_cores]
        print(f"  {'ResampledStability (leave-one-out)':<36}{upstream:>8.1f} s   {ratio:.1f}x ours")
        _, jackknife = _timed(
            Jackknife(target_image=TARGET, n_cores=n_cores).transform, result.copy()
        )
        print(f"  {'Jackknife':<36}{jackknife:>8.1f} s")


if __name__ == "__main__":
    main()
