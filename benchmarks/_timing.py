"""Shared by the benchmarks: the date-and-machine header, repeats, medians and memory.

Every script takes ``--repeats N`` (default 3): it repeats its timed work N times in one
process and prints each figure's median over the repeats, with its min and max. A ratio is
computed within each repeat (both sides timed minutes apart, on the same machine and data)
and its median printed, not the ratio of two medians.
"""

import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def add_repeats(parser):
    """Add ``--repeats N`` (default 3) to an :class:`argparse.ArgumentParser`."""
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="how many times the timed work runs; each figure's median, min and max are "
        "printed (default 3)",
    )
    return parser


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return "absent"


def _commit():
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() + (" (modified)" if dirty.stdout.strip() else "")


def machine_line():
    """One line: the date (UTC), CPU model, cores, and the versions that matter."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} cores" + (
        f" ({usable} usable)" if usable and usable != os.cpu_count() else ""
    )
    return (
        f"{date} | {_cpu_model()}, {cores} | Python {platform.python_version()}, "
        f"NiMARE {_version('nimare')}, numba {_version('numba')}, "
        f"nimare-stability at commit {_commit()}"
    )


def header(title, repeats):
    """Print the title, the machine line, the command line and the number of repeats."""
    print(title)
    print(machine_line())
    print("command: python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]]))
    print(f"each figure: median of {repeats} run{'s' * (repeats != 1)} (min - max)\n")
    sys.stdout.flush()


def timed(func):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


class Figures:
    """Named values collected over the repeats; :meth:`report` prints their medians.

    ``add(name, value, unit, digits)``: a figure is printed in the order first added, with
    its unit (``"s"``, ``"x"``, ``"it/s"``, ``"MB"``, ...) and number of decimals.
    """

    def __init__(self):
        self._values = {}
        self._formats = {}

    def add(self, name, value, unit="s", digits=1):
        self._values.setdefault(name, []).append(float(value))
        self._formats[name] = (unit, digits)

    def median(self, name):
        return statistics.median(self._values[name])

    def start_repeat(self, index, repeats):
        """Print which repeat starts (progress for long runs)."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
        print(f"[{stamp} UTC] repeat {index + 1}/{repeats}", file=sys.stderr, flush=True)

    def report(self, title=None):
        """Print every figure: median, then (min - max) when it ran more than once."""
        if title:
            print(title)
        width = max((len(name) for name in self._values), default=0) + 2
        for name, values in self._values.items():
            unit, digits = self._formats[name]
            line = f"  {name:<{width}}{statistics.median(values):>10.{digits}f} {unit:<5}"
            if len(values) > 1:
                line += f" ({min(values):.{digits}f} - {max(values):.{digits}f})"
            print(line)
        sys.stdout.flush()


def reset_peak_rss():
    """Reset this process's peak RSS (Linux: ``/proc/self/clear_refs``); False if it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb():
    """Peak RSS of this process in MB since start or the last :func:`reset_peak_rss`."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _descendants(pid):
    """Pids of ``pid``'s descendants, read from ``/proc/*/stat``."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreePss:
    """Context manager sampling the PSS of this process and its descendants (Linux).

    PSS counts pages shared between the processes once in all, so the sum is the memory
    the process tree holds (worker processes included). ``peak_mb`` is the largest sum
    seen, sampled every ``interval`` seconds (0 where ``/proc`` cannot be read).
    """

    def __init__(self, interval=0.5):
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        me = os.getpid()
        while True:
            total = sum(_pss_kb(pid) for pid in [me, *_descendants(me)]) / 1024
            self.peak_mb = max(self.peak_mb, total)
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
