"""nimare-stability: how much should we trust a meta-analysis's clusters?

``ResampledStability`` refits a NiMARE meta-analysis on resampled sets of analyses and maps,
voxel by voxel, how often each voxel stays significant.
"""

from nimare_stability.stability import ResampledStability

__all__ = ["ResampledStability"]
__version__ = "0.1.0"
