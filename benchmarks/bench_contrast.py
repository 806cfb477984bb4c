"""ALE subtraction, n-back vs flanker: NiMARE's ``ALESubtraction`` and ours side by side.

Usage: ``python benchmarks/bench_contrast.py [--n-iters 5000] [--nimare-iters 5000]
[--n-cores 1] [--repeats 3]``

NiMARE's bundled NeuroStore set (needs pyarrow): 494 n-back analyses against 404 flanker
analyses (those with a sample size), ALE kernel, ``random_state=0``, the same permutations
count and cores for both. Each ``fit`` is timed whole (MA maps, group maps, permutations,
p values: everything the user waits for). NiMARE's subtraction costs a fixed part plus a
constant time per permutation; with ``--nimare-iters`` below ``--n-iters`` it is timed at
1 and at ``--nimare-iters`` permutations and extrapolated linearly to ``--n-iters``
(printed as such). Ours then also runs at ``--nimare-iters`` and its maps and null are
checked equal to NiMARE's, value for value. Ours runs once untimed first at one
permutation (numba compiles on first use, cached on disk afterwards).
"""

import argparse
import logging
import os
import warnings

import numpy as np
from _timing import Figures, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported


def _groups():
    from nimare_stability.datasets import load_nback_flanker

    return load_nback_flanker("nback"), load_nback_flanker("flanker")


def _same(theirs, ours):
    """Whether two subtraction results hold the same maps and null, value for value."""
    same_maps = sorted(theirs.maps) == sorted(ours.maps) and all(
        np.array_equal(theirs.maps[name], ours.maps[name]) for name in theirs.maps
    )
    nulls = theirs.estimator.null_distributions_, ours.estimator.null_distributions_
    same_nulls = sorted(nulls[0]) == sorted(nulls[1]) and all(
        np.array_equal(nulls[0][key], nulls[1][key]) for key in nulls[0]
    )
    return same_maps and same_nulls and theirs.description_ == ours.description_


def _nimare_time(groups, n_iters, nimare_iters, n_cores):
    """NiMARE's fit time at ``n_iters``, extrapolated when ``nimare_iters`` is fewer."""
    from nimare.meta.cbma.ale import ALESubtraction

    def fit(iters):
        return ALESubtraction(n_iters=iters, n_cores=n_cores, random_state=0).fit(*groups)

    t_run, result = timed(lambda: fit(nimare_iters))
    if nimare_iters >= n_iters:
        return t_run, result
    t_one, _ = timed(lambda: fit(1))
    per_iter = (t_run - t_one) / (nimare_iters - 1)
    return t_one + per_iter * (n_iters - 1), result


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--nimare-iters", type=int, default=None)
    parser.add_argument("--n-cores", type=int, default=1)
    args = parser.parse_args()
    nimare_iters = min(args.nimare_iters or args.n_iters, args.n_iters)
    warnings.simplefilter("ignore")
    for logger in ("nimare", "nimare_stability"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    from nimare_stability import ALESubtraction

    header("ALE subtraction, n-back vs flanker: NiMARE vs ours", args.repeats)
    groups = _groups()
    ALESubtraction(n_iters=1).fit(*groups)  # numba's cache
    figures = Figures()
    scaled = " (extrapolated)" if nimare_iters < args.n_iters else ""
    for repeat in range(args.repeats):
        figures.start_repeat(repeat, args.repeats)
        t_nimare, theirs = _nimare_time(groups, args.n_iters, nimare_iters, args.n_cores)

        def ours(iters):
            return ALESubtraction(n_iters=iters, n_cores=args.n_cores, random_state=0).fit(*groups)

        t_ours, result = timed(lambda: ours(args.n_iters))
        if nimare_iters < args.n_iters:
            result = ours(nimare_iters)
        print(f"  same maps and null as NiMARE's at {nimare_iters}: {_same(theirs, result)}")
        figures.add(f"NiMARE ALESubtraction{scaled}", t_nimare, "s", 1)
        figures.add("nimare_stability.ALESubtraction", t_ours, "s", 2)
        figures.add("ours: permutations/s per core", args.n_iters / t_ours / args.n_cores, "/s", 1)
        figures.add("NiMARE / ours, end to end", t_nimare / t_ours, "x", 1)
    figures.report(
        f"494 n-back vs 404 flanker analyses, n_iters={args.n_iters}, n_cores={args.n_cores}"
        + (f", NiMARE timed at 1 and {nimare_iters}" if scaled else "")
    )


if __name__ == "__main__":
    main()
