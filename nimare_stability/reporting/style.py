"""What every figure shares: the verdicts' colours and a cheap garbage collector."""

import functools
import gc

#: Colour of each verdict (:func:`~nimare_stability.robustness_table`).
VERDICT_COLORS = {
    "robust": "#1b9e77",
    "unstable": "#e6ab02",
    "file-drawer": "#7570b3",
    "dominated": "#d95f02",
    "fragile": "#d62728",
    "undetermined": "#999999",
}
_FROZEN = []


def cheap_collections(plot):
    """Freeze the heap while ``plot`` runs: nilearn forces ``gc.collect()`` per image.

    On a heap holding a fitted meta-analysis those collections cost seconds each; frozen
    objects are skipped (and collectable again afterwards).
    """

    @functools.wraps(plot)
    def frozen(*args, **kwargs):
        if not _FROZEN:
            gc.freeze()
        _FROZEN.append(plot)
        try:
            return plot(*args, **kwargs)
        finally:
            _FROZEN.pop()
            if not _FROZEN:
                gc.unfreeze()

    return frozen
