"""The package's own imports: only declared dependencies, no optional one."""

import json
import subprocess
import sys
from importlib.metadata import requires

OPTIONAL = {"pyarrow", "dask", "distributed", "cupy", "matplotlib", "sklearn"}


def _new_top_level_modules(before, after):
    code = (
        "import sys, json\n"
        f"{before}\n"
        "first = {m.split('.')[0] for m in sys.modules}\n"
        f"{after}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} - first)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_adds_no_optional_dependency_to_what_nimare_imports():
    added = _new_top_level_modules("import nimare, nimare.diagnostics", "import nimare_stability")
    assert not added & OPTIONAL
    assert added <= {"nimare_stability", "numba", "llvmlite", "tqdm", "joblib"}


def test_declared_dependencies_pin_a_tested_nimare_range_and_numba():
    declared = {r.split(";")[0].replace(" ", "") for r in requires("nimare-stability")}
    assert "nimare<0.23,>=0.22.1" in declared or "nimare>=0.22.1,<0.23" in declared
    assert any(r.startswith("numba") for r in declared)
