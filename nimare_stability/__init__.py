"""How much should we trust a meta-analysis's clusters? Resampling diagnostics for NiMARE.

``ResampledStability`` refits a NiMARE meta-analysis on resampled sets of analyses and maps,
voxel by voxel, how often each voxel stays significant. ``robustness_table`` joins that
with NiMARE's Jackknife into a per-cluster verdict. ``enable_workflows()`` lets NiMARE's
workflows name both (``"resampledstability"``, ``"robustness"``).
"""

from nimare_stability.robustness import RobustnessVerdict, robustness_table
from nimare_stability.stability import ResampledStability
from nimare_stability.workflows import disable_workflows, enable_workflows

__all__ = [
    "ResampledStability",
    "RobustnessVerdict",
    "disable_workflows",
    "enable_workflows",
    "robustness_table",
]
__version__ = "0.1.0"
