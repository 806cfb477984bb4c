"""The ``nimare-stability`` command: ``run`` on your studyset, ``demo`` on NiMARE's pain data.

Both fit a coordinate-based meta-analysis, correct it, run the diagnostics and write the
maps (NIfTI), tables (TSV), PNG figures, a self-contained ``report.html`` and, last,
``run.json``. Bad arguments print one line and exit with status 2; Ctrl-C (status 130) and
SIGTERM (143) print one line and leave no new file in the output folder.
"""

import argparse
import dataclasses
import logging
import os
import sys
import textwrap

from nimare_stability.cli import runner
from nimare_stability.cli.interrupt import Terminated, sigterm_raises
from nimare_stability.core import names
from nimare_stability.core.clusters import LOCATION
from nimare_stability.engines import ENGINES
from nimare_stability.reporting.html_report import summary

EXAMPLES = """examples:
  nimare-stability run my_studyset.json --output-dir out --n-iters 5000 --n-cores -1
  nimare-stability run knowledge.txt --estimator MKDADensity --kernel-arg r=10 \\
      --policy subsample --target-n 0.8 --n-resamples 100 --output-dir out
  nimare-stability run nback_studyset/ --groups study --policy leave_group_out \\
      --diagnostics resampledstability fragility --output-dir out
  nimare-stability run nback_studyset/ --groups study --policy subsample_groups \
      --target-n 0.8 --n-resamples auto --tol 0.02 --checkpoint-dir ckpt \
      --dask-scheduler tcp://scheduler:8786 --output-dir out
  nimare-stability run --group1 nback.json --group2 flanker.json --groups study \
      --diagnostics jackknife resampledstability fragility --output-dir out
  nimare-stability demo --output-dir demo --n-iters 1000 --n-cores 2
  nimare-stability demo --output-dir demo --n-iters 1000 --quick
"""


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _key_value(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            continue
    return key, {"true": True, "false": False, "none": None}.get(value.lower(), value)


def _n_resamples(text):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int or 'auto'") from None


def _target_n(text):
    value = float(text)
    return int(value) if value >= 1 and value.is_integer() else value


def _add_analysis_options(parser):
    meta = parser.add_argument_group("meta-analysis")
    meta.add_argument("--estimator", choices=runner.ESTIMATORS, default="ALE")
    meta.add_argument("--kernel", choices=runner.KERNELS, help="Default: the estimator's.")
    meta.add_argument(
        "--kernel-arg",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Kernel parameter, repeatable (fwhm=10, r=10, sample_size=20, ...).",
    )
    meta.add_argument("--corrector", choices=runner.CORRECTORS, default="montecarlo")
    meta.add_argument("--n-iters", type=int, default=5000, help="Monte Carlo iterations.")
    meta.add_argument(
        "--voxel-thresh", type=float, default=0.001, help="Cluster-forming p (Monte Carlo)."
    )
    meta.add_argument(
        "--corrector-arg",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Corrector parameter, repeatable (fdr: alpha=0.01, method=negcorr; montecarlo: "
        "vfwe_only=true).",
    )
    meta.add_argument(
        "--nimare-corrector",
        action="store_true",
        help="montecarlo: NiMARE's own FWECorrector instead of nimare_stability's, whose "
        "null runs on the compiled engine (the same outputs, faster).",
    )
    meta.add_argument("--target", help="Map to judge. Default: the corrector's main z map.")
    diag = parser.add_argument_group("diagnostics")
    which = diag.add_mutually_exclusive_group()
    which.add_argument(
        "--diagnostics",
        nargs="+",
        choices=runner.DIAGNOSTICS,
        default=list(runner.DIAGNOSTICS),
        help="Which to run; the verdict joins them (default: all four, the full profile).",
    )
    which.add_argument(
        "--quick",
        action="store_const",
        dest="diagnostics",
        const=list(runner.QUICK),
        help="Only resampledstability and jackknife: no verdict can then be 'robust'.",
    )
    diag.add_argument("--policy", default="leave_1_out", help="Resampling policy name.")
    diag.add_argument("--k", type=int, help="leave_k_out: analyses left out.")
    diag.add_argument("--target-n", type=_target_n, help="Subsample size (count or fraction).")
    diag.add_argument(
        "--n-resamples",
        type=_n_resamples,
        help="Random replicates, or 'auto': in batches until --tol is reached.",
    )
    diag.add_argument("--tol", type=float, help="'auto': standard error to reach (0.01).")
    diag.add_argument("--max-resamples", type=int, help="'auto': most replicates (2500).")
    diag.add_argument("--groups", help="Group analyses by 'study' or a metadata column.")
    diag.add_argument("--null", choices=("replicate", "shared"), default="replicate")
    diag.add_argument("--alpha", type=float, default=0.05, help="Support: p < alpha.")
    diag.add_argument("--engine", choices=("auto", *ENGINES), default="auto")
    diag.add_argument(
        "--fsn-max-multiple",
        type=int,
        default=runner.FSN_MAX_MULTIPLE,
        help="FailSafeN: most null analyses per real one (default 3; larger FSN is censored).",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", required=True, help="Folder for every output.")
    run.add_argument("--random-state", type=int, default=0, help="Seed of the whole run.")
    run.add_argument("--n-cores", type=int, default=1, help="Parallel jobs (<= 0: all cores).")
    run.add_argument("--no-progress", action="store_true", help="No progress bars.")
    run.add_argument(
        "--checkpoint-dir",
        help="Keep finished work there (one subdirectory per diagnostic); a rerun resumes "
        "where it stopped.",
    )
    run.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="Run the parallel work on this Dask scheduler (needs nimare-stability[dask]).",
    )


def _parser():
    parser = _OneLineParser(
        prog="nimare-stability",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    run = commands.add_parser(
        "run",
        help="Diagnose a meta-analysis of your studyset.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "studyset",
        nargs="*",
        metavar="STUDYSET",
        help="NiMARE JSON studyset, parquet studyset directory, or Sleuth text file(s).",
    )
    contrast = run.add_argument_group(
        "contrast",
        "Instead of STUDYSET: an ALE subtraction, group 1 minus group 2 (nimare_stability's "
        "ALESubtraction; FailSafeN is not run on a contrast).",
    )
    for group in ("group1", "group2"):
        contrast.add_argument(
            f"--{group}", nargs="+", metavar="PATH", help=f"The studyset of {group}, as STUDYSET."
        )
    _add_analysis_options(run)
    demo = commands.add_parser(
        "demo",
        help="The same on NiMARE's bundled pain studyset (21 analyses).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_analysis_options(demo)
    return parser


def _studysets(args, parser):
    """Return the files of group 1 (or the one group) and of group 2 (None: no contrast)."""
    from nimare.utils import get_resource_path

    if args.command != "run":
        return [os.path.join(get_resource_path(), "nidm_pain_studyset.json")], None
    groups = (args.group1, args.group2)
    if args.studyset and any(groups):
        parser.error("STUDYSET is not accepted with --group1/--group2; accepted: one or the other")
    if any(groups) and not all(groups):
        parser.error("--group1 and --group2 go together; accepted: both, or STUDYSET alone")
    if not (args.studyset or any(groups)):
        parser.error("STUDYSET is required (or --group1 and --group2 for a contrast)")
    return (args.group1, args.group2) if args.group1 else (args.studyset, None)


def _job(args, parser=None):
    studysets, group2 = _studysets(args, parser or _parser())
    stability = {
        "resampling_policy": args.policy,
        "k": args.k,
        "target_n": args.target_n,
        "n_resamples": args.n_resamples,
        "tol": args.tol,
        "max_resamples": args.max_resamples,
        "checkpoint_dir": args.checkpoint_dir,
        "groups": args.groups,
        "null": args.null,
        "alpha": args.alpha,
        "engine": args.engine,
    }
    return runner.Job(
        studysets=studysets,
        group2=group2,
        output_dir=args.output_dir,
        estimator=args.estimator,
        kernel=args.kernel,
        kernel_args=dict(args.kernel_arg),
        corrector=args.corrector,
        n_iters=args.n_iters,
        voxel_thresh=args.voxel_thresh,
        corrector_args=dict(args.corrector_arg),
        nimare_corrector=args.nimare_corrector,
        target=args.target,
        diagnostics=tuple(dict.fromkeys(args.diagnostics)),
        stability_args=stability,
        fsn_max_multiple=args.fsn_max_multiple,
        random_state=args.random_state,
        n_cores=args.n_cores,
        progress=not args.no_progress,
        dask_scheduler=args.dask_scheduler,
    )


def main(argv=None):
    """Entry point of the ``nimare-stability`` console script; returns the exit status.

    An unexpected exception propagates (its traceback, status 1) and writes no output.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nimare").setLevel(logging.WARNING)
    logging.getLogger(runner.__name__).setLevel(logging.INFO)
    job = dataclasses.replace(_job(args, parser), command=[parser.prog, *argv])
    try:
        with sigterm_raises():
            result = runner.run(job)
    except (KeyboardInterrupt, Terminated) as stop:
        print(f"{parser.prog} {args.command}: interrupted; no outputs written", file=sys.stderr)
        return 130 if isinstance(stop, KeyboardInterrupt) else 143
    except (ValueError, TypeError, KeyError, OSError, ImportError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        parser.exit(2, f"{parser.prog} {args.command}: error: {message}\n")
    target = runner.default_target(job)
    table = result.tables[names.robustness_key(target)]
    print(textwrap.fill(summary(table, target), width=100))
    if not table.empty:
        print(table[["cluster_id", "tail", *LOCATION[:4], "verdict"]].to_string(index=False))
    print(f"Maps, tables, figures and report.html written to {os.path.abspath(job.output_dir)}")
    return 0
