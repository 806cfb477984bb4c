"""Jackknife: NiMARE 0.22.1's (one refit per analysis) versus ours (cached MA maps), ALE.

Usage: ``python benchmarks/bench_jackknife.py [--dataset pain|nback] [--n-iters 100]
[--ours-only] [--repeats 3]``

ALE + FWECorrector(montecarlo, n_cores=1) is fit once (one run, not counted) and ours runs
once untimed (numba compiles or loads its cache). Each repeat then runs both Jackknifes in
this process on the same result and cluster-level target at the workflows' settings
(``target_threshold=1.65``, ``cluster_threshold=10``), one core: ours, by analysis and by
study (``groups="study"``), then NiMARE's. Prints the median (min - max) over the repeats
of each step's seconds (the whole ``transform``), the ratio NiMARE / ours and each step's
own peak RSS, then the largest difference between the two contribution tables. NiMARE's
Jackknife takes about 26 minutes per run on n-back (494 analyses): ``--ours-only`` skips it.
"""

import argparse
import copy
import logging
import os
import time
import warnings

from _timing import Figures, add_repeats, header, peak_rss_mb, reset_peak_rss, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported

TARGET = "z_desc-mass_level-cluster_corr-FWE_method-montecarlo"
SETTINGS = {"target_image": TARGET, "target_threshold": 1.65, "cluster_threshold": 10}


def _studyset(name):
    from nimare_stability.datasets import load_nback_flanker, load_pain

    return load_pain() if name == "pain" else load_nback_flanker("nback")


def _step(func):
    """``(seconds, result, peak RSS in MB)`` of one call; the peak is the step's own."""
    reset_peak_rss()
    seconds, out = timed(func)
    return seconds, out, peak_rss_mb()


def _time_values(jackknife_module):
    """Wrap the cached leave-one-out so its seconds (of the whole transform) are summed."""
    compute = jackknife_module._KernelLeaveOneOut.compute
    spent = []

    def timed(self, *args):
        start = time.perf_counter()
        compute(self, *args)
        spent.append(time.perf_counter() - start)

    jackknife_module._KernelLeaveOneOut.compute = timed
    return spent


def _counts(result):
    (name,) = [k for k in result.tables if "_diag-Jackknife_tab-counts" in k]
    return result.tables[name]


def one_repeat(result, args, figures, values_s):
    """Time ours (by analysis, by study) and NiMARE's Jackknife once; return both tables."""
    from nimare.diagnostics import Jackknife as Upstream

    from nimare_stability import Jackknife

    values_s.clear()
    ours_s, ours, ours_mb = _step(lambda: Jackknife(progress=False, **SETTINGS).transform(result))
    figures.add("ours, by analysis", ours_s, "s", 2)
    figures.add("  of which MA maps and leave-one-out values", sum(values_s), "s", 2)
    values_s.clear()
    grouped = Jackknife(groups="study", progress=False, **SETTINGS)
    grouped_s, _, grouped_mb = _step(lambda: grouped.transform(result))
    figures.add("ours, by study", grouped_s, "s", 2)
    figures.add("  of which values", sum(values_s), "s", 2)
    figures.add("peak RSS, ours by analysis", ours_mb, "MB", 0)
    figures.add("peak RSS, ours by study", grouped_mb, "MB", 0)
    if args.ours_only:
        return ours, None
    theirs_input = copy.deepcopy(result)  # NiMARE's Jackknife adds to the result it is given
    theirs_s, theirs, theirs_mb = _step(lambda: Upstream(**SETTINGS).transform(theirs_input))
    figures.add("NiMARE 0.22.1", theirs_s, "s", 2)
    figures.add("ratio NiMARE / ours, by analysis", theirs_s / ours_s, "x", 1)
    figures.add("peak RSS, NiMARE 0.22.1", theirs_mb, "MB", 0)
    return ours, theirs


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=("pain", "nback"), default="pain")
    parser.add_argument("--n-iters", type=int, default=100)
    parser.add_argument("--ours-only", action="store_true")
    args = add_repeats(parser).parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")

    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE

    from nimare_stability import Jackknife
    from nimare_stability.core.analyses import AnalysisSet
    from nimare_stability.core.grouping import analysis_labels
    from nimare_stability.diagnostics import jackknife

    values_s = _time_values(jackknife)

    header(f"{args.dataset}: ALE, {SETTINGS}, one core", args.repeats)
    studyset = _studyset(args.dataset)
    corrector = FWECorrector(method="montecarlo", n_iters=args.n_iters, n_cores=1)
    seconds, result = timed(lambda: corrector.transform(ALE(random_state=0).fit(studyset)))
    analyses = AnalysisSet(result.estimator)
    n_studies = len(set(analysis_labels("study", "groups", analyses)))
    print(
        f"{analyses.ids.size} analyses, {n_studies} studies; baseline fit + "
        f"FWECorrector(montecarlo, n_iters={args.n_iters}): {seconds:.1f} s (one run, not "
        "counted)"
    )
    Jackknife(progress=False, **SETTINGS).transform(result)  # untimed warm-up

    figures = Figures()
    for index in range(args.repeats):
        figures.start_repeat(index, args.repeats)
        ours, theirs = one_repeat(result, args, figures, values_s)
    figures.report()
    if theirs is not None and _counts(ours) is not None:
        a, b = _counts(ours), _counts(theirs)
        same_layout = list(a.columns) == list(b.columns) and list(a["id"]) == list(b["id"])
        diff = abs(a.iloc[:, 1:].to_numpy(float) - b.iloc[:, 1:].to_numpy(float)).max()
        print(
            f"tables: same ids and clusters {same_layout}, max abs difference {diff:.2e} "
            f"({'equal' if same_layout and diff <= 1e-6 else 'DIFFERENT'} at 1e-6)"
        )


if __name__ == "__main__":
    main()
