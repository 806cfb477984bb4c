"""The lowest layer: what every other layer reads of a NiMARE result.

Output names (:mod:`~nimare_stability.core.names`), target maps and their p values
(:mod:`~nimare_stability.core.targets`), the support rule
(:mod:`~nimare_stability.core.support`) and the baseline's support and clusters
(:mod:`~nimare_stability.core.baseline`, :mod:`~nimare_stability.core.clusters`), masked
volumes, the analysis set a result was fit on and its grouping, parameter validation, when
progress bars show (:mod:`~nimare_stability.core.progress`), and every private NiMARE,
nilearn or joblib name the package relies on (:mod:`~nimare_stability.core._nimare_private`).
Imports nothing from the other layers.
"""
