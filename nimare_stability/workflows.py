"""Name our diagnostics (and any other ``nimare.diagnostics`` entry point) in workflows.

NiMARE's ``CBMAWorkflow``, ``PairwiseCBMAWorkflow`` and ``IBMAWorkflow``.

NiMARE reads no entry points: workflow names resolve through
``nimare.workflows.base.STR_TO_CLASS`` and each workflow class's ``_diag_options``, and
``nimare.reports.run_reports`` shows the heatmaps of Jackknife and FocusCounter only.
:func:`enable_workflows` patches all three (the report also shows our diagnostics'
heatmaps) and makes a workflow refuse NiMARE's ``"jackknife"`` with our
``"fastjackknife"`` when it is built (they write the same tables);
:func:`disable_workflows` restores everything exactly. Importing this package changes
nothing.
"""

import warnings
from importlib.metadata import entry_points

from nimare.diagnostics import Diagnostics

from nimare_stability.core._nimare_private import (
    DIAG_OPTIONS_ATTR,
    REPORT_DIAGNOSTICS_SECTION,
    REPORT_INDEX_ATTR,
    WORKFLOW_RESOLVE_ATTR,
    report_class,
    workflow_base_class,
    workflow_classes,
    workflow_names,
)
from nimare_stability.diagnostics.jackknife_pair import check_one_jackknife
from nimare_stability.diagnostics.nimare_outputs import report_sections

ENTRY_POINT_GROUP = "nimare.diagnostics"

#: What :func:`enable_workflows` replaced, to be put back by :func:`disable_workflows`.
_SAVED = {}


def _with_our_heatmaps(index):
    """Wrap ``Report.index`` so that the diagnostics section also lists our heatmaps."""

    def index_with_ours(report, config):
        extended = [
            {**section, "reportlets": [*section["reportlets"], *report_sections()]}
            if section.get("name") == REPORT_DIAGNOSTICS_SECTION
            else section
            for section in config
        ]
        return index(report, extended)

    return index_with_ours


def _refusing_both_jackknifes(resolve):
    """Wrap a workflow's input resolution: refuse NiMARE's Jackknife with ours."""

    def resolve_and_check(workflow, *args, **kwargs):
        resolve(workflow, *args, **kwargs)
        check_one_jackknife(workflow.diagnostics)  # every target runs the whole list

    return resolve_and_check


def installed_diagnostics():
    """Load every ``nimare.diagnostics`` entry point that is a usable diagnostic.

    Returns
    -------
    dict
        Lower-case name -> :class:`~nimare.diagnostics.Diagnostics` subclass. A broken entry
        point, or one whose name NiMARE already uses, is skipped with a warning.
    """
    nimare_names = set(_SAVED.get("names", workflow_names()))
    found = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name.lower()
        if name in nimare_names:
            warnings.warn(
                f"Entry point {entry_point.name!r} ({entry_point.value}) in group "
                f"{ENTRY_POINT_GROUP!r} clashes with NiMARE's own {name!r}; skipped.",
                UserWarning,
                stacklevel=2,
            )
            continue
        try:
            diagnostic = entry_point.load()
        except Exception as exc:  # a third-party package may fail in any way
            warnings.warn(
                f"Entry point {entry_point.name!r} ({entry_point.value}) in group "
                f"{ENTRY_POINT_GROUP!r} could not be loaded ({type(exc).__name__}: {exc}); "
                "skipped.",
                UserWarning,
                stacklevel=2,
            )
            continue
        if not (isinstance(diagnostic, type) and issubclass(diagnostic, Diagnostics)):
            warnings.warn(
                f"Entry point {entry_point.name!r} ({entry_point.value}) is not a "
                "nimare.diagnostics.Diagnostics subclass; skipped.",
                UserWarning,
                stacklevel=2,
            )
            continue
        found[name] = diagnostic
    return found


def enable_workflows():
    """Make every installed ``nimare.diagnostics`` entry point usable by name in workflows.

    ``CBMAWorkflow``, ``PairwiseCBMAWorkflow`` and ``IBMAWorkflow``; ``run_reports`` then
    also shows the heatmaps of ResampledStability and Fragility. A workflow given both
    ``"jackknife"`` and ``"fastjackknife"`` (names or objects) raises ValueError when it is
    built: they write the same tables. Idempotent.

    Returns
    -------
    list of str
        The names added.
    """
    disable_workflows()
    str_to_class = workflow_names()
    _SAVED["names"] = set(str_to_class)
    added = installed_diagnostics()
    _SAVED["options"] = {cls: cls.__dict__[DIAG_OPTIONS_ATTR] for cls in workflow_classes()}
    str_to_class.update(added)
    for cls, options in _SAVED["options"].items():
        options = (options,) if isinstance(options, str) else tuple(options)
        extended = options + tuple(name for name in added if name not in options)
        setattr(cls, DIAG_OPTIONS_ATTR, extended)
    report = report_class()
    _SAVED["index"] = report.__dict__[REPORT_INDEX_ATTR]
    setattr(report, REPORT_INDEX_ATTR, _with_our_heatmaps(_SAVED["index"]))
    workflow = workflow_base_class()
    _SAVED["resolve"] = workflow.__dict__[WORKFLOW_RESOLVE_ATTR]
    setattr(workflow, WORKFLOW_RESOLVE_ATTR, _refusing_both_jackknifes(_SAVED["resolve"]))
    _SAVED["added"] = list(added)
    return list(added)


def disable_workflows():
    """Undo :func:`enable_workflows` exactly (a no-op when it was not called)."""
    if "added" not in _SAVED:
        _SAVED.clear()
        return
    str_to_class = workflow_names()
    for name in _SAVED["added"]:
        str_to_class.pop(name, None)
    for cls, options in _SAVED["options"].items():
        setattr(cls, DIAG_OPTIONS_ATTR, options)
    setattr(report_class(), REPORT_INDEX_ATTR, _SAVED["index"])
    setattr(workflow_base_class(), WORKFLOW_RESOLVE_ATTR, _SAVED["resolve"])
    _SAVED.clear()
