"""Backends, checkpoints and ``n_resamples="auto"`` on pain (ALE, cluster-size FWE).

Usage: ``python benchmarks/bench_backends.py [--n-iters 200] [--n-resamples 100]
[--nimare]``

One process. Subsampling 75% of the analyses, fast engine, two cores:

- a fixed run under joblib's default backends, then under a Dask ``LocalCluster`` of two
  worker processes (outputs compared), then with ``checkpoint_dir`` (the cost of writing
  every replicate and null block), then that run again (everything read back);
- ``n_resamples="auto", tol=0.02`` against a fixed 2500 replicates (JALE's default count);
- ``--nimare``: NiMARE 0.22.1's ``ResampledStability`` with the same fixed subsamples.
"""

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
STEM = f"{TARGET}_diag-ResampledStability"


def _timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iters", type=int, default=200)
    parser.add_argument("--n-resamples", type=int, default=100)
    parser.add_argument("--nimare", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("nimare").setLevel(logging.ERROR)

    from distributed import Client, LocalCluster
    from joblib import parallel_config
    from nimare.correct import FWECorrector
    from nimare.meta.cbma import ALE

    from nimare_stability.datasets import load_pain

    result = FWECorrector(method="montecarlo", n_iters=args.n_iters, n_cores=2).transform(
        ALE(random_state=0).fit(load_pain())
    )
    fixed = dict(n_resamples=args.n_resamples)
    _ours(result, n_resamples=2)  # numba compiles or loads its cache
    t_local, local = _timed(lambda: _ours(result, **fixed))
    print(f"{args.n_resamples} subsamples x {args.n_iters} iterations, 2 cores")
    print(f"  joblib default backends      {t_local:8.1f} s")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
        parallel_config(backend="dask"),
    ):
        _ours(result, n_resamples=2)  # workers compile or load the numba cache
        t_dask, on_dask = _timed(lambda: _ours(result, **fixed))
    same = np.array_equal(local.maps[STEM], on_dask.maps[STEM])
    print(
        f"  Dask LocalCluster (2 procs)  {t_dask:8.1f} s  ({t_dask / t_local:.2f}x; same: {same})"
    )
    with tempfile.TemporaryDirectory() as directory:
        t_write, _ = _timed(lambda: _ours(result, **fixed, checkpoint_dir=directory))
        size = sum(path.stat().st_size for path in Path(directory).iterdir()) / 2**20
        t_read, _ = _timed(lambda: _ours(result, **fixed, checkpoint_dir=directory))
    print(
        f"  with checkpoint_dir          {t_write:8.1f} s  "
        f"({t_write / t_local:.2f}x; {size:.1f} MB)"
    )
    print(f"  resumed when all is written  {t_read:8.1f} s")

    t_auto, auto = _timed(lambda: _ours(result, n_resamples="auto", tol=0.02))
    summary = auto.tables[f"{STEM}_tab-summary"].iloc[0]
    print(
        f"n_resamples='auto', tol=0.02: {summary['n_resamples']} replicates, precision "
        f"{summary['precision']:.4f}, {t_auto:.1f} s"
    )
    t_2500, _ = _timed(lambda: _ours(result, n_resamples=2500))
    print(f"n_resamples=2500 (JALE's default): {t_2500:.1f} s ({t_2500 / t_auto:.1f}x auto)")

    if args.nimare:
        from nimare.diagnostics import ResampledStability as Upstream

        t_nimare, _ = _timed(
            lambda: Upstream(
                target_image=TARGET,
                resampling_policy="subsample",
                target_n=16,
                n_resamples=args.n_resamples,
                random_state=0,
                n_cores=2,
            ).transform(result)
        )
        print(
            f"NiMARE 0.22.1, {args.n_resamples} subsamples: {t_nimare:.1f} s "
            f"({t_nimare / t_local:.1f}x ours)"
        )


if __name__ == "__main__":
    main()
