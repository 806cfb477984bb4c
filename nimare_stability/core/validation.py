"""Parameter validation: every check names the parameter, the value and what is accepted."""

import math
import numbers
import os
from pathlib import Path

import numpy as np


def check_choice(name, value, choices):
    """Raise a ValueError unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name}={value!r} is not accepted; accepted: {', '.join(map(repr, choices))}."
        )
    return value


def check_bool(name, value):
    """Raise a TypeError unless ``value`` is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} is not accepted; accepted: True or False.")
    return bool(value)


def check_number(
    name,
    value,
    low=None,
    high=None,
    integer=False,
    bounds=None,
    optional=True,
    context="",
    also="",
):
    """Return ``value`` after checking its type and range.

    Parameters
    ----------
    name : :obj:`str`
        Parameter name, for the message.
    value : object
    low, high : :obj:`float`, optional
        Bounds.
    integer : :obj:`bool`, default=False
        Require an int (a bool is refused); otherwise a finite real number.
    bounds : {"[]", "[)", "(]", "()"}, optional
        Whether ``low`` and ``high`` are accepted; default ``"[]"`` for ints, ``"[)"`` else.
    optional : :obj:`bool`, default=True
        Accept None.
    context : :obj:`str`, optional
        Why the range is what it is (``" for 8 analyses"``).
    also : :obj:`str`, optional
        Other accepted forms, appended to the accepted range (``" or a fraction in (0, 1]"``).
    """
    if value is None and optional:
        return None
    bounds = bounds or ("[]" if integer else "[)")
    accepted = _describe(integer, low, high, bounds) + also
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise TypeError(f"{name}={value!r} is not accepted; accepted: {accepted}.")
    if not integer and not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not finite; accepted: {accepted}.")
    too_low = low is not None and (value < low if bounds[0] == "[" else value <= low)
    too_high = high is not None and (value > high if bounds[1] == "]" else value >= high)
    if too_low or too_high:
        raise ValueError(f"{name}={value!r} is out of range{context}; accepted: {accepted}.")
    return value


def _describe(integer, low, high, bounds):
    kind = "an int" if integer else "a finite number"
    if integer and low is not None and high is not None and bounds == "[]":
        return f"{kind} from {low} to {high}"
    if low is not None and high is not None:
        return f"{kind} in {bounds[0]}{low}, {high}{bounds[1]}"
    if low is not None:
        return f"{kind} {'>=' if bounds[0] == '[' else '>'} {low}"
    return kind


def check_path(name, value):
    """Raise a TypeError unless ``value`` is None, a str or a path-like object."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}={value!r} is not accepted; accepted: a str or path-like, or None.")
    return value


def check_directory(name, value, accepted):
    """Raise unless ``value`` is None or a directory path this process can create or write.

    Parameters
    ----------
    name : :obj:`str`
        Parameter name, for the message.
    value : None, :obj:`str` or path-like
    accepted : :obj:`str`
        What is accepted, for the message (``"a directory path, new or of this same run"``).
    """
    check_path(name, value)
    if value is None:
        return None
    path = Path(value).absolute()
    problem, existing = directory_problem(path)
    if problem == "file":
        what = "is an existing file" if existing == path else f"is inside the file {existing}"
        raise ValueError(f"{name}={str(value)!r} {what}; accepted: {accepted}.")
    if problem == "read-only":
        where = "" if existing == path else f" ({existing} is the nearest existing folder)"
        raise ValueError(
            f"{name}={str(value)!r} cannot be written: permission denied{where}; accepted: "
            f"{accepted}, where this process may write."
        )
    return value


def directory_problem(path):
    """Return why a directory cannot be made or written at ``path`` (absolute), if it cannot.

    Returns
    -------
    problem : {"file", "read-only"} or None
        ``"file"``: ``path``, or the nearest of its parents that exists, is a file;
        ``"read-only"``: that nearest existing folder cannot be written by this process.
    existing : :class:`pathlib.Path`
        ``path`` or its nearest existing parent.
    """
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        return "file", existing
    if not os.access(existing, os.W_OK | os.X_OK):
        return "read-only", existing
    return None, existing
