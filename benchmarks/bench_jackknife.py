"""Jackknife: NiMARE 0.22.1's (one refit per analysis) versus ours (cached MA maps), ALE.

Usage: ``python benchmarks/bench_jackknife.py [--dataset pain|nback] [--n-iters 100]
[--ours-only]``

ALE + FWECorrector(montecarlo, n_cores=1) is fit once (not counted); both Jackknifes then
run in this process on the cluster-level target at the workflows' settings
(``target_threshold=1.65``, ``cluster_threshold=10``): ours first, by analysis and by study
(``groups="study"``), then NiMARE's. Prints seconds, the ratio NiMARE / ours, the largest
difference between the two contribution tables and the process's peak RSS after each step.
NiMARE's Jackknife takes about 26 minutes on n-back (494 analyses): use ``--ours-only``.
"""

import argparse
import copy
import logging
import os
import resource
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported

TARGET = "z_desc-mass_level-cluster_corr-FWE_method-montecarlo"
SETTINGS = {"target_image": TARGET, "target_threshold": 1.65, "cluster_threshold": 10}


def _studyset(name):
    from nimare_stability.datasets import load_nback_flanker, load_pain

    return load_pain() if name == "pain" else load_nback_flanker("nback")


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(func):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=("pain", "nback"), default="pain")
    parser.add_argument("--n-iters", type=int, default=100)
    parser.add_argument("--ours-only", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")

    from nimare.correct import FWECorrector
    from nimare.diagnostics import Jackknife as Upstream
    from nimare.meta.cbma import ALE

    from nimare_stability import Jackknife
    from nimare_stability.diagnostics import jackknife

    values_s = _time_values(jackknife)

    studyset = _studyset(args.dataset)
    corrector = FWECorrector(method="montecarlo", n_iters=args.n_iters, n_cores=1)
    seconds, result = _timed(lambda: corrector.transform(ALE(random_state=0).fit(studyset)))
    n_analyses = len(result.estimator.inputs_["id"])
    print(f"{args.dataset}: ALE, {n_analyses} analyses, {SETTINGS}")
    print(f"baseline fit + FWECorrector(montecarlo, n_iters={args.n_iters}): {seconds:.1f} s")
    print(f"peak RSS after the baseline: {_peak_mb():.0f} MB")

    ours_s, ours = _timed(lambda: Jackknife(progress=False, **SETTINGS).transform(result))
    print(
        f"ours, by analysis:  {ours_s:8.2f} s  peak RSS {_peak_mb():.0f} MB  (MA maps and "
        f"leave-one-out values {values_s[-1]:.2f} s; the rest is NiMARE's cluster tables)"
    )
    grouped = Jackknife(groups="study", progress=False, **SETTINGS)
    grouped_s, by_study = _timed(lambda: grouped.transform(result))
    n_studies = len(_counts(by_study))
    print(
        f"ours, by study ({n_studies}): {grouped_s:6.2f} s  peak RSS {_peak_mb():.0f} MB  "
        f"(values {values_s[-1]:.2f} s)"
    )
    if args.ours_only:
        return

    theirs_input = copy.deepcopy(result)  # NiMARE's Jackknife adds to the result it is given
    theirs_s, theirs = _timed(lambda: Upstream(**SETTINGS).transform(theirs_input))
    print(f"NiMARE 0.22.1:      {theirs_s:8.2f} s  peak RSS {_peak_mb():.0f} MB")
    a, b = _counts(ours), _counts(theirs)
    same_layout = list(a.columns) == list(b.columns) and list(a["id"]) == list(b["id"])
    diff = abs(a.iloc[:, 1:].to_numpy(float) - b.iloc[:, 1:].to_numpy(float)).max()
    print(f"ratio NiMARE / ours: {theirs_s / ours_s:.1f}x")
    print(
        f"tables: same ids and clusters {same_layout}, max abs difference {diff:.2e} "
        f"({'equal' if same_layout and diff <= 1e-6 else 'DIFFERENT'} at 1e-6)"
    )


if __name__ == "__main__":
    main()
