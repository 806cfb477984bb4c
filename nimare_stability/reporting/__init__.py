"""What a person reads: figures and one self-contained HTML report.

Figures in :mod:`~nimare_stability.plotting`, the report in
:func:`~nimare_stability.reporting.html_report.report`.

Reads the maps and tables the diagnostics wrote; imports from ``diagnostics`` and below.
"""

from nimare_stability.reporting import plotting
from nimare_stability.reporting.html_report import report

__all__ = ["plotting", "report"]
