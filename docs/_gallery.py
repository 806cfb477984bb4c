"""Helpers of the example gallery (sphinx-gallery imports them by name from conf.py)."""

import gc
import logging

#: The order in which the gallery tells its story (unlisted examples follow, by name).
ORDER = (
    "plot_pain_stability.py",
    "plot_choosing_a_policy.py",
    "plot_robustness_profile.py",
    "plot_workflow_report.py",
    "plot_pairwise.py",
    "plot_contrast_nback_flanker.py",
    "plot_ibma_simulated.py",
    "plot_many_analyses_per_study.py",
    "plot_precision_checkpoints_dask.py",
)


class StoryOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """Return ``(position in ORDER, filename)``."""
        rank = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return (rank, filename)


def quiet_logs(gallery_conf, fname):
    """Keep NiMARE's and our INFO messages out of the example pages (warnings stay).

    NiMARE calls ``logging.basicConfig(level=logging.INFO)`` on import; sphinx-gallery
    captures stderr, so every INFO line would land in the page.
    """
    for name in ("nimare", "nimare_stability"):
        logging.getLogger(name).setLevel(logging.WARNING)


def frozen_heap(gallery_conf, fname):
    """Collect what the previous example left, then freeze the heap before the next one.

    nilearn runs a full ``gc.collect()`` each time it reads an image; frozen objects
    (Sphinx's own, the earlier examples' survivors) are skipped, so an example runs as
    fast in the build as alone.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
