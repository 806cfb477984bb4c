"""Runs that resume: a directory of finished work, refused for any other run.

A run writes each finished piece (a replicate's support, a block of null maxima, a batch's
thresholds) as one compressed ``.npz`` file, atomically: written under a temporary name,
then renamed, so a killed run leaves whole files or none (its temporary files are removed
when the directory is opened again); a write that fails (a full disk) stops the run and
keeps every piece written. ``manifest.json`` holds the run's fingerprint: hashes of the
data, the target map, the estimator and corrector, every parameter that changes the
results, and the package versions. A directory whose manifest differs is refused with the
entries that differ, never reused; one process at a time holds the directory
(:mod:`~nimare_stability.engines.locks`).
"""

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from nimare_stability.core._nimare_private import corrector_parameters
from nimare_stability.core.volumes import mask_array
from nimare_stability.engines.locks import locked

LGR = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: Parameters that change how a run is computed, never what it computes.
NEUTRAL_PARAMETERS = ("n_cores", "progress", "checkpoint_dir", "memory", "memory_level")


class Checkpoint:
    """Finished pieces of one run, stored in ``directory`` (see the module docstring).

    Open with :meth:`open`; the object itself holds no lock (worker processes may save).

    Parameters
    ----------
    directory : :class:`pathlib.Path`
    prefix : :obj:`str`, default=""
        Prepended to every name (see :meth:`scope`).
    """

    def __init__(self, directory, prefix=""):
        self.directory = Path(directory)
        self.prefix = prefix

    @classmethod
    @contextlib.contextmanager
    def open(cls, directory, fingerprint):
        """Hold the checkpoint of the run with this ``fingerprint`` while the block runs.

        A context manager: ``directory`` stays locked until the block ends, so two processes
        never write one checkpoint (:func:`~nimare_stability.engines.locks.locked`).

        Parameters
        ----------
        directory : :obj:`str` or path-like
            Created if missing.
        fingerprint : :obj:`dict`
            Name -> str, from :func:`fingerprint`.

        Yields
        ------
        :class:`Checkpoint`

        Raises
        ------
        ValueError
            When another process holds ``directory``, when it holds the checkpoint of
            another run, or when its manifest is damaged.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with locked(directory):
            for stale in directory.glob(".*.tmp"):  # left by a killed run; no one writes now
                stale.unlink()
            checkpoint = cls(directory)
            stored = _read_manifest(directory / MANIFEST)
            if stored is None:
                checkpoint._write(directory / MANIFEST, json.dumps(fingerprint, indent=1).encode())
            else:
                _check_same_run(directory, stored, fingerprint)
                LGR.info(f"Resuming from the checkpoint in {directory}.")
            yield checkpoint

    def scope(self, prefix):
        """Return a view of this checkpoint whose names start with ``prefix``."""
        return type(self)(self.directory, f"{self.prefix}{prefix}-")

    def _path(self, name):
        return self.directory / f"{self.prefix}{name}.npz"

    def load(self, name):
        """Return the arrays saved as ``name`` (a dict), or None if there are none.

        An unreadable file is ignored with a warning: its piece is computed again.
        """
        path = self._path(name)
        if not path.exists():
            return None
        try:
            with np.load(path) as stored:
                return {key: stored[key] for key in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            LGR.warning(f"Ignoring the unreadable checkpoint file {path} ({exc}).")
            return None

    def save(self, name, **arrays):
        """Save ``arrays`` as ``name``, compressed, in one atomic rename.

        Raises
        ------
        OSError
            When the file cannot be written (a full disk): the message names the directory
            and the reason; no temporary file is left and every piece written is kept.
        """
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        self._write(self._path(name), buffer.getvalue())

    def _write(self, path, content):
        try:
            with _replacing(path) as handle:
                handle.write(content)
        except OSError as exc:
            pieces = len(list(self.directory.glob("*.npz")))
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            remedy = "free space" if exc.errno in _FULL else "make it writable"
            raise OSError(
                exc.errno,
                f"checkpoint_dir={str(self.directory)!r} cannot be written: {reason}: {remedy} "
                f"or use another checkpoint_dir; the {pieces} pieces already written are kept "
                "and a rerun resumes.",
            ) from exc


#: Errors of a full disk (or quota).
_FULL = (errno.ENOSPC, errno.EDQUOT)


def _read_manifest(path):
    """Return the fingerprint stored at ``path``, None when there is none.

    Raises
    ------
    ValueError
        When the file is not a JSON object (damaged, or not a checkpoint's).
    """
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        stored = exc
    if not isinstance(stored, dict):
        problem = stored if isinstance(stored, Exception) else f"a {type(stored).__name__}"
        raise ValueError(
            f"The checkpoint manifest {str(path.absolute())!r} is damaged (not a JSON object: "
            f"{problem}). Delete the directory to start afresh, or use another checkpoint_dir."
        )
    return stored


def _check_same_run(directory, stored, fingerprint):
    """Raise unless the ``stored`` fingerprint is this run's ``fingerprint``."""
    differ = sorted(
        key for key in set(stored) | set(fingerprint) if stored.get(key) != fingerprint.get(key)
    )
    if differ:
        details = "; ".join(
            f"{key}: {stored.get(key)!r:.120} there, {fingerprint.get(key)!r:.120} now"
            for key in differ
        )
        raise ValueError(
            f"checkpoint_dir={str(directory)!r} holds the checkpoint of another run "
            f"(it differs in {details}). Accepted: an empty or new directory, or the "
            "directory of this same run (same data, target and parameters)."
        )


@contextlib.contextmanager
def _replacing(path):
    """Yield a temporary file beside ``path``; rename it to ``path`` once written.

    The temporary file is removed when writing or renaming fails.
    """
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


def fingerprint(result, diagnostic, corrector, engine):
    """Return what identifies a run: a dict of short strings, one per ingredient.

    Parameters
    ----------
    result : :class:`~nimare.results.MetaResult`
        The result the diagnostic judges (its estimator's inputs and the target map).
    diagnostic : :class:`~nimare.diagnostics.Diagnostics`
        Its parameters, except those in :data:`NEUTRAL_PARAMETERS`.
    corrector : :class:`~nimare.correct.Corrector` or None
        The corrector that made the target.
    engine : :obj:`str`
        The engine that judges the replicates (what ``engine="auto"`` resolved to): a
        checkpoint never resumes another engine's work.
    """
    estimator = result.estimator
    parameters = _parameters(diagnostic.get_params(deep=False))
    return {
        "versions": f"nimare-stability {version('nimare-stability')}, nimare {version('nimare')}",
        "diagnostic": type(diagnostic).__name__,
        "engine": engine,
        **{f"parameter {key}": _short(value) for key, value in parameters.items()},
        "target": f"{diagnostic.target_image} {_digest(result.maps[diagnostic.target_image])}",
        "data": _digest(getattr(estimator, "inputs_", {})),
        "mask": _digest(mask_array(estimator.masker)),
        "estimator": (
            f"{type(estimator).__name__} {_digest(_parameters(estimator.get_params(deep=True)))}"
        ),
        "corrector": (
            "none"
            if corrector is None
            else f"{type(corrector).__name__} "
            f"{_digest(_parameters(corrector_parameters(corrector)))}"
        ),
    }


def _parameters(params):
    return {
        key: value
        for key, value in params.items()
        if key.rsplit("__", 1)[-1] not in NEUTRAL_PARAMETERS
    }


def _short(value):
    """``repr(value)``, or its digest when longer than 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"sha256 {_digest(value)}"


def _digest(value):
    """Return a SHA-256 hex digest (16 characters) of nested arrays, tables and values."""
    sha = hashlib.sha256()
    _update(sha, value)
    return sha.hexdigest()[:16]


def _update(sha, value):
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            sha.update(f"<{key}>".encode())
            _update(sha, value[key])
    elif isinstance(value, (list, tuple)):
        sha.update(f"[{len(value)}]".encode())
        for item in value:
            _update(sha, item)
    elif isinstance(value, pd.Series):
        _update(sha, {"name": value.name, "index": value.index, "values": value.to_numpy()})
    elif isinstance(value, pd.DataFrame):
        _update(sha, {"index": value.index, "columns": dict(value.items())})
    elif isinstance(value, pd.Index):
        _update(sha, value.to_numpy())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        sha.update(f"{value.dtype}{value.shape}".encode())
        sha.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.ndarray):
        _update(sha, value.tolist())
    else:
        sha.update(repr(value).encode())
