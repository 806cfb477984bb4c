"""Every name the README and the API documentation mention can be imported as written."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
DOTTED = re.compile(r"nimare_stability(?:\.[A-Za-z_]\w*)+")


def _resolve(dotted):
    """Import the longest module prefix of ``dotted``, then get the rest as attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _mentioned():
    names = set()
    for path in DOCUMENTS:
        text = path.read_text()
        names |= set(DOTTED.findall(text))
        module = None
        in_summary = False
        for line in text.splitlines():
            if line.startswith(".. currentmodule::"):
                module = line.split("::")[1].strip()
            elif line.startswith(".. autosummary::"):
                in_summary = True
            elif in_summary and re.fullmatch(r"   [A-Za-z_]\w*", line):
                names.add(f"{module}.{line.strip()}")
            elif line and not line.startswith(" "):
                in_summary = False
    return sorted(names)


def test_the_documents_mention_the_public_names():
    mentioned = _mentioned()
    for name in (
        "nimare_stability.ResampledStability",
        "nimare_stability.plotting.plot_stability",
        "nimare_stability.policies.LeaveOneOut",
        "nimare_stability.datasets.load_pain",
        "nimare_stability.report",
    ):
        assert name in mentioned


@pytest.mark.parametrize("name", _mentioned())
def test_a_documented_name_imports(name):
    assert _resolve(name) is not None


@pytest.mark.parametrize("name", ["ResampledStability", "Fragility", "FailSafeN"])
def test_shared_parameters_are_documented_from_one_entry_each(name):
    from nimare_stability.diagnostics.docs import DOCDICT

    doc = getattr(importlib.import_module("nimare_stability"), name).__doc__
    assert "%(" not in doc
    for entry in DOCDICT.values():
        lines = entry.splitlines()
        assert "\n".join(f"    {line}" for line in lines) in doc
