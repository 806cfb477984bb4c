"""FailSafeN's grid of Monte Carlo nulls on n-back: ours, nested, against each size alone.

Usage: ``python benchmarks/bench_failsafe_grid.py [--n-iters 200] [--max-multiple 3]
[--nimare-iters 2] [--repeats 3]``

Draws drawer 0 of a ``FailSafeN(max_multiple=M)`` on n-back (494 analyses with a sample
size, needs pyarrow; M * 494 null analyses drawn as ``FailSafeN`` draws them) and the null
its drawers share: Monte Carlo null maxima (statistic, cluster size and mass, each size's
own cluster-forming threshold) at 6 sizes from 0 to M * 494 null analyses. On one core:

- ours, nested, as ``FailSafeN`` draws it: each iteration stamps every analysis's kernels
  once, and each size's sums run on from the one before's;
- ours, each size drawn alone on the same random foci: the same maxima (checked);
- NiMARE 0.22.1's ``FWECorrector(method="montecarlo")`` on an ALE fit of each size's
  analyses (NiMARE has no fail-safe N: this is what its corrector needs to draw the same
  nulls), timed at ``--nimare-iters`` and scaled to ``--n-iters``; its fits (once, before
  the repeats) are not timed.

Prints each one's seconds per iteration (all sizes together) and NiMARE / ours. Ours runs
once untimed first at two iterations (numba compiles on first use, cached afterwards).
"""

import argparse
import functools
import logging
import os
import warnings

import numpy as np
from _timing import Figures, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported
#: NiMARE's default cluster-forming p (``FWECorrector``'s ``voxel_thresh``).
VOXEL_THRESH = 0.001


def _grid_inputs(max_multiple):
    """``(drawer, layout, retained, thresholds)`` of drawer 0's grid on n-back."""
    from nimare.meta.cbma import ALE

    from nimare_stability.datasets import load_nback_flanker
    from nimare_stability.diagnostics.failsafe import NULL_PREFIX, _Drawer
    from nimare_stability.diagnostics.null_analyses import NullProfiles
    from nimare_stability.diagnostics.null_grid import GRID_POINTS
    from nimare_stability.engines.kernels import KernelReplicates
    from nimare_stability.engines.montecarlo import build_layout

    estimator = ALE(random_state=0).fit(load_nback_flanker("nback")).estimator
    rng = np.random.default_rng(0)
    n_max = max_multiple * len(estimator.inputs_["id"])
    drawer = _Drawer(estimator, NullProfiles.draw(estimator, n_max, rng), rng, f"{NULL_PREFIX}0-")
    sizes = np.unique(np.linspace(0, len(drawer.nulls), GRID_POINTS).round().astype(int))
    splits = [drawer.retained(m) for m in sizes]
    thresholds = KernelReplicates.from_estimator(drawer.estimator).stat_thresholds(
        splits, VOXEL_THRESH, "replicate", 1
    )
    layout = build_layout(drawer.estimator)
    retained = np.zeros((len(splits), layout.n_analyses), dtype=bool)
    for row, kept in zip(retained, splits):
        row[kept] = True
    return drawer, layout, retained, np.asarray(thresholds, dtype=np.float64)


def _nimare_fits(drawer, retained):
    """NiMARE's ALE fitted on each size's analyses (not timed)."""
    from nimare.meta.cbma import ALE

    studyset, ids = drawer.estimator.dataset, np.asarray(drawer.analyses.ids)
    return [ALE(random_state=0).fit(studyset.slice(list(ids[kept]))) for kept in retained]


def _nimare_seconds_per_iteration(fits, n_iters):
    """NiMARE's corrector on each size's fit: seconds per iteration of all sizes together."""
    from nimare.correct import FWECorrector

    total = 0.0
    for result in fits:
        corrector = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=1)
        total += timed(functools.partial(corrector.transform, result))[0]
    return total / n_iters


def main():
    parser = add_repeats(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--n-iters", type=int, default=200)
    parser.add_argument("--max-multiple", type=int, default=3)
    parser.add_argument("--nimare-iters", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    from nimare_stability.engines.montecarlo import null_maxima

    header(
        f"FailSafeN's grid on n-back: drawer 0, up to {args.max_multiple} null analyses per "
        f"real one, {args.n_iters} iterations, one core",
        args.repeats,
    )
    drawer, layout, retained, thresholds = _grid_inputs(args.max_multiple)
    print(f"sizes (analyses): {retained.sum(axis=1).tolist()}; thresholds: {thresholds}\n")
    fits = _nimare_fits(drawer, retained)
    null_maxima(layout, retained, thresholds, 2, 0, nested=True)
    figures = Figures()
    for repeat in range(args.repeats):
        figures.start_repeat(repeat, args.repeats)
        seed = np.random.SeedSequence(repeat)
        nested_s, nested = timed(
            functools.partial(
                null_maxima, layout, retained, thresholds, args.n_iters, seed, nested=True
            )
        )
        alone_s = 0.0
        for r in range(len(retained)):
            seconds, alone = timed(
                functools.partial(
                    null_maxima, layout, retained[r : r + 1], thresholds[r], args.n_iters, seed
                )
            )
            alone_s += seconds
            for got, expected in zip(nested, alone):
                assert np.array_equal(got[r], expected[0]), "nested and alone maxima differ"
        nimare = _nimare_seconds_per_iteration(fits, args.nimare_iters)
        figures.add("ours, nested (FailSafeN's grid)", 1000 * nested_s / args.n_iters, "ms/it")
        figures.add("ours, each size alone", 1000 * alone_s / args.n_iters, "ms/it")
        figures.add("NiMARE 0.22.1 FWECorrector, each size", 1000 * nimare, "ms/it", 0)
        figures.add("each size alone / nested", alone_s / nested_s, "x")
        figures.add("NiMARE / ours, nested", nimare * args.n_iters / nested_s, "x")
    figures.report()


if __name__ == "__main__":
    main()
