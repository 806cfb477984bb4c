"""SIGTERM as an exception, so that a terminated run cleans up as a Ctrl-C does."""

import contextlib
import signal
import threading


class Terminated(BaseException):
    """The process received SIGTERM (a BaseException, as KeyboardInterrupt: not an error)."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def sigterm_raises():
    """Raise :class:`Terminated` in the main thread on SIGTERM; restore the handler after.

    Off the main thread (where Python refuses signal handlers) SIGTERM keeps its handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
