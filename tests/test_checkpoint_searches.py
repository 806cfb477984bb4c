"""Fragility and FailSafeN with ``checkpoint_dir``: killed runs resume; a full disk stops."""

import errno
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pandas as pd
import pytest
from helpers.calls import count_calls
from helpers.checkpointed_searches import SETTINGS, diagnostic

from nimare_stability.engines import checkpoint, fast, montecarlo
from nimare_stability.engines.checkpoint import MANIFEST
from nimare_stability.engines.locks import LOCK_FILE

SCRIPT = Path(__file__).parent / "helpers" / "checkpointed_searches.py"
#: The killed run dies as it renames its sixth piece: five whole pieces and a temporary file.
KILL_AT = 6


def _tables(result, name):
    cls = SETTINGS[name][0].__name__
    return {key: table for key, table in result.tables.items() if f"_diag-{cls}_" in key}


def _pieces(directory, kind):
    """Names of the ``kind`` pieces (``replicate`` supports or ``null-block`` blocks)."""
    return sorted(path.name for path in Path(directory).glob(f"*{kind}-*.npz"))


def _temporary(directory):
    return [path for path in Path(directory).iterdir() if path.suffix == ".tmp"]


def _assert_same_tables(tables, expected):
    assert sorted(tables) == sorted(expected)
    for key, table in expected.items():
        pd.testing.assert_frame_equal(tables[key], table)


@pytest.fixture(scope="module")
def pickled(pain_montecarlo, tmp_path_factory):
    """``pain_montecarlo`` pickled, for the killed run to load."""
    path = tmp_path_factory.mktemp("result") / "result.pkl"
    path.write_bytes(pickle.dumps(pain_montecarlo))
    return path


@pytest.fixture(scope="module")
def uninterrupted(pain_montecarlo):
    return {
        name: _tables(diagnostic(name, None).transform(pain_montecarlo), name) for name in SETTINGS
    }


@pytest.mark.parametrize("name", ["fragility", "failsafen"])
def test_a_killed_search_resumes_to_identical_tables_judging_only_what_it_had_not(
    name, tmp_path, monkeypatch, pickled, pain_montecarlo, uninterrupted
):
    directory = tmp_path / "checkpoint"
    killed = subprocess.run(
        [sys.executable, str(SCRIPT), name, str(pickled), str(directory), str(KILL_AT)],
        env={**os.environ, "MPLBACKEND": "Agg"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL
    assert len(list(directory.glob("*.npz"))) == KILL_AT - 1
    assert len(_temporary(directory)) == 1  # the piece it was renaming
    supports, blocks = _pieces(directory, "replicate"), _pieces(directory, "null-block")
    assert len(supports) >= 1 and len(blocks) >= 1

    judged = count_calls(monkeypatch, fast.FastEngine, "_maps")
    drawn = count_calls(monkeypatch, montecarlo, "_null_block")
    resumed = diagnostic(name, directory).transform(pain_montecarlo)
    _assert_same_tables(_tables(resumed, name), uninterrupted[name])
    assert set(supports) < set(_pieces(directory, "replicate"))
    assert len(judged) == len(_pieces(directory, "replicate")) - len(supports)
    assert len(drawn) == len(_pieces(directory, "null-block")) - len(blocks)
    assert _temporary(directory) == []
    other = diagnostic(name, directory).set_params(random_state=12)
    with pytest.raises(ValueError, match="differs in parameter random_state: '11' there, '12' now"):
        other.transform(pain_montecarlo)


#: Pieces the full disk lets FailSafeN write before its next write fails.
N_WRITTEN = 4


def test_a_full_disk_stops_the_run_keeping_its_pieces_and_a_rerun_resumes(
    tmp_path, monkeypatch, pain_montecarlo, uninterrupted
):
    directory = tmp_path / "checkpoint"
    opened = []

    def filling(**kwargs):
        handle = tempfile.NamedTemporaryFile(**kwargs)
        opened.append(handle.name)
        if len(opened) > 1 + N_WRITTEN:  # the manifest, then N_WRITTEN pieces

            def write(data):
                handle.file.write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            handle.write = write
        return handle

    monkeypatch.setattr(checkpoint, "tempfile", types.SimpleNamespace(NamedTemporaryFile=filling))
    with pytest.raises(OSError) as info:
        diagnostic("failsafen", directory).transform(pain_montecarlo)
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (
        f"[Errno {errno.ENOSPC}] checkpoint_dir={str(directory)!r} cannot be written: no space "
        "left on device: free space or use another checkpoint_dir; the 4 pieces already "
        "written are kept and a rerun resumes."
    )
    written = sorted(path.name for path in directory.glob("*.npz"))
    assert len(written) == N_WRITTEN
    assert not Path(opened[-1]).exists() and _temporary(directory) == []
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        [LOCK_FILE, MANIFEST, *written]
    )

    monkeypatch.undo()
    supports = _pieces(directory, "replicate")
    judged = count_calls(monkeypatch, fast.FastEngine, "_maps")
    resumed = diagnostic("failsafen", directory).transform(pain_montecarlo)
    _assert_same_tables(_tables(resumed, "failsafen"), uninterrupted["failsafen"])
    assert set(written) < {path.name for path in directory.glob("*.npz")}
    assert len(judged) == len(_pieces(directory, "replicate")) - len(supports)
