"""The package's layout is its architecture: layers, one home for names and for internals.

Read from the source files (ASTs), not from imported modules: a module that breaks a rule
fails here, by name, before anyone runs it.
"""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import nimare_stability

PACKAGE = Path(nimare_stability.__file__).parent
#: The layers, lowest first (the folders); a module imports from its own layer and below.
LAYERS = ("core", "resampling", "engines", "diagnostics", "reporting", "cli")
#: Modules beside the layers, and the layer they stand just above.
BESIDE = {
    "datasets": "core",
    "correct": "engines",
    "subtraction": "engines",
    "workflows": "diagnostics",
}
#: Substrings of the map and table keys only ``core/names.py`` may build.
KEY_MARKERS = ("_tab-", "_diag-", "_stat-", "_tail-", "_corr-", "_level-", "Tail ")
#: The package whose modules alone may touch private NiMARE and joblib names.
PRIVATE_HOME = "nimare_stability.core._nimare_private"


def _in_private_home(module):
    return module == PRIVATE_HOME or module.startswith(f"{PRIVATE_HOME}.")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(), filename=str(path))


MODULES = {name: (path, tree) for name, path, tree in _modules()}


def _rank(module):
    """Layer rank of a module (the package itself ranks above everything)."""
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)
    if parts[1] in BESIDE:
        return LAYERS.index(BESIDE[parts[1]]) + 0.5
    return LAYERS.index(parts[1])


def _imports(module, tree):
    """The package modules ``module`` imports (at any depth of its code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES and name != module}


def test_every_module_lives_in_a_layer_or_beside_them():
    for module in MODULES:
        parts = module.split(".")
        assert len(parts) == 1 or parts[1] in (*LAYERS, *BESIDE), module


def test_the_package_docstring_names_the_layers_in_order():
    assert " -> ".join(LAYERS) in nimare_stability.__doc__


def test_nothing_imports_from_a_higher_layer():
    upward = [
        f"{module} imports {imported}"
        for module, (_, tree) in MODULES.items()
        for imported in _imports(module, tree)
        if _rank(imported) > _rank(module) and imported != "nimare_stability"
    ]
    assert not upward


def test_no_module_imports_the_package_root():
    importers = [
        module
        for module, (_, tree) in MODULES.items()
        if module != "nimare_stability" and "nimare_stability" in _imports(module, tree)
    ]
    assert not importers


def test_the_import_graph_has_no_cycle():
    graph = {module: _imports(module, tree) for module, (_, tree) in MODULES.items()}
    # A package imports its submodules and they import siblings through it: only edges
    # between modules that are not a package and its own submodule count.
    graph = {
        module: {i for i in imported if not (i.startswith(f"{module}.") or module.startswith(i))}
        for module, imported in graph.items()
    }
    state = {}

    def visit(module, path):
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                raise AssertionError(" -> ".join([*path, module, imported]))
            if imported not in state:
                visit(imported, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_no_module_is_over_400_lines():
    long = {m: len(p.read_text().splitlines()) for m, (p, _) in MODULES.items()}
    assert not {m: n for m, n in long.items() if n > 400}


def _strings(tree):
    """Every string constant of a module that is not a docstring, and f-string parts."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield node.lineno, node.value


@pytest.mark.parametrize("marker", KEY_MARKERS)
def test_output_keys_are_built_only_by_the_names_module(marker):
    builders = [
        f"{module}:{line} {text!r}"
        for module, (_, tree) in MODULES.items()
        if module != "nimare_stability.core.names"
        for line, text in _strings(tree)
        if marker in text
    ]
    assert not builders


def test_no_quoted_table_suffix_outside_the_names_module():
    quoted = [
        str(path)
        for module, (path, _) in MODULES.items()
        if module != "nimare_stability.core.names" and '"_tab-' in path.read_text()
    ]
    assert not quoted


_PRIVATE_IMPORT = re.compile(r"^(nimare|joblib|nilearn)(\.|$)")
#: NiMARE modules whose private names (module functions, class attributes) we may meet.
NIMARE_MODULES = (
    "nimare.base",
    "nimare.correct",
    "nimare.diagnostics",
    "nimare.meta.cbma.ale",
    "nimare.meta.cbma.base",
    "nimare.meta.cbma.mkda",
    "nimare.meta.ibma",
    "nimare.meta.kernel",
    "nimare.meta.utils",
    "nimare.nimads",
    "nimare.reports.base",
    "nimare.results",
    "nimare.utils",
    "nimare.workflows.base",
    "nimare.workflows.cbma",
    "nimare.workflows.ibma",
)
#: The one NiMARE hook our diagnostics define outside that module: ``Diagnostics`` is an
#: abstract class whose subclasses must define ``_transform``.
REQUIRED_HOOKS = {"_transform"}


def _nimare_private_names():
    found = set()
    for name in NIMARE_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if _is_private(attr):
                found.add(attr)
            if inspect.isclass(value) and value.__module__.startswith("nimare"):
                found |= {a for a in vars(value) if _is_private(a)}
    return found


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _defined_by_us():
    """Private names our modules (but the private home) define: functions, attributes."""
    ours = set()
    for module, (_, tree) in MODULES.items():
        if _in_private_home(module):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and _is_private(node.name):
                ours.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                ours.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                ours.add(node.id)
    return ours


def test_private_nimare_and_joblib_names_are_used_only_through_one_module():
    theirs = _nimare_private_names()
    hooks = theirs - REQUIRED_HOOKS
    foreign = theirs - _defined_by_us()
    used = []
    for module, (_, tree) in MODULES.items():
        if _in_private_home(module):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _PRIVATE_IMPORT.match(node.module or ""):
                private = [a.name for a in node.names if _is_private(a.name)]
                if private or node.module == "joblib.parallel":
                    used.append(f"{module}: from {node.module} import {private}")
            elif isinstance(node, ast.Attribute) and node.attr in foreign:
                used.append(f"{module}:{node.lineno} uses .{node.attr}")
            elif isinstance(node, ast.ClassDef):
                overrides = [
                    f.name for f in node.body if isinstance(f, ast.FunctionDef) and f.name in hooks
                ]
                used += [f"{module}: {node.name} overrides {name}" for name in overrides]
    assert theirs and not used
