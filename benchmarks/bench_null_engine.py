"""Monte Carlo FWE null on pain (ALE), one core: NiMARE's corrector vs the compiled engine.

Run: ``python benchmarks/bench_null_engine.py [n_iters]`` (default 500). The engine is
timed after one warm-up call (numba compiles on first use, cached on disk afterwards).
R = 21 is every leave-one-out replicate from the same random foci; NiMARE would need one
corrector run per replicate, so its equivalent throughput is its R = 1 rate divided by 21.
"""

import os
import sys
import time

import numpy as np
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

from nimare_stability.engines.montecarlo import build_layout, null_maxima


def _timed(func):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def main(n_iters=500):
    """Print iterations per second for NiMARE and for the engine at R = 1 and R = 21."""
    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    result = ALE(random_state=0).fit(pain)
    estimator = result.estimator
    threshold = estimator._p_to_summarystat(0.001)

    corrector = FWECorrector(method="montecarlo", n_iters=n_iters, n_cores=1)
    t_nimare, _ = _timed(lambda: corrector.transform(result))

    layout = build_layout(estimator)
    full = np.ones((1, layout.n_analyses), dtype=bool)
    loo = ~np.eye(layout.n_analyses, dtype=bool)
    null_maxima(layout, loo, threshold, 10, 0)  # compile / load the numba cache
    t_one, _ = _timed(lambda: null_maxima(layout, full, threshold, n_iters, 1, n_cores=1))
    t_loo, _ = _timed(lambda: null_maxima(layout, loo, threshold, n_iters, 1, n_cores=1))

    nimare_rate = n_iters / t_nimare
    print(f"pain ALE, {n_iters} iterations, one core")
    print(f"NiMARE FWECorrector(montecarlo): {nimare_rate:8.1f} it/s ({t_nimare:.2f} s)")
    print(
        f"engine R=1:                      {n_iters / t_one:8.1f} it/s ({t_one:.2f} s)"
        f"  -> {t_nimare / t_one:.1f}x NiMARE"
    )
    print(
        f"engine R=21 (leave-one-out):     {n_iters / t_loo:8.1f} it/s ({t_loo:.2f} s)"
        f"  = {21 * n_iters / t_loo:.1f} replicate-it/s"
        f"  -> {21 * t_nimare / t_loo:.1f}x NiMARE run once per replicate"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
