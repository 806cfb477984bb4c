"""The full robustness profile on pain (ALE), one core and two, beside NiMARE 0.22.1's tools.

Usage: ``python benchmarks/bench_profile.py [--n-iters 5000] [--cores 1 2] [--skip-nimare]
[--repeats 3]``

Each repeat fits the baseline (ALE + FWECorrector(montecarlo), timed but not counted in the
profile), then runs ours: ResampledStability (leave-one-out: 21 replicates, each with its
own exact null) + Fragility + FailSafeN (defaults: 10 drawers of up to 10 N null analyses)
+ the verdict, on each core count. NiMARE 0.22.1 has neither Fragility nor a fail-safe N;
its ResampledStability, asked for the same leave-one-out schedule
(``resampling_policy="leave_1_out"``: 21 replicates; its default is a single replicate of
all analyses) and drawing its one approximate null at the baseline corrector's
``n_iters``, and its Jackknife then run on the same baseline, cores and target beside ours.
Every ratio is NiMARE / ours, end to end: the seconds of the whole ``transform`` call.
One untimed run of our profile on a 10-iteration baseline comes first, so that numba's
compilation (cached on disk after a first use) is not timed.
Prints the median (min - max) of each figure over the repeats.
"""

import argparse
import logging
import os
import warnings

from _timing import Figures, add_repeats, header, peak_rss_mb, timed

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
LOO = "ResampledStability (leave-one-out)"


def _baseline(n_iters):
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    return timed(
        lambda: FWECorrector(method="montecarlo", n_iters=n_iters).transform(
            ALE(random_state=0).fit(pain)
        )
    )


def _summary(result, name):
    return result.tables[f"{TARGET}_diag-{name}_tab-summary"].iloc[0]


def profile(result, n_cores):
    """Run the profile; return the diagnosed result, the verdict table and each step's s."""
    from nimare_stability import FailSafeN, Fragility, ResampledStability, robustness_table

    common = {"target_image": TARGET, "random_state": 0, "n_cores": n_cores, "progress": False}
    seconds = {}
    for name, diagnostic in (
        (LOO, ResampledStability(resampling_policy="leave_1_out", **common)),
        ("Fragility", Fragility(**common)),
        ("FailSafeN", FailSafeN(**common)),
    ):
        seconds[name], result = timed(lambda d=diagnostic, r=result: d.transform(r))
    seconds["robustness_table"], table = timed(lambda: robustness_table(result, TARGET))
    return result, table, seconds


def _cores(n_cores):
    return f"{n_cores} core{'s' * (n_cores != 1)}"


def one_repeat(args, figures, first):
    """Run the baseline, our profile and NiMARE's tools once; add every figure."""
    baseline_s, result = _baseline(args.n_iters)
    figures.add(f"baseline FWECorrector(montecarlo, n_iters={args.n_iters})", baseline_s)
    ours_loo = {}
    for n_cores in args.cores:
        diagnosed, table, steps = profile(result, n_cores)
        ours_loo[n_cores] = steps[LOO]
        for name, value in steps.items():
            figures.add(f"ours, {_cores(n_cores)}: {name}", value, digits=2)
        figures.add(f"ours, {_cores(n_cores)}: full profile", sum(steps.values()))
    if first:
        ours = _summary(diagnosed, "ResampledStability")
        print(
            f"ours: {ours['n_resamples']} leave-one-out replicates, each with its own null "
            f"of {ours['n_iters']} iterations"
        )
        print(table.to_string() + "\n")
    if args.skip_nimare:
        return

    from nimare.diagnostics import Jackknife as UpstreamJackknife
    from nimare.diagnostics import ResampledStability as Upstream

    from nimare_stability import Jackknife

    for n_cores in args.cores:
        upstream = Upstream(
            target_image=TARGET, resampling_policy="leave_1_out", random_state=0, n_cores=n_cores
        )
        seconds, theirs = timed(lambda u=upstream: u.transform(result))
        figures.add(f"NiMARE 0.22.1, {_cores(n_cores)}: {LOO}", seconds)
        figures.add(
            f"ratio NiMARE / ours, {_cores(n_cores)}: {LOO}", seconds / ours_loo[n_cores], "x", 2
        )
        if first:
            n_null = result.corrector.parameters.get("n_iters", 5000)
            print(
                f"NiMARE 0.22.1 ({_cores(n_cores)}): "
                f"{_summary(theirs, 'ResampledStability')['n_resamples']} leave-one-out "
                f"replicates, one shared approximate null of {n_null} iterations"
            )
        ours_s, _ = timed(
            lambda c=n_cores: Jackknife(target_image=TARGET, n_cores=c, progress=False).transform(
                result
            )
        )
        # NiMARE's Jackknife adds to the result it is given: a copy.
        theirs_s, _ = timed(
            lambda c=n_cores: UpstreamJackknife(target_image=TARGET, n_cores=c).transform(
                result.copy()
            )
        )
        figures.add(f"ours, {_cores(n_cores)}: Jackknife", ours_s, digits=2)
        figures.add(f"NiMARE 0.22.1, {_cores(n_cores)}: Jackknife", theirs_s, digits=2)
        figures.add(f"ratio NiMARE / ours, {_cores(n_cores)}: Jackknife", theirs_s / ours_s, "x", 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-nimare", action="store_true")
    args = add_repeats(parser).parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")

    header(f"pain, ALE, n_iters={args.n_iters}, cores {args.cores}", args.repeats)
    # Untimed: numba compiles (or loads its on-disk cache) in this process and the workers.
    _, warm = _baseline(10)
    for n_cores in args.cores:
        profile(warm, n_cores)
    figures = Figures()
    for index in range(args.repeats):
        figures.start_repeat(index, args.repeats)
        one_repeat(args, figures, first=index == 0)
    figures.report()
    print(
        f"peak RSS of the main process over all repeats: {peak_rss_mb():.0f} MB "
        "(worker processes apart)"
    )


if __name__ == "__main__":
    main()
