"""How much should we trust a meta-analysis's clusters? Resampling diagnostics for NiMARE.

``ResampledStability`` refits a NiMARE meta-analysis on resampled sets of analyses and maps,
voxel by voxel, how often each voxel stays significant. ``Fragility`` finds the fewest
analyses whose removal sinks each cluster, ``FailSafeN`` how many null analyses it
withstands. ``Jackknife`` is NiMARE's Jackknife from MA maps cached once (ALE,
MKDADensity, KDA), optionally leaving out whole groups (studies). ``robustness_table``
joins them with a Jackknife into a per-cluster verdict and its reason; ``report`` writes
them into one HTML page, and
:mod:`nimare_stability.plotting` draws them. ``enable_workflows()`` lets NiMARE's
workflows name them all (``"resampledstability"``, ``"fragility"``, ``"failsafen"``,
``"robustness"``, ``"fastjackknife"``).
"""

from nimare_stability.failsafe import FailSafeN
from nimare_stability.fragility import Fragility
from nimare_stability.htmlreport import report
from nimare_stability.jackknife import Jackknife
from nimare_stability.robustness import RobustnessVerdict, robustness_table
from nimare_stability.stability import ResampledStability
from nimare_stability.workflows import disable_workflows, enable_workflows

__all__ = [
    "FailSafeN",
    "Fragility",
    "Jackknife",
    "ResampledStability",
    "RobustnessVerdict",
    "disable_workflows",
    "enable_workflows",
    "report",
    "robustness_table",
]
__version__ = "0.1.0"
