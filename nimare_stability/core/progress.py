"""When a progress bar shows: the caller asks for it, tqdm's variable allows it, a terminal.

Every bar of this package passes :func:`tqdm_disable` as tqdm's ``disable``.
"""

import os

#: tqdm's environment variable: set to anything but "" it hides every bar.
DISABLE_VARIABLE = "TQDM_DISABLE"


def tqdm_disable(progress):
    """Return tqdm's ``disable`` for a bar shown when ``progress`` is true.

    tqdm reads ``TQDM_DISABLE`` only for a ``disable`` its caller does not pass (and only
    when tqdm is imported), so it is read here, on every call, as tqdm reads it: any
    non-empty value hides the bar.

    Parameters
    ----------
    progress : :obj:`bool`
        The caller's ``progress`` parameter.

    Returns
    -------
    :obj:`bool` or None
        True (hidden) when ``progress`` is false or ``TQDM_DISABLE`` is set; else None:
        tqdm then hides the bar when its stream is not a terminal (a notebook shows it).
    """
    if not progress or os.environ.get(DISABLE_VARIABLE):
        return True
    return None
