"""Progress bars show on a terminal when asked; off a terminal, or with TQDM_DISABLE, never."""

import ast
import io
import sys
from pathlib import Path

import pytest

import nimare_stability
from nimare_stability import Jackknife
from nimare_stability.core.progress import tqdm_disable

FDR = "z_corr-FDR_method-indep"
PACKAGE = Path(nimare_stability.__file__).parent


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def no_tqdm_variable(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


def _stderr_of_jackknife(result, monkeypatch, stream, progress=True):
    """What our Jackknife's bar (21 analyses) writes when ``stream`` is stderr."""
    monkeypatch.setattr(sys, "stderr", stream)
    Jackknife(target_image=FDR, target_threshold=1.65, progress=progress).transform(result)
    monkeypatch.undo()
    return stream.getvalue()


@pytest.mark.usefixtures("no_tqdm_variable")
def test_a_bar_shows_on_a_terminal_and_hides_off_one(pain_fdr, monkeypatch):
    shown = _stderr_of_jackknife(pain_fdr, monkeypatch, _Terminal())
    assert "Jackknife: 100%" in shown and "21/21" in shown
    assert _stderr_of_jackknife(pain_fdr, monkeypatch, io.StringIO()) == ""


def test_tqdm_disable_hides_a_bar_asked_for_on_a_terminal(pain_fdr, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert _stderr_of_jackknife(pain_fdr, monkeypatch, _Terminal()) == ""


@pytest.mark.parametrize(
    ("progress", "variable", "expected"),
    [(True, None, None), (True, "", None), (True, "1", True), (False, None, True)],
)
def test_the_rule_leaves_terminals_to_tqdm_unless_hidden(progress, variable, expected, monkeypatch):
    if variable is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", variable)
    assert tqdm_disable(progress) is expected


def test_every_bar_of_the_package_follows_the_rule():
    calls = [
        (path.name, node)
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tqdm"
    ]
    assert len(calls) == 10
    for name, call in calls:
        (disable,) = [k.value for k in call.keywords if k.arg == "disable"]
        assert isinstance(disable, ast.Call) and disable.func.id == "tqdm_disable", name
