"""The diagnostics: each returns a new result with its maps and tables added.

Each takes a corrected :class:`~nimare.results.MetaResult` and never modifies it.

:class:`ResampledStability`, :class:`Fragility` and :class:`FailSafeN` share one template
(:class:`~nimare_stability.diagnostics.base.ClusterDiagnostic`); :class:`Jackknife` is
NiMARE's, from cached MA maps; :class:`RobustnessVerdict` and :func:`robustness_table`
join their evidence into a verdict per cluster. They ask ``engines`` to judge replicates
and never look inside an engine or a policy.
"""

from nimare_stability.diagnostics.failsafe import FailSafeN
from nimare_stability.diagnostics.fragility import Fragility
from nimare_stability.diagnostics.jackknife import Jackknife
from nimare_stability.diagnostics.stability import ResampledStability
from nimare_stability.diagnostics.verdict import RobustnessVerdict, robustness_table

__all__ = [
    "FailSafeN",
    "Fragility",
    "Jackknife",
    "ResampledStability",
    "RobustnessVerdict",
    "robustness_table",
]
