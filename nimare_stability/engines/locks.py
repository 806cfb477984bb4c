"""One run at a time per checkpoint directory: an OS lock on a file inside it.

The lock is ``fcntl.flock`` on :data:`LOCK_FILE`, taken without waiting: a second process
is refused at once, with the process id of the run that holds it. The operating system
releases it when the holder's file is closed, so a killed run never leaves it behind.
Platforms without ``fcntl`` (Windows) take no lock and warn (see :func:`locked`).
"""

import contextlib
import os
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

#: The lock file, in the locked directory; it holds the process id of the run holding it.
LOCK_FILE = ".lock"


@contextlib.contextmanager
def locked(directory, name="checkpoint_dir"):
    """Hold the lock of ``directory`` (an existing directory) while the block runs.

    Parameters
    ----------
    directory : :class:`pathlib.Path`
    name : :obj:`str`, default="checkpoint_dir"
        The parameter that named ``directory``, for the message.

    Raises
    ------
    ValueError
        When another process holds the lock.

    Warns
    -----
    UserWarning
        Where ``fcntl`` is missing (Windows): nothing stops two runs sharing the directory.
    """
    if fcntl is None:
        warnings.warn(
            f"{name}={str(directory)!r} is not locked: this platform has no fcntl. Do not "
            "run two runs on one directory at once.",
            UserWarning,
            stacklevel=3,
        )
        yield
        return
    with open(Path(directory) / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ValueError(
                f"{name}={str(directory)!r} is in use by another run (process {holder}); wait "
                "for it to finish or use another directory."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
