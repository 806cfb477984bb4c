"""
Stability inside NiMARE's workflows, and the reports
====================================================

NiMARE's :class:`~nimare.workflows.CBMAWorkflow` fits an estimator, corrects the result
and runs diagnostics on the corrected maps, in one call. It accepts our diagnostics as
instances; after one explicit call to :func:`nimare_stability.enable_workflows`, also by
name: ``"resampledstability"``, ``"fragility"``, ``"failsafen"`` and ``"robustness"``
(the verdict, which joins the evidence of the diagnostics listed before it). Importing
the package changes nothing in NiMARE; :func:`nimare_stability.disable_workflows` undoes
the call.

Two reports then read the result: NiMARE's :func:`nimare.reports.run_reports` (its
diagnostics section shows the heatmaps of Jackknife and of our diagnostics), and
:func:`nimare_stability.report`, one self-contained ``report.html`` that gives the answer
first: a paragraph naming the weakest cluster, the clusters with their location, verdict
and reason, then the figures, the replicates, the methods text and the provenance.
"""

import os
import tempfile
import textwrap

import pandas as pd
from nimare.correct import FWECorrector
from nimare.meta.cbma import ALE
from nimare.reports import run_reports
from nimare.workflows import CBMAWorkflow

import nimare_stability
import nimare_stability.plotting
from nimare_stability.datasets import load_pain

N_ITERS = int(os.environ.get("NIMARE_STABILITY_DOCS_ITERS", 1000))

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)
pd.set_option("display.max_colwidth", 50)

# %%
# Name our diagnostics in the workflow
# ------------------------------------
# The workflow passes its ``voxel_thresh`` (1.65) as ``target_threshold`` and its
# ``cluster_threshold`` (10 voxels) to every diagnostic named by string, so Jackknife and
# ResampledStability judge the same clusters. With a Monte Carlo corrector, NiMARE's
# workflow diagnoses the cluster-mass corrected map.
nimare_stability.enable_workflows()

pain = load_pain()
workflow = CBMAWorkflow(
    estimator=ALE(random_state=0),
    corrector=FWECorrector(method="montecarlo", n_iters=N_ITERS),
    diagnostics=["jackknife", "resampledstability", "robustness"],
)
result = workflow.fit(pain)
for diagnostic in result.diagnostics:
    print(f"{type(diagnostic).__name__:>20} on {diagnostic.target_image}")

# %%
# The result holds every diagnostic's tables, keyed by the target: here the verdict per
# cluster (the first columns)...
target = result.diagnostics[-1].target_image
result.tables[f"{target}_tab-robustness"].head()

# %%
# ... and the stability of each cluster.
stem = f"{target}_diag-ResampledStability"
result.tables[f"{stem}_tab-clusters"].head()

# %%
# The per-cluster figure of :mod:`nimare_stability.plotting` colours each cluster by its
# verdict.
nimare_stability.plotting.plot_cluster_stability(result, target)

# %%
# A name gives the diagnostic's defaults (leave one out, ``random_state=None``: fresh
# entropy, recorded in ``_tab-summary``). For another policy, or a fixed seed, pass an
# instance instead, e.g. ``ResampledStability(resampling_policy="subsample",
# target_n=0.75, n_resamples=100, random_state=0)``: the workflow fills its
# ``target_image`` and the thresholds left at their defaults.
result.tables[f"{stem}_tab-summary"].T

# %%
# NiMARE's report and ours
# ------------------------
# Both write into a folder; here a temporary one.
out_dir = tempfile.mkdtemp(prefix="nimare-stability-example-")
run_reports(result, os.path.join(out_dir, "nimare"))
ours = nimare_stability.report(result, os.path.join(out_dir, "stability"))
print("NiMARE's report:", os.path.join(out_dir, "nimare", "report.html"))
print("our report:     ", ours)
print(f"our report is one file of {os.path.getsize(ours) / 1e6:.1f} MB, figures embedded")

# %%
# Its opening paragraph, ready to paste:
from nimare_stability.reporting.html_report import summary  # noqa: E402

print(textwrap.fill(summary(result.tables[f"{target}_tab-robustness"], target), 88))

# %%
# Its first figure numbers each cluster at its peak, as the tables do, coloured by verdict.
nimare_stability.plotting.plot_cluster_map(result, target)

# %%
# The methods text that the workflow's steps wrote, ready for a paper (references in
# ``result.bibtex_``).
print(textwrap.fill(result.description_, 90))

# %%
# Restore NiMARE's workflows exactly as they were.
nimare_stability.disable_workflows()
