"""A checkpointed ResampledStability run on pain: what ``test_checkpoint`` kills and resumes.

Run as a script with the checkpoint directory as its argument.
"""

import os
import sys

from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE
from nimare.nimads import Studyset
from nimare.utils import get_resource_path

from nimare_stability import ResampledStability

TARGET = "z_desc-size_level-cluster_corr-FWE_method-montecarlo"
#: Null iterations of the run: ten blocks of 100.
N_ITERS = 1000


def corrected():
    """ALE on pain, corrected by Monte Carlo FWE (100 iterations)."""
    pain = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"))
    return FWECorrector(method="montecarlo", n_iters=100).transform(ALE(random_state=7).fit(pain))


def diagnostic(checkpoint_dir, **params):
    """The run: 8 random subsamples, fast engine, ``N_ITERS`` null iterations each."""
    settings = dict(
        target_image=TARGET,
        resampling_policy="subsample",
        target_n=0.75,
        n_resamples=8,
        n_iters=N_ITERS,
        engine="fast",
        random_state=0,
        progress=False,
        checkpoint_dir=checkpoint_dir,
    )
    return ResampledStability(**{**settings, **params})


if __name__ == "__main__":
    diagnostic(sys.argv[1]).transform(corrected())
