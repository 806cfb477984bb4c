"""Monte Carlo FWE null on pain (ALE), one core: NiMARE's corrector vs the compiled engine.

Usage: ``python benchmarks/bench_null_engine.py [n_iters] [--reference-iters 200]
[--repeats 3]`` (``n_iters`` defaults to 500).

The engine is timed after one untimed warm-up call (numba compiles on first use, cached on
disk afterwards), at the full data's cluster-forming threshold (p < .001). R = 21 is every
leave-one-out replicate from the same random foci; NiMARE would need one corrector run per
replicate, so its equivalent throughput is its R = 1 rate divided by 21. Each ratio is
given for the engine's nulls alone and with the layout it builds first (what a caller of
the engine waits for; the replicates' own thresholds are timed end to end by
``bench_stability.py``). The engine it replaced (``tests/helpers/reference_engine.py``)
runs on ``--reference-iters`` fixed random iterations. Prints the median (min - max) of
each figure over the repeats.
"""

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from _timing import Figures, add_repeats, header, timed

os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def one_repeat(result, threshold, args, figures, first):
    """Time NiMARE's corrector, the engine at R = 1 and R = 21 and the old engine once."""
    from helpers.reference_engine import reference_maxima
    from nimare.correct import FWECorrector

    from nimare_stability.engines.montecarlo import build_layout, null_maxima

    n_iters = args.n_iters
    corrector = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=1)
    t_nimare, _ = timed(lambda: corrector.transform(result))
    t_layout, layout = timed(lambda: build_layout(result.estimator))
    full = np.ones((1, layout.n_analyses), dtype=bool)
    loo = ~np.eye(layout.n_analyses, dtype=bool)
    if first:
        null_maxima(layout, loo, threshold, 10, 0)  # compile / load the numba cache
    t_one, _ = timed(lambda: null_maxima(layout, full, threshold, n_iters, 1, n_cores=1))
    t_loo, _ = timed(lambda: null_maxima(layout, loo, threshold, n_iters, 1, n_cores=1))
    n_rep = len(loo)

    figures.add(f"NiMARE FWECorrector(montecarlo), {n_iters} it", t_nimare, "s", 2)
    figures.add("NiMARE FWECorrector(montecarlo): rate", n_iters / t_nimare, "it/s", 1)
    figures.add("layout (built once per run)", t_layout, "s", 2)
    figures.add("engine R=1: rate", n_iters / t_one, "it/s", 1)
    figures.add("engine R=1: ratio to NiMARE", t_nimare / t_one, "x", 1)
    figures.add(
        "engine R=1 with its layout: ratio to NiMARE", t_nimare / (t_one + t_layout), "x", 1
    )
    figures.add(f"engine R={n_rep} (leave-one-out): rate", n_iters / t_loo, "it/s", 1)
    figures.add(f"engine R={n_rep}: replicate rate", n_rep * n_iters / t_loo, "rep-it/s", 0)
    figures.add(
        f"engine R={n_rep}: ratio to NiMARE once per replicate", n_rep * t_nimare / t_loo, "x", 1
    )
    figures.add(
        f"engine R={n_rep} with its layout: ratio to NiMARE once per replicate",
        n_rep * t_nimare / (t_loo + t_layout),
        "x",
        1,
    )

    rng = np.random.default_rng(1)
    shape = (args.reference_iters, layout.n_foci)
    foci = layout.null_ijk[rng.integers(0, len(layout.null_ijk), shape)]
    if first:
        for retained in (full, loo):
            reference_maxima(layout, foci[:1], retained, threshold)  # compile
    t_old_one, _ = timed(lambda: reference_maxima(layout, foci, full, threshold))
    t_old_loo, _ = timed(lambda: reference_maxima(layout, foci, loo, threshold))
    figures.add(
        f"engine it replaced, R=1 ({args.reference_iters} it): rate",
        args.reference_iters / t_old_one,
        "it/s",
        0,
    )
    figures.add(f"engine it replaced, R={n_rep}: rate", args.reference_iters / t_old_loo, "it/s", 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n_iters", type=int, nargs="?", default=500)
    parser.add_argument("--reference-iters", type=int, default=200)
    args = add_repeats(parser).parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")

    from nimare.meta.cbma import ALE
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    header(f"pain ALE, {args.n_iters} iterations, one core", args.repeats)
    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    result = ALE(random_state=0).fit(pain)
    threshold = result.estimator._p_to_summarystat(0.001)
    figures = Figures()
    for index in range(args.repeats):
        figures.start_repeat(index, args.repeats)
        one_repeat(result, threshold, args, figures, first=index == 0)
    figures.report()


if __name__ == "__main__":
    main()
