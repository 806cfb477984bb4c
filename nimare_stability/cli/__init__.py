"""The ``nimare-stability`` command, the top layer.

Argument parsing (:mod:`~nimare_stability.cli.parser`) and the pipeline it runs
(:mod:`~nimare_stability.cli.runner`).
"""

from nimare_stability.cli.parser import main

__all__ = ["main"]
