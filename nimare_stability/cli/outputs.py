"""What a command-line run leaves behind: its outputs, all of them or none.

Maps (NIfTI), tables (TSV), PNG figures, ``report.html``, the per-analysis table of what
was read, and ``run.json``, the mark of a complete run, written last.
"""

import json
import os
import platform
import shutil
import tempfile
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from nimare_stability.cli import inputs
from nimare_stability.core import names
from nimare_stability.reporting import plotting
from nimare_stability.reporting.html_report import PACKAGES, report

#: The file a complete output folder ends with: written, and moved in, last.
RUN_FILE = "run.json"


def write_outputs(result, target, output_dir, command=None, read=None, groups=None):
    """Write maps (NIfTI), tables (TSV), PNG figures and ``report.html`` to ``output_dir``.

    Figures are ``figure_<name>.png`` (see :func:`~nimare_stability.plotting.figures`).
    Everything is written to a hidden folder beside ``output_dir``
    (``.<name>.partial-<random suffix>``), then moved in file by file, ending with ``run.json``
    (``status`` "complete", ``command``, ``versions``, ``date``, ``files``): a folder
    without it is not a complete run. On any error or interrupt the hidden folder is
    removed and ``output_dir`` gets no new file.

    Parameters
    ----------
    command : list of str, optional
        The command line, recorded in ``run.json``.
    read : :class:`~nimare_stability.cli.inputs.InputSummary`, optional
        What the run read: its per-analysis table is written as ``analyses.tsv``.
    groups : tuple of str, optional
        A contrast's group names, said in its figures and report.

    Returns
    -------
    :class:`pathlib.Path`
        The report's path.
    """
    out = Path(output_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        written = _write_files(result, target, staging, groups)
        if read is not None:
            inputs.write_table(read, staging)
        _write_run_file(staging, command)
        out.mkdir(exist_ok=True)
        (out / RUN_FILE).unlink(missing_ok=True)  # an earlier run's: no longer complete
        for path in sorted(staging.iterdir(), key=lambda path: path.name == RUN_FILE):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / written.name


def _write_files(result, target, out, groups=None):
    """Write every output but ``run.json`` into the folder ``out``; return the report's path."""
    import matplotlib.pyplot as plt

    labels = [names.label_map_name(target, tail) for tail in names.TAILS.values()]
    maps = [
        name
        for name in result.maps
        if (target in name or name in labels) and result.maps[name] is not None
    ]
    tables = [
        name
        for name in result.tables
        if name.startswith(target) and result.tables[name] is not None
    ]
    result.save_maps(output_dir=str(out), names=maps)
    result.save_tables(output_dir=str(out), names=tables)
    for name, _, figure in plotting.figures(result, target, groups):
        if figure is not None:
            figure.savefig(out / f"figure_{name}.png", dpi=100, bbox_inches="tight")
            plt.close(figure)
    return report(result, out, target, groups=groups)


def _write_run_file(out, command):
    """Write ``run.json``: what made the files beside it, and that they are all there."""
    record = {
        "status": "complete",
        "command": command,
        "versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in PACKAGES},
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": sorted(path.name for path in out.iterdir()),
    }
    (out / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
