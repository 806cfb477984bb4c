"""``nimare-stability demo``: the whole command end to end, and each step's share.

Usage: ``python benchmarks/bench_cli.py [--n-iters 1000] [--n-cores 2] [--repeats 3]``

Runs the command line's default job (the full robustness profile on NiMARE's pain data)
through ``nimare_stability.cli.main``, as a user does, and prints the wall time of the whole
command (everything the user waits for: loading, fit, the time estimate's pilots, the
Monte Carlo correction by ``nimare_stability.FWECorrector``, the four diagnostics, the
verdict, the maps, tables, figures and report) and of each step. Each diagnostic's time
divided by the correction's is the ratio ``nimare_stability.cli.estimate.RATIOS`` holds;
the script prints the estimate beside the measured time. NiMARE 0.22.1 has no such
command: its share is the correction step (``benchmarks/bench_corrector.py`` times
NiMARE's corrector against ours).
"""

import argparse
import contextlib
import functools
import logging
import os
import re
import tempfile
import warnings

from _timing import Figures, add_repeats, header, timed

STEP = re.compile(r"^(?P<name>[a-z]+): (?P<seconds>[0-9.]+) s\.$")
ESTIMATE = re.compile(r"^Estimated time: ~(?P<value>[0-9.]+) (?P<unit>s|min) ")


class _Steps(logging.Handler):
    """Collects the runner's log lines: each step's time and the up-front estimate."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds, self.estimate = {}, None

    def emit(self, record):
        message = record.getMessage()
        if step := STEP.match(message):
            self.seconds[step["name"]] = float(step["seconds"])
        elif estimate := ESTIMATE.match(message):
            self.estimate = float(estimate["value"]) * (60 if estimate["unit"] == "min" else 1)


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--n-iters", type=int, default=1000)
    parser.add_argument("--n-cores", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from nimare_stability import cli
    from nimare_stability.cli import runner

    header("nimare-stability demo, pain (21 analyses), ALE, full profile", args.repeats)
    figures = Figures()
    logger = logging.getLogger(runner.__name__)
    for repeat in range(args.repeats):
        figures.start_repeat(repeat, args.repeats)
        steps = _Steps()
        logger.addHandler(steps)
        with tempfile.TemporaryDirectory() as out:
            argv = ["demo", "--output-dir", out, "--n-iters", str(args.n_iters)]
            argv += ["--n-cores", str(args.n_cores), "--no-progress"]
            with (
                open(os.devnull, "w") as devnull,
                contextlib.redirect_stdout(devnull),
                contextlib.redirect_stderr(devnull),
            ):
                seconds, status = timed(functools.partial(cli.main, argv))
        logger.removeHandler(steps)
        assert status == 0
        figures.add("whole command (what the user waits for)", seconds)
        figures.add("estimate logged before the costly work", steps.estimate)
        for name, value in steps.seconds.items():
            figures.add(name, value)
        for name in runner.DIAGNOSTICS:
            ratio = steps.seconds[name] / steps.seconds["correction"]
            figures.add(f"{name} / correction", ratio, "x", 2)
    figures.report(f"n_iters={args.n_iters}, n_cores={args.n_cores}")


if __name__ == "__main__":
    main()
