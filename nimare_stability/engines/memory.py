"""Memory a diagnostic will need, estimated from the sizes involved before the costly work.

The estimate adds the largest things a run holds at once, each from counts known before it
starts: the analyses' modeled-activation (MA) maps (their nonzero values, measured on a
few analyses), NiMARE fits of many analyses, the Monte Carlo engine's per-thread arrays
(one value per mask voxel, per replicate judged at once) and the worker processes. The
constants were measured on NiMARE's n-back studyset (494 analyses, 15.7 million nonzero MA
values); a FailSafeN drawer of n-back plus 1482 null analyses holds its 70.7 million MA
values in 540 MB. They are rough, and the log says so.
"""

import copy
import ctypes
import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nimare_stability.core import _nimare_private as private

LGR = logging.getLogger(__name__)

#: Bytes per nonzero MA value that a NiMARE fit holds at its peak (n-back: 580 MB above the
#: loaded data for 15.7 million values).
FIT_BYTES_PER_VALUE = 40
#: Bytes per nonzero MA value in the engines' cache (float32 value, int32 voxel index).
CACHE_BYTES_PER_VALUE = 8
#: A worker process with NiMARE imported, before its data.
PROCESS_BYTES = 300 * 2**20
#: float64 arrays of one value per mask voxel that each engine thread allocates.
ENGINE_ARRAYS_PER_THREAD = 16
#: Analyses whose MA maps are computed to measure the values per analysis.
SAMPLE_ANALYSES = 32


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory of a run, by part.

    Attributes
    ----------
    parts : :obj:`dict`
        What (words) -> bytes.
    hints : :obj:`tuple` of :obj:`str`
        How to need less, for the message when the machine has too little.
    """

    parts: dict
    hints: tuple = ()

    @property
    def total(self):
        """Bytes of every part together."""
        return int(sum(self.parts.values()))

    def describe(self, what):
        """Return one sentence: the total and its largest parts."""
        largest = sorted(self.parts.items(), key=lambda item: -item[1])[:3]
        parts = "; ".join(f"{name} {gib(size)}" for name, size in largest)
        return f"{what} needs about {gib(self.total)} of memory ({parts}; a rough estimate)."


def gib(n_bytes):
    """Return ``n_bytes`` in words (``"1.2 GiB"``, ``"340 MiB"``)."""
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.1f} GiB"
    return f"{n_bytes / 2**20:.0f} MiB"


def available_bytes():
    """Return the memory this machine can give now (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def ma_values_per_analysis(estimator, rng=None):
    """Mean number of nonzero MA values per analysis of a fitted kernel CBMA estimator.

    Computed by the estimator's own kernel on :data:`SAMPLE_ANALYSES` of its analyses (of
    both groups for a pairwise estimator), drawn with ``rng`` (a fixed draw when None).
    Returns None for estimators without a kernel, or whose kernel fails (the run then
    reports the fault where it happens).
    """
    inputs = getattr(estimator, "inputs_", {})
    groups = [
        inputs[key] for key in ("coordinates", "coordinates1", "coordinates2") if key in inputs
    ]
    if getattr(estimator, "kernel_transformer", None) is None or not groups:
        return None
    coordinates = pd.concat(groups)
    ids = np.unique(np.asarray(coordinates["id"]).astype(str))
    if ids.size > SAMPLE_ANALYSES:
        rng = rng or np.random.default_rng(0)
        ids = np.sort(rng.choice(ids, SAMPLE_ANALYSES, replace=False))
    sample = copy.copy(estimator)
    sample.inputs_ = {
        "id": ids,
        "coordinates": coordinates[coordinates["id"].astype(str).isin(ids)],
    }
    try:
        ma_maps = private.collect_ma_maps(sample)
    except Exception as exc:  # noqa: BLE001 - advice only: the run itself reports the fault
        LGR.debug(f"MA maps not sized ({exc!r}): the memory estimate leaves them out.")
        return None
    nnz = ma_maps.nnz if hasattr(ma_maps, "nnz") else np.count_nonzero(ma_maps)
    return nnz / ids.size


def kernel_run(n_analyses, values, n_voxels, n_replicates, n_threads):
    """Parts of a run on the fast engine: the MA cache and the engine threads.

    Parameters
    ----------
    n_analyses : int
        Analyses whose MA maps are cached.
    values : float
        Nonzero MA values per analysis (:func:`ma_values_per_analysis`).
    n_voxels : int
        Mask voxels.
    n_replicates : int
        Replicates the Monte Carlo engine judges at once.
    n_threads : int
        Engine threads.
    """
    cache = n_analyses * values * CACHE_BYTES_PER_VALUE
    per_thread = (ENGINE_ARRAYS_PER_THREAD + n_replicates) * n_voxels * 8
    parts = {
        f"MA maps of {n_analyses} analyses": cache,
        f"Monte Carlo engine ({n_threads} threads x {n_replicates} replicates)": (
            n_threads * per_thread
        ),
    }
    return parts


def nimare_fits(n_analyses, values, n_parallel):
    """Parts of ``n_parallel`` NiMARE fits of ``n_analyses`` analyses at once."""
    per_fit = n_analyses * values * FIT_BYTES_PER_VALUE
    extra = PROCESS_BYTES if n_parallel > 1 else 0
    return {f"{n_parallel} NiMARE fit(s) of {n_analyses} analyses": n_parallel * (per_fit + extra)}


def log_estimate(estimate, what):
    """Log ``estimate``; warn, with how to need less, when the machine has less available.

    Returns
    -------
    bool
        Whether the machine has enough (True when its available memory is unknown).
    """
    available = available_bytes()
    LGR.info(estimate.describe(what))
    if available is None or estimate.total <= available:
        return True
    hints = "; ".join(estimate.hints) or "use fewer cores"
    LGR.warning(
        f"{estimate.describe(what)} This machine has {gib(available)} available: the run may "
        f"fail for lack of memory. To need less: {hints}."
    )
    return False


def release_freed():
    """Hand the heap's freed pages back to the operating system (glibc; elsewhere a no-op).

    NiMARE's MA maps are built from many mid-sized arrays that, once freed, glibc keeps:
    after the MA maps of n-back plus 1482 null analyses, 500 MB of a process's 1.5 GB.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
