"""How much should we trust a meta-analysis's clusters? Resampling diagnostics for NiMARE.

``ResampledStability`` refits a NiMARE meta-analysis on resampled sets of analyses and maps,
voxel by voxel, how often each voxel stays significant. ``Fragility`` finds the fewest
analyses whose removal sinks each cluster, ``FailSafeN`` how many null analyses it
withstands. ``Jackknife`` is NiMARE's Jackknife from MA maps cached once (ALE,
MKDADensity, KDA), optionally leaving out whole groups (studies). ``robustness_table``
joins them with a Jackknife into a per-cluster verdict and its reason; ``report`` writes
them into one HTML page, and :mod:`nimare_stability.plotting` draws them.
``enable_workflows()`` lets NiMARE's workflows name them all (``"resampledstability"``,
``"fragility"``, ``"failsafen"``, ``"robustness"``, ``"fastjackknife"``). ``FWECorrector``
is NiMARE's, its Monte Carlo null drawn by the package's compiled engine (ALE,
MKDADensity, KDA): the same outputs, faster; ``ALESubtraction`` is NiMARE's, its
permutations run by the package's compiled pairwise engine.

The folders are the layers, lowest first; a module imports from its own layer and the
layers below it, never from a higher one:

core -> resampling -> engines -> diagnostics -> reporting -> cli

- ``core``: output names, target maps and their p values, the support rule and the
  baseline, clusters and volumes, the analysis set and its grouping, parameter
  validation, and every private NiMARE, nilearn or joblib name the package relies on.
- ``resampling``: policies, the schedules they draw, and seeds.
- ``engines``: what judges a replicate (refit, fast, the compiled Monte Carlo null), with
  parallel backends, checkpoints, batches and keyed replicates.
- ``diagnostics``: ResampledStability, Fragility, FailSafeN, Jackknife, the verdict, and
  the outputs NiMARE's own tools read.
- ``reporting``: figures and the HTML report.
- ``cli``: the ``nimare-stability`` command.

Four modules stand beside the layers: ``datasets`` (NiMARE's bundled studysets; uses
``core``), ``correct`` (``FWECorrector``; uses ``core`` and ``engines``), ``subtraction``
(``ALESubtraction``; uses ``core`` and ``engines``) and ``workflows`` (NiMARE's workflows
learn our names; uses ``diagnostics``).
"""

import sys

from nimare_stability.correct import FWECorrector
from nimare_stability.diagnostics import (
    FailSafeN,
    Fragility,
    Jackknife,
    ResampledStability,
    RobustnessVerdict,
    robustness_table,
)
from nimare_stability.reporting import plotting, report
from nimare_stability.resampling import policies
from nimare_stability.subtraction import ALESubtraction
from nimare_stability.workflows import disable_workflows, enable_workflows

# ``nimare_stability.plotting`` and ``nimare_stability.policies`` are public module paths:
# ``import nimare_stability.plotting`` finds the modules in their layers.
for _module in (plotting, policies):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module

__all__ = [
    "ALESubtraction",
    "FWECorrector",
    "FailSafeN",
    "Fragility",
    "Jackknife",
    "ResampledStability",
    "RobustnessVerdict",
    "disable_workflows",
    "enable_workflows",
    "plotting",
    "policies",
    "report",
    "robustness_table",
]
__version__ = "0.1.0"
