"""Monte Carlo FWE correction: NiMARE's ``FWECorrector`` and ``nimare_stability.FWECorrector``.

Usage: ``python benchmarks/bench_corrector.py [--datasets pain nback] [--pain-iters 5000]
[--nback-iters 1000] [--n-cores 1] [--estimator ALE] [--repeats 3]``

On each dataset (pain: 21 analyses; n-back: NiMARE's NeuroStore set, 494 analyses with a
sample size, needs pyarrow) the estimator is fitted once; NiMARE's corrector and ours then
correct that same result with the same iterations and cores. Printed per dataset: each
``transform``'s wall time (everything the user waits for: the result's copy, the null,
the maps), each one's iterations per second per core, and NiMARE / ours end to end. Ours
runs once untimed first at one iteration (numba compiles on first use, cached on disk
afterwards). The two results' maps and null keys are checked to be the same names.
"""

import argparse
import logging
import os
import warnings

from _timing import Figures, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported
DATASETS = ("pain", "nback")


def _fitted(dataset, estimator):
    """The dataset's studyset fitted by ``estimator`` (a NiMARE CBMA class name)."""
    from nimare.meta import cbma

    from nimare_stability.datasets import load_nback_flanker, load_pain

    studyset = load_pain() if dataset == "pain" else load_nback_flanker("nback")
    return getattr(cbma, estimator)(random_state=0).fit(studyset)


def _compare(result, n_iters, n_cores, figures):
    """Time both correctors on ``result``; add their figures."""
    from nimare.correct import FWECorrector as NiMAREFWECorrector

    from nimare_stability import FWECorrector

    options = {"method": "montecarlo", "n_iters": n_iters, "n_cores": n_cores}
    t_nimare, theirs = timed(lambda: NiMAREFWECorrector(**options).transform(result))
    t_ours, ours = timed(lambda: FWECorrector(**options).transform(result))
    assert sorted(ours.maps) == sorted(theirs.maps)
    assert sorted(ours.estimator.null_distributions_) == sorted(
        theirs.estimator.null_distributions_
    )
    figures.add("NiMARE FWECorrector", t_nimare, "s", 2)
    figures.add("nimare_stability.FWECorrector", t_ours, "s", 2)
    figures.add("NiMARE: iterations/s per core", n_iters / t_nimare / n_cores, "it/s", 1)
    figures.add("ours: iterations/s per core", n_iters / t_ours / n_cores, "it/s", 1)
    figures.add("NiMARE / ours, end to end", t_nimare / t_ours, "x", 1)


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--pain-iters", type=int, default=5000)
    parser.add_argument("--nback-iters", type=int, default=1000)
    parser.add_argument("--n-cores", type=int, default=1)
    parser.add_argument("--estimator", choices=("ALE", "MKDADensity", "KDA"), default="ALE")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for logger in ("nimare", "nimare_stability"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    from nimare_stability import FWECorrector

    header(f"Monte Carlo FWE correction, {args.estimator}: NiMARE vs ours", args.repeats)
    iterations = {"pain": args.pain_iters, "nback": args.nback_iters}
    for dataset in args.datasets:
        result = _fitted(dataset, args.estimator)
        FWECorrector(method="montecarlo", n_iters=1).transform(result)  # numba's cache
        figures = Figures()
        for repeat in range(args.repeats):
            figures.start_repeat(repeat, args.repeats)
            _compare(result, iterations[dataset], args.n_cores, figures)
        n_analyses = len(result.estimator.inputs_["id"])
        figures.report(
            f"{dataset} ({n_analyses} analyses), n_iters={iterations[dataset]}, "
            f"n_cores={args.n_cores}"
        )


if __name__ == "__main__":
    main()
