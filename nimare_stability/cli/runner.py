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

from nimare_stability.cli import estimate, inputs, options
from nimare_stability.cli.outputs import write_outputs
from nimare_stability.core import names
from nimare_stability.diagnostics.failsafe import FailSafeN
from nimare_stability.diagnostics.verdict import RobustnessVerdict

LGR = logging.getLogger(__name__)

#: The choices of ``--estimator``, ``--kernel`` and ``--corrector``.
ESTIMATORS, KERNELS, CORRECTORS = options.ESTIMATORS, options.KERNELS, options.CORRECTORS
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
    #: Monte Carlo: NiMARE's own ``FWECorrector`` instead of ours (the compiled engine).
    nimare_corrector: bool = False
    target: str = None
    diagnostics: tuple = DIAGNOSTICS
    stability_args: dict = field(default_factory=dict)
    #: A contrast: group 2's files (``studysets`` are then group 1's), fit by
    #: :class:`nimare_stability.ALESubtraction`.
    group2: list = None
    fsn_max_multiple: int = FSN_MAX_MULTIPLE
    random_state: int = 0
    n_cores: int = 1
    progress: bool = True
    dask_scheduler: str = None
    #: The command line that made the job, recorded in ``run.json``.
    command: list = None


def load_studyset(paths):
    """Load a NiMARE JSON Studyset, a parquet studyset directory or Sleuth text files.

    Several paths must all be Sleuth text files; every experiment of each is kept (see
    :func:`~nimare_stability.cli.inputs.load`, which also says what was read).
    """
    return inputs.load(paths)[0]


def default_target(job):
    """Return the map ``job`` judges: ``--target``, else its corrector's main z map."""
    if job.target is not None:
        return job.target
    if job.group2 is None:
        return DEFAULT_TARGETS[job.corrector]
    voxel = job.corrector == "montecarlo" and job.corrector_args.get("vfwe_only", False)
    return names.CONTRAST_TARGETS["montecarlo_voxel" if voxel else job.corrector]


def group_names(job):
    """Return a contrast's group names (its files' stems), or None for one group.

    ``("group1", "group2")`` when both groups' files have the same names.
    """
    if job.group2 is None:
        return None
    stems = tuple(
        "+".join(Path(path).stem for path in paths) for paths in (job.studysets, job.group2)
    )
    return stems if stems[0] != stems[1] else ("group1", "group2")


def run(job):
    """Run ``job``; return the diagnosed :class:`~nimare.results.MetaResult`."""
    options.check(job)
    target = default_target(job)
    # Jackknife first: its label maps then number the clusters of every later table.
    if set(job.diagnostics) <= {"jackknife"}:
        raise ValueError(
            f"diagnostics={list(job.diagnostics)} is not accepted; accepted: at least one of "
            "resampledstability, fragility, failsafen (jackknife joins them)."
        )
    order = sorted(job.diagnostics, key=lambda name: name != "jackknife")
    if job.group2 is not None and "failsafen" in order:
        order.remove("failsafen")
        LGR.warning(f"failsafen: not run on a contrast: {FailSafeN._not_pairwise}")
    diagnostics = [_diagnostic(name, job, target) for name in order]
    for diagnostic in diagnostics:  # bad parameters fail before the costly fit
        diagnostic._check_params()
    studyset, read = inputs.load(job.studysets)
    studysets = [studyset]
    if job.group2 is not None:
        second, read2 = inputs.load(job.group2)
        studysets.append(second)
        read = inputs.combine(read, read2, group_names(job))
    _report_inputs(read)
    with _backend(job.dask_scheduler):
        result = _estimator(job).fit(*studysets)
        corrector = _corrector(job)
        if job.corrector == "montecarlo" and job.group2 is None:
            seconds = estimate.correction_seconds(corrector, result, job.n_iters)
            LGR.info(estimate.describe(seconds, order, job.nimare_corrector))
        estimate.log_memory(dict(zip(order, diagnostics)), result, corrector, job.random_state)
        if corrector is not None:
            result = _timed("correction", corrector.transform, result)
        for name, diagnostic in zip(order, diagnostics):
            result = _timed(name, diagnostic.transform, result)
    result = RobustnessVerdict(target_image=target).transform(result)
    path = write_outputs(result, target, job.output_dir, job.command, read, group_names(job))
    LGR.info(f"Each analysis, with the file it came from: {path.parent / inputs.TABLE_NAME}")
    return result


def _report_inputs(read):
    """Log what was read (its notes as warnings)."""
    for line in [read.describe(), *read.per_file()]:
        LGR.info(line)
    for note in read.notes:
        LGR.warning(note)


def _timed(name, step, result):
    start = time.perf_counter()
    result = step(result)
    LGR.info(f"{name}: {time.perf_counter() - start:.1f} s.")
    return result


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
    from nimare.meta import cbma

    from nimare_stability.subtraction import ALESubtraction

    params = {"random_state": job.random_state}
    kernel = options.kernel(job)
    if kernel is not None:
        params["kernel_transformer"] = kernel
    if job.group2 is None:
        return getattr(cbma, job.estimator)(**params)
    # The permutations a Monte Carlo correction reads are the fit's: the same options.
    vfwe_only = job.corrector != "montecarlo" or job.corrector_args.get("vfwe_only", False)
    return ALESubtraction(
        n_iters=job.n_iters,
        vfwe_only=vfwe_only,
        voxel_thresh=job.voxel_thresh,
        n_cores=job.n_cores,
        **params,
    )


def _corrector(job):
    from nimare.correct import FDRCorrector, FWECorrector

    from nimare_stability.correct import FWECorrector as EngineFWECorrector

    if job.corrector == "none":
        return None
    if job.corrector == "montecarlo":
        options = {"n_iters": job.n_iters, "voxel_thresh": job.voxel_thresh}
        corrector = FWECorrector if job.nimare_corrector else EngineFWECorrector
        return corrector(method="montecarlo", n_cores=job.n_cores, **options, **job.corrector_args)
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
