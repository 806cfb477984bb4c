"""Checkpoints that fail safe: a damaged manifest, a bad directory, a directory in use."""

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from nimare_stability import FailSafeN, Fragility, ResampledStability
from nimare_stability.core import validation
from nimare_stability.core.support import Support
from nimare_stability.engines import locks
from nimare_stability.engines.batches import judge_resumable
from nimare_stability.engines.checkpoint import MANIFEST, Checkpoint, fingerprint

DIAGNOSTICS = [ResampledStability, Fragility, FailSafeN]
ACCEPTED = "accepted: a directory path, new or holding the checkpoint of this same run"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            "{not json",
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("", "Expecting value: line 1 column 1 (char 0)"),
        ("[1, 2]", "a list"),
    ],
)
def test_a_damaged_manifest_is_refused_naming_the_file_and_what_to_do(tmp_path, content, problem):
    (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(ValueError) as info, Checkpoint.open(tmp_path, {"run": "this"}):
        pass
    assert str(info.value) == (
        f"The checkpoint manifest {str(tmp_path / MANIFEST)!r} is damaged (not a JSON object: "
        f"{problem}). Delete the directory to start afresh, or use another checkpoint_dir."
    )


class _Engine:
    """Judges replicate ``i`` as a support of one voxel, ``i``; records what it judged."""

    def __init__(self):
        self.judged = []

    def run(self, retained, seeds, n_cores=1, progress=True, store=None, skip=()):
        for index in range(len(retained)):
            if index not in skip:
                self.judged.append(index)
                yield index, Support(np.array([index], dtype=np.int8), 1)


def _judge(engine, store):
    names = [f"replicate-{index}" for index in range(3)]
    judged = judge_resumable(engine, [None] * 3, [0] * 3, 1, False, store, names, "batch")
    return {index: (support.signs.tolist(), support.n_clusters) for index, support in judged}


def test_an_unreadable_piece_is_judged_again_with_a_warning(tmp_path, caplog):
    with Checkpoint.open(tmp_path, {"run": "this"}) as store:
        first = _judge(_Engine(), store)
    (tmp_path / "replicate-1.npz").write_bytes(b"not a zip file")
    engine = _Engine()
    with caplog.at_level(logging.WARNING), Checkpoint.open(tmp_path, {"run": "this"}) as store:
        assert _judge(engine, store) == first == {0: ([0], 1), 1: ([1], 1), 2: ([2], 1)}
    assert engine.judged == [1]
    assert f"Ignoring the unreadable checkpoint file {tmp_path / 'replicate-1.npz'}" in caplog.text


@pytest.fixture
def refuse_work(monkeypatch):
    """Fail if a diagnostic reads its result: bad parameters must be refused before."""

    def refuse(*args, **kwargs):
        raise AssertionError("the result was read before the parameters were checked")

    for cls in DIAGNOSTICS:
        monkeypatch.setattr(cls, "_prepare", refuse)


def _transform(cls, result, **params):
    return cls(target_image="z", random_state=0, progress=False, **params).transform(result)


@pytest.mark.parametrize("cls", DIAGNOSTICS)
def test_checkpoint_dir_that_is_a_file_is_refused_before_any_work(
    cls, pain_ale, tmp_path, refuse_work
):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError) as info:
        _transform(cls, pain_ale, checkpoint_dir=path)
    assert str(info.value) == f"checkpoint_dir={str(path)!r} is an existing file; {ACCEPTED}."
    with pytest.raises(ValueError) as info:
        _transform(cls, pain_ale, checkpoint_dir=path / "sub")
    assert str(info.value) == (
        f"checkpoint_dir={str(path / 'sub')!r} is inside the file {path}; {ACCEPTED}."
    )


@pytest.mark.parametrize("cls", DIAGNOSTICS)
def test_checkpoint_dir_that_cannot_be_written_is_refused_before_any_work(
    cls, pain_ale, tmp_path, refuse_work, monkeypatch
):
    # Permissions do not bind root: the check's own question is answered "no" instead.
    monkeypatch.setattr(validation.os, "access", lambda path, mode: False)
    with pytest.raises(ValueError) as info:
        _transform(cls, pain_ale, checkpoint_dir=tmp_path)
    assert str(info.value) == (
        f"checkpoint_dir={str(tmp_path)!r} cannot be written: permission denied; {ACCEPTED}, "
        "where this process may write."
    )
    new = tmp_path / "new" / "checkpoint"
    with pytest.raises(ValueError) as info:
        _transform(cls, pain_ale, checkpoint_dir=new)
    assert str(info.value) == (
        f"checkpoint_dir={str(new)!r} cannot be written: permission denied ({tmp_path} is the "
        f"nearest existing folder); {ACCEPTED}, where this process may write."
    )


@pytest.mark.parametrize("cls", DIAGNOSTICS)
def test_checkpoint_dir_needs_a_path_and_a_fixed_seed(cls, pain_ale, tmp_path, refuse_work):
    with pytest.raises(TypeError, match="checkpoint_dir=3 is not accepted"):
        _transform(cls, pain_ale, checkpoint_dir=3)
    with pytest.raises(ValueError, match=f"checkpoint_dir='{tmp_path}' needs a fixed random_state"):
        cls(target_image="z", checkpoint_dir=tmp_path).transform(pain_ale)


#: Holds the lock of a directory (its second argument) until killed. It loads the lock
#: module (its first argument) alone, standard library only: it starts at once.
HOLDER = """
import importlib.util, pathlib, sys, time
spec = importlib.util.spec_from_file_location("locks", sys.argv[1])
locks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(locks)
with locks.locked(pathlib.Path(sys.argv[2])):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_checkpoint_in_use_by_another_process_is_refused_until_it_dies(tmp_path, pain_ale):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, locks.__file__, str(tmp_path)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(ValueError) as info:
            _transform(ResampledStability, pain_ale, checkpoint_dir=tmp_path)
        assert str(info.value) == (
            f"checkpoint_dir={str(tmp_path)!r} is in use by another run (process {holder.pid}); "
            "wait for it to finish or use another directory."
        )
        assert not (tmp_path / MANIFEST).exists()  # refused before reading or writing it
    finally:
        holder.kill()
        holder.stdout.close()
        holder.wait()
    with Checkpoint.open(tmp_path, {"run": "next"}):  # the lock died with its holder
        pass
    assert json.loads((tmp_path / MANIFEST).read_text()) == {"run": "next"}


@pytest.mark.parametrize("cls", [Fragility, FailSafeN])
def test_fingerprints_ignore_how_a_search_runs_not_what_it_computes(cls, pain_ale, tmp_path):
    def run(**params):
        diagnostic = cls(target_image="z", random_state=0, **params)
        return fingerprint(pain_ale, diagnostic, None, "fast")

    base = run()
    assert run(n_cores=2, progress=False, checkpoint_dir=tmp_path) == base
    assert run(alpha=0.01)["parameter alpha"] == "0.01" != base["parameter alpha"]
    assert base["diagnostic"] == cls.__name__
