"""The whole robustness profile on n-back (494 analyses, 201 studies), step by step.

Usage: ``python benchmarks/bench_nback_profile.py [--n-iters 5000] [--n-cores 2]
[--repeats 3] [--nimare-iters N | --skip-nimare] [--quick]``

Writes NiMARE's bundled n-back analyses that report a sample size
(:func:`nimare_stability.datasets.load_nback_flanker`) to a parquet studyset, then runs
the command a user runs on it::

    nimare-stability run <n-back> --groups study --policy subsample_groups --target-n 0.8 \
        --n-resamples 100 --n-iters N --n-cores C

through ``nimare_stability.cli.main``: the ALE fit, the baseline Monte Carlo correction
(``nimare_stability.FWECorrector``), Jackknife, ResampledStability (100 grouped
subsamples), Fragility by study, FailSafeN, the verdict and every output. It prints the
whole command's wall time, each step's (the command's own log), and the peak memory of
all its processes together (PSS, sampled every 0.5 s). ``--quick`` runs Jackknife and
ResampledStability only.

Beside it, NiMARE 0.22.1's ``FWECorrector(method="montecarlo")`` corrects the same fit on
the same cores, at ``--nimare-iters`` (default: the same ``n_iters``; at 5000 iterations it
takes about 15 minutes per repeat); its time is scaled to ``n_iters`` when they differ,
and the ratio NiMARE / ours is the baseline correction's, end to end.
"""

import argparse
import contextlib
import functools
import logging
import os
import tempfile
import warnings

from _timing import Figures, TreePss, add_repeats, header, timed
from bench_cli import _Steps


def _nback_parquet(folder):
    """Write the n-back analyses with a sample size to ``folder``; return its path."""
    from nimare_stability.datasets import load_nback_flanker

    path = os.path.join(folder, "nback")
    load_nback_flanker("nback").to_parquet(path)
    return path


def _command(studyset, out, args):
    argv = ["run", studyset, "--output-dir", out, "--groups", "study"]
    argv += ["--policy", "subsample_groups", "--target-n", "0.8", "--n-resamples", "100"]
    argv += ["--n-iters", str(args.n_iters), "--n-cores", str(args.n_cores), "--no-progress"]
    return argv + (["--quick"] if args.quick else [])


def _nimare_correction(studyset, args):
    """Seconds of NiMARE's corrector on the same fit, scaled to ``args.n_iters``."""
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE
    from nimare.nimads import Studyset

    result = ALE(random_state=0).fit(Studyset.from_parquet(studyset))
    corrector = FWECorrector(method="montecarlo", n_iters=args.nimare_iters, n_cores=args.n_cores)
    seconds, _ = timed(lambda: corrector.transform(result))
    return seconds * args.n_iters / args.nimare_iters


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--n-iters", type=int, default=5000)
    parser.add_argument("--n-cores", type=int, default=2)
    parser.add_argument("--nimare-iters", type=int, help="default: --n-iters")
    parser.add_argument("--skip-nimare", action="store_true")
    parser.add_argument("--quick", action="store_true", help="Jackknife + stability only")
    args = parser.parse_args()
    args.nimare_iters = args.nimare_iters or args.n_iters
    warnings.simplefilter("ignore")
    from nimare_stability import cli
    from nimare_stability.cli import runner

    header(
        f"n-back, ALE, whole profile by study, n_iters={args.n_iters}, n_cores={args.n_cores}",
        args.repeats,
    )
    figures = Figures()
    logger = logging.getLogger(runner.__name__)
    with tempfile.TemporaryDirectory() as folder:
        studyset = _nback_parquet(folder)
        for repeat in range(args.repeats):
            figures.start_repeat(repeat, args.repeats)
            steps = _Steps()
            logger.addHandler(steps)
            with (
                tempfile.TemporaryDirectory() as out,
                open(os.devnull, "w") as devnull,
                contextlib.redirect_stdout(devnull),
                contextlib.redirect_stderr(devnull),
                TreePss() as memory,
            ):
                seconds, status = timed(functools.partial(cli.main, _command(studyset, out, args)))
            logger.removeHandler(steps)
            assert status == 0, f"the command failed (exit status {status})"
            figures.add("whole command (what the user waits for)", seconds)
            for name, value in steps.seconds.items():
                figures.add(name, value)
            figures.add("peak memory, all processes (PSS)", memory.peak_mb, "MB", 0)
            if not args.skip_nimare:
                nimare = _nimare_correction(studyset, args)
                scaled = "" if args.nimare_iters == args.n_iters else " (scaled)"
                figures.add(f"NiMARE 0.22.1 FWECorrector{scaled}", nimare)
                figures.add("correction: NiMARE / ours", nimare / steps.seconds["correction"], "x")
    figures.report()


if __name__ == "__main__":
    main()
