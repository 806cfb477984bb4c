"""The command line's job: load a studyset, fit, correct, diagnose and write everything.

Kept apart from argument parsing (:mod:`nimare_stability.cli.parser`) so that Python
callers and the tests run the same pipeline.
"""

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from joblib import parallel_config

from nimare_stability.cli import estimate
from nimare_stability.core import names
from nimare_stability.diagnostics.verdict import RobustnessVerdict
from nimare_stability.reporting import plotting
from nimare_stability.reporting.html_report import report

LGR = logging.getLogger(__name__)

ESTIMATORS = ("ALE", "MKDADensity", "KDA")
KERNELS = ("ALEKernel", "MKDAKernel", "KDAKernel")
CORRECTORS = ("montecarlo", "fdr", "bonferroni", "none")
#: Each corrector's default target image.
DEFAULT_TARGETS = names.CORRECTOR_TARGETS
#: Diagnostics the command line runs, by their workflow name: the full robustness profile.
DIAGNOSTICS = ("jackknife", "resampledstability", "fragility", "failsafen")
#: ``--quick``: stability and Jackknife only (the verdict then says what was not computed).
QUICK = ("jackknife", "resampledstability")
#: FailSafeN searches up to this many null analyses per real one (the verdict needs 1).
FSN_MAX_MULTIPLE = 3


@dataclass
class Job:
    """Everything one run of the command line does (see ``nimare-stability run --help``)."""

    studysets: list
    output_dir: str
    estimator: str = "ALE"
    kernel: str = None
    kernel_args: dict = field(default_factory=dict)
    corrector: str = "montecarlo"
    n_iters: int = 5000
    voxel_thresh: float = 0.001
    corrector_args: dict = field(default_factory=dict)
    target: str = None
    diagnostics: tuple = DIAGNOSTICS
    stability_args: dict = field(default_factory=dict)
    fsn_max_multiple: int = FSN_MAX_MULTIPLE
    random_state: int = 0
    n_cores: int = 1
    progress: bool = True
    dask_scheduler: str = None


def load_studyset(paths):
    """Load a NiMARE JSON Studyset, a parquet studyset directory or Sleuth text files.

    Several paths must all be Sleuth text files; they are merged into one studyset.
    """
    from nimare.io import convert_sleuth_to_studyset
    from nimare.nimads import Studyset

    paths = [Path(path) for path in paths]
    for path in paths:
        if not path.exists():
            raise ValueError(f"STUDYSET={str(path)!r} does not exist.")
    if all(path.is_file() and path.suffix.lower() == ".txt" for path in paths):
        return convert_sleuth_to_studyset([str(path) for path in paths])
    if len(paths) == 1 and (paths[0].is_dir() or paths[0].suffix.lower() == ".json"):
        return Studyset(paths[0] if paths[0].is_dir() else str(paths[0]))
    raise ValueError(
        f"STUDYSET={' '.join(map(str, paths))!r} is not accepted; accepted: one NiMARE JSON "
        "studyset (.json), one NiMARE parquet studyset directory, or Sleuth text files (.txt)."
    )


def run(job):
    """Run ``job``; return the diagnosed :class:`~nimare.results.MetaResult`."""
    target = job.target or DEFAULT_TARGETS[job.corrector]
    # Jackknife first: its label maps then number the clusters of every later table.
    if set(job.diagnostics) <= {"jackknife"}:
        raise ValueError(
            f"diagnostics={list(job.diagnostics)} is not accepted; accepted: at least one of "
            "resampledstability, fragility, failsafen (jackknife joins them)."
        )
    order = sorted(job.diagnostics, key=lambda name: name != "jackknife")
    diagnostics = [_diagnostic(name, job, target) for name in order]
    for diagnostic in diagnostics:  # bad parameters fail before the costly fit
        diagnostic._check_params()
    studyset = load_studyset(job.studysets)
    LGR.info("%d analyses loaded", len(studyset.ids))
    with _backend(job.dask_scheduler):
        result = _estimator(job).fit(studyset)
        corrector = _corrector(job)
        if job.corrector == "montecarlo":
            seconds = estimate.correction_seconds(corrector, result, job.n_iters)
            LGR.info(estimate.describe(seconds, order))
        if corrector is not None:
            result = _timed("correction", corrector.transform, result)
        for name, diagnostic in zip(order, diagnostics):
            result = _timed(name, diagnostic.transform, result)
    result = RobustnessVerdict(target_image=target).transform(result)
    write_outputs(result, target, job.output_dir)
    return result


def _timed(name, step, result):
    start = time.perf_counter()
    result = step(result)
    LGR.info(f"{name}: {time.perf_counter() - start:.1f} s.")
    return result


def write_outputs(result, target, output_dir):
    """Write maps (NIfTI), tables (TSV), PNG figures and ``report.html`` to ``output_dir``.

    Figures are ``figure_<name>.png`` (see :func:`~nimare_stability.plotting.figures`).

    Returns
    -------
    :class:`pathlib.Path`
        The report's path.
    """
    import matplotlib.pyplot as plt

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
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
    for name, _, figure in plotting.figures(result, target):
        if figure is not None:
            figure.savefig(out / f"figure_{name}.png", dpi=100, bbox_inches="tight")
            plt.close(figure)
    return report(result, out, target)


@contextlib.contextmanager
def _backend(scheduler):
    """Run joblib's work on the Dask scheduler at this address (None: on this machine)."""
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            f"dask_scheduler={scheduler!r} needs Dask's distributed package; install "
            "nimare-stability[dask]."
        ) from None
    with Client(scheduler), parallel_config(backend="dask"):
        yield


def _estimator(job):
    from nimare.meta import cbma, kernel

    options = {"random_state": job.random_state}
    if job.kernel is not None or job.kernel_args:
        default = {"ALE": "ALEKernel", "MKDADensity": "MKDAKernel", "KDA": "KDAKernel"}
        kernel_class = getattr(kernel, job.kernel or default[job.estimator])
        options["kernel_transformer"] = kernel_class(**job.kernel_args)
    return getattr(cbma, job.estimator)(**options)


def _corrector(job):
    from nimare.correct import FDRCorrector, FWECorrector

    if job.corrector == "none":
        return None
    if job.corrector == "montecarlo":
        options = {"n_iters": job.n_iters, "voxel_thresh": job.voxel_thresh}
        return FWECorrector(
            method="montecarlo", n_cores=job.n_cores, **options, **job.corrector_args
        )
    if job.corrector == "fdr":
        return FDRCorrector(**{"method": "indep", "alpha": 0.05, **job.corrector_args})
    return FWECorrector(method="bonferroni", **job.corrector_args)


def _diagnostic(name, job, target):
    from nimare_stability.diagnostics.failsafe import FailSafeN
    from nimare_stability.diagnostics.fragility import Fragility
    from nimare_stability.diagnostics.jackknife import Jackknife
    from nimare_stability.diagnostics.stability import ResampledStability

    if name == "jackknife":
        # |z| > 1.65, as NiMARE's workflows run it: p < .05 on one-tailed Monte Carlo maps.
        return Jackknife(target_image=target, target_threshold=1.65, progress=job.progress)
    # Each diagnostic keeps its checkpoint in its own subdirectory: one manifest each.
    checkpoint_dir = job.stability_args.get("checkpoint_dir")
    common = {
        "target_image": target,
        "random_state": job.random_state,
        "n_cores": job.n_cores,
        "progress": job.progress,
        "checkpoint_dir": None if checkpoint_dir is None else str(Path(checkpoint_dir) / name),
    }
    if name == "resampledstability":
        return ResampledStability(**{**job.stability_args, **common})
    shared = {k: v for k, v in job.stability_args.items() if k in ("alpha", "engine")}
    if name == "fragility":
        groups = job.stability_args.get("groups")
        return Fragility(**common, **shared, groups=groups)
    return FailSafeN(**common, **shared, max_multiple=job.fsn_max_multiple)
