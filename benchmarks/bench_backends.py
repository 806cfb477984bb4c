"""Backends, checkpoints and ``n_resamples="auto"`` on pain (ALE, cluster-size FWE).

Usage: ``python benchmarks/bench_backends.py [--n-iters 200] [--n-resamples 100]
[--nimare] [--repeats 3]``

One process; the baseline is fit once (not counted), numba compiles (or loads its cache)
in an untimed run, then each repeat runs, subsampling 75% of the analyses, fast engine,
two cores:

- a fixed run under joblib's default backends, then under a Dask ``LocalCluster`` of two
  worker processes (outputs compared), then with ``checkpoint_dir`` (the cost of writing
  every replicate and null block), then that run again (everything read back);
- ``n_resamples="auto", tol=0.02`` against a fixed 2500 replicates (JALE's default count);
- ``--nimare``: NiMARE 0.22.1's ``ResampledStability`` on the same policy (subsample, the
  same retained size), number of replicates, null iterations and cores.

Every time is the whole ``transform`` call (end to end); ratios are taken within a repeat.
Prints the median (min - max) of each figure over the repeats.
"""

import argparse
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from _timing import Figures, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
STEM = f"{TARGET}_diag-ResampledStability"


def _ours(result, **params):
    from nimare_stability import ResampledStability

    settings = dict(
        target_image=TARGET,
        resampling_policy="subsample",
        target_n=0.75,
        random_state=0,
        n_cores=2,
        progress=False,
    )
    return ResampledStability(**{**settings, **params}).transform(result)


def one_repeat(result, args, figures, first):
    """Time every run of the module docstring once; add each figure."""
    from distributed import Client, LocalCluster
    from joblib import parallel_config

    fixed = dict(n_resamples=args.n_resamples)
    label = f"{args.n_resamples} subsamples x {args.n_iters} it, 2 cores"
    t_local, local = timed(lambda: _ours(result, **fixed))
    figures.add(f"{label}: joblib default backends", t_local)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
        parallel_config(backend="dask"),
    ):
        _ours(result, n_resamples=2)  # workers compile or load the numba cache
        t_dask, on_dask = timed(lambda: _ours(result, **fixed))
    if not np.array_equal(local.maps[STEM], on_dask.maps[STEM]):
        print("WARNING: the Dask run's stability map differs from the joblib run's")
    figures.add(f"{label}: Dask LocalCluster (2 procs)", t_dask)
    figures.add("  ratio Dask / joblib", t_dask / t_local, "x", 2)
    with tempfile.TemporaryDirectory() as directory:
        t_write, _ = timed(lambda: _ours(result, **fixed, checkpoint_dir=directory))
        size = sum(path.stat().st_size for path in Path(directory).iterdir()) / 2**20
        t_read, _ = timed(lambda: _ours(result, **fixed, checkpoint_dir=directory))
    figures.add(f"{label}: with checkpoint_dir", t_write)
    figures.add("  ratio checkpoint_dir / joblib", t_write / t_local, "x", 2)
    figures.add("  checkpoint written", size, "MB", 2)
    figures.add(f"{label}: resumed when all is written", t_read)

    t_auto, auto = timed(lambda: _ours(result, n_resamples="auto", tol=0.02))
    summary = auto.tables[f"{STEM}_tab-summary"].iloc[0]
    if first:
        print(
            f"n_resamples='auto', tol=0.02: {summary['n_resamples']} replicates, precision "
            f"{summary['precision']:.4f} (random_state 0: the same in every repeat)"
        )
    figures.add("n_resamples='auto', tol=0.02", t_auto)
    t_2500, _ = timed(lambda: _ours(result, n_resamples=2500))
    figures.add("n_resamples=2500 (JALE's default)", t_2500)
    figures.add("  ratio 2500 / auto", t_2500 / t_auto, "x", 1)

    if args.nimare:
        from nimare.diagnostics import ResampledStability as Upstream

        # Ours resolves target_n=0.75 as max(1, round(0.75 * n)); NiMARE takes the count.
        n_kept = max(1, round(0.75 * len(result.estimator.inputs_["id"])))
        t_nimare, _ = timed(
            lambda: Upstream(
                target_image=TARGET,
                resampling_policy="subsample",
                target_n=n_kept,
                n_resamples=args.n_resamples,
                random_state=0,
                n_cores=2,
            ).transform(result)
        )
        figures.add(f"NiMARE 0.22.1, {args.n_resamples} subsamples of {n_kept}", t_nimare)
        figures.add("  ratio NiMARE / ours (joblib)", t_nimare / t_local, "x", 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iters", type=int, default=200)
    parser.add_argument("--n-resamples", type=int, default=100)
    parser.add_argument("--nimare", action="store_true")
    args = add_repeats(parser).parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)

    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE

    from nimare_stability.datasets import load_pain

    header("pain, ALE, cluster-size FWE, subsample 75%, two cores", args.repeats)
    result = FWECorrector(method="montecarlo", n_iters=args.n_iters, n_cores=2).transform(
        ALE(random_state=0).fit(load_pain())
    )
    _ours(result, n_resamples=2)  # untimed: numba compiles or loads its cache
    figures = Figures()
    for index in range(args.repeats):
        figures.start_repeat(index, args.repeats)
        one_repeat(result, args, figures, first=index == 0)
    figures.report()


if __name__ == "__main__":
    main()
