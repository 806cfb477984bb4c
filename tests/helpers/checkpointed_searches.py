"""Checkpointed Fragility and FailSafeN runs on pain: what ``test_checkpoint_searches`` kills.

Run as a script: ``checkpointed_searches.py NAME RESULT DIRECTORY K`` runs the diagnostic
``NAME`` on the pickled result at ``RESULT`` with ``checkpoint_dir=DIRECTORY`` and kills
itself (SIGKILL) as it is about to rename the ``K``-th piece into place: ``K - 1`` pieces
are whole, the ``K``-th is left as a temporary file.
"""

import os
import pickle
import signal
import sys

from nimare_stability import FailSafeN, Fragility
from nimare_stability.engines import checkpoint

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
#: Small searches with a Monte Carlo target: screened and confirmed nulls, a grid of nulls.
SETTINGS = {
    "fragility": (Fragility, {"max_exact": 0, "max_removed": 2}),
    "failsafen": (FailSafeN, {"max_multiple": 1, "n_drawers": 2}),
}


def diagnostic(name, checkpoint_dir):
    """The diagnostic ``name`` of :data:`SETTINGS`, seeded, on :data:`TARGET`."""
    cls, params = SETTINGS[name]
    return cls(
        target_image=TARGET,
        random_state=11,
        progress=False,
        checkpoint_dir=checkpoint_dir,
        **params,
    )


def _kill_at_piece(k):
    """Make this process kill itself just before renaming the ``k``-th piece into place."""
    rename = os.replace
    renamed = []

    def replace(source, target):
        if str(target).endswith(".npz"):
            renamed.append(target)
            if len(renamed) == k:
                os.kill(os.getpid(), signal.SIGKILL)
        rename(source, target)

    checkpoint.os.replace = replace


if __name__ == "__main__":
    name, result_path, directory, k = sys.argv[1:]
    with open(result_path, "rb") as handle:
        result = pickle.load(handle)
    _kill_at_piece(int(k))
    diagnostic(name, directory).transform(result)
