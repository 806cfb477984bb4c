"""Command-line interface: ``nimare-stability demo --output-dir DIR [--n-iters N]``."""

import argparse
import logging
import os
import sys

import pandas as pd

from nimare_stability.stability import ResampledStability

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"


def _parser():
    parser = argparse.ArgumentParser(prog="nimare-stability", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="ALE on NiMARE's bundled pain studyset, Monte Carlo FWE, leave-one-out stability.",
    )
    demo.add_argument("--output-dir", required=True, help="Folder for maps (NIfTI) and tables.")
    demo.add_argument("--n-iters", type=int, default=5000, help="Monte Carlo iterations.")
    demo.add_argument("--policy", default="leave_1_out", help="Resampling policy name.")
    demo.add_argument("--target-n", type=float, default=None, help="Subsample size.")
    demo.add_argument("--n-resamples", type=int, default=None, help="Random replicates.")
    demo.add_argument("--n-cores", type=int, default=1, help="Parallel replicates (<=0: all).")
    demo.add_argument("--random-state", type=int, default=0, help="Seed of the whole run.")
    return parser


def demo(
    output_dir,
    n_iters=5000,
    policy="leave_1_out",
    target_n=None,
    n_resamples=None,
    n_cores=1,
    random_state=0,
):
    """Fit ALE on pain, correct it, run ResampledStability and save every output.

    Returns
    -------
    :class:`~nimare.results.MetaResult`
    """
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    result = ALE(random_state=random_state).fit(pain)
    result = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=n_cores).transform(result)
    if target_n is not None and target_n >= 1:
        target_n = int(target_n)
    result = ResampledStability(
        target_image=TARGET,
        resampling_policy=policy,
        target_n=target_n,
        n_resamples=n_resamples,
        random_state=random_state,
        n_cores=n_cores,
    ).transform(result)
    os.makedirs(output_dir, exist_ok=True)
    names = [name for name in result.maps if "ResampledStability" in name]
    result.save_maps(output_dir=output_dir, names=names)
    tables = [name for name in result.tables if "ResampledStability" in name]
    result.save_tables(output_dir=output_dir, names=tables)
    return result


def main(argv=None):
    """Entry point of the ``nimare-stability`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("nimare").setLevel(logging.WARNING)
    result = demo(
        args.output_dir,
        args.n_iters,
        args.policy,
        args.target_n,
        args.n_resamples,
        args.n_cores,
        args.random_state,
    )
    stem = f"{TARGET}_diag-ResampledStability"
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print("Summary\n", result.tables[f"{stem}_tab-summary"].T.to_string(header=False))
        print("\nClusters\n", result.tables[f"{stem}_tab-clusters"].to_string(index=False))
    print(f"\nMaps and tables written to {os.path.abspath(args.output_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
