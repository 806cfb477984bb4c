"""The command line's options checked before any costly work: kernel, corrector, output.

Each refusal names the option, the value and what is accepted. The kernel is built here
too, so that NiMARE's own rules on its parameters fail before the studyset is read.
"""

import math
import numbers
from pathlib import Path

from nimare_stability.core.validation import check_choice, directory_problem

ESTIMATORS = ("ALE", "MKDADensity", "KDA")
KERNELS = ("ALEKernel", "MKDAKernel", "KDAKernel")
CORRECTORS = ("montecarlo", "fdr", "bonferroni", "none")
#: Each estimator's kernel.
DEFAULT_KERNELS = dict(zip(ESTIMATORS, KERNELS))


def _number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


_POSITIVE = ("a number > 0", lambda v: _number(v) and v > 0)
_COUNT = ("a whole number > 0", lambda v: _whole(v) and v > 0)
_MEMORY = ("a cache folder", lambda v: isinstance(v, str))
_LEVEL = ("a whole number >= 0", lambda v: _whole(v) and v >= 0)
_SPHERE = {"r": _POSITIVE, "value": _POSITIVE, "memory": _MEMORY, "memory_level": _LEVEL}
#: Each kernel's ``__init__`` parameters: (what is accepted, the check of a value).
KERNEL_PARAMETERS = {
    "ALEKernel": {
        "fwhm": _POSITIVE,
        "sample_size": _COUNT,
        "memory": _MEMORY,
        "memory_level": _LEVEL,
    },
    "MKDAKernel": _SPHERE,
    "KDAKernel": _SPHERE,
}
#: ``--corrector-arg`` keys each corrector accepts beyond its own options.
CORRECTOR_PARAMETERS = {
    "montecarlo": {"vfwe_only": ("true or false", lambda v: isinstance(v, bool))},
    "fdr": {
        "method": ("'indep' or 'negcorr'", lambda v: v in ("indep", "negcorr")),
        "alpha": ("a number in (0, 1)", lambda v: _number(v) and 0 < v < 1),
    },
    "bonferroni": {},
    "none": {},
}
#: Corrector parameters set by an option of their own.
OWN_OPTIONS = {
    "n_iters": "--n-iters",
    "voxel_thresh": "--voxel-thresh",
    "n_cores": "--n-cores",
    "method": "--corrector",
}


def check(job):
    """Check ``job``'s estimator, kernel, corrector and output options (its kernel built)."""
    check_choice("--estimator", job.estimator, ESTIMATORS)
    check_choice("--corrector", job.corrector, CORRECTORS)
    if job.kernel is not None:
        check_choice("--kernel", job.kernel, KERNELS)
    check_output_dir(job.output_dir)
    check_corrector_args(job.corrector, job.corrector_args)
    if job.nimare_corrector and job.corrector != "montecarlo":
        raise ValueError(
            f"--nimare-corrector is not accepted with --corrector {job.corrector}; accepted: "
            "with --corrector montecarlo (the other correctors are NiMARE's anyway)."
        )
    if job.group2 is not None:
        _check_contrast(job)
    kernel(job)


def _check_contrast(job):
    """Refuse the options a contrast (an ALE subtraction) does not take."""
    if job.estimator != "ALE":
        raise ValueError(
            f"--estimator {job.estimator} is not accepted with --group1/--group2; accepted: "
            "ALE (the contrast is an ALESubtraction)."
        )
    if job.corrector not in ("montecarlo", "none"):
        raise ValueError(
            f"--corrector {job.corrector} is not accepted with --group1/--group2; accepted: "
            "montecarlo or none (an ALESubtraction's p values come from its permutations)."
        )


def kernel(job):
    """``job``'s kernel, built; None where it asks for the estimator's default kernel."""
    from nimare.meta import kernel as kernels

    name, args = job.kernel or DEFAULT_KERNELS[job.estimator], job.kernel_args
    accepted = KERNEL_PARAMETERS[name]
    for key, value in args.items():
        if key not in accepted:
            raise ValueError(
                f"--kernel-arg {key}={value!r} is not accepted: {name} has no parameter "
                f"{key!r}; accepted: {', '.join(accepted)}."
            )
        described, valid = accepted[key]
        if not valid(value):
            raise ValueError(
                f"--kernel-arg {key}={value!r} is not accepted; accepted: {described}."
            )
    if job.kernel is None and not args:
        return None
    try:
        return getattr(kernels, name)(**args)
    except (ValueError, TypeError) as error:
        given = " ".join(f"{key}={value!r}" for key, value in args.items())
        raise ValueError(f"--kernel-arg {given} is not accepted by {name}: {error}") from None


def check_corrector_args(corrector, args):
    """Refuse ``--corrector-arg`` keys of other options, unknown keys and bad values."""
    accepted = CORRECTOR_PARAMETERS[corrector]
    for key, value in args.items():
        if key in accepted:
            described, valid = accepted[key]
            if not valid(value):
                raise ValueError(
                    f"--corrector-arg {key}={value!r} is not accepted; accepted: {described}."
                )
        elif key in OWN_OPTIONS:
            raise ValueError(
                f"--corrector-arg {key}={value!r} is not accepted; {OWN_OPTIONS[key]} sets it."
            )
        else:
            raise ValueError(
                f"--corrector-arg {key}={value!r} is not accepted with --corrector {corrector}; "
                f"accepted: {', '.join(accepted) or 'none'}."
            )


def check_output_dir(value):
    """Refuse an ``--output-dir`` that is a file, lies inside a file or cannot be written."""
    path = Path(value).absolute()
    problem, existing = directory_problem(path)
    if problem == "file":
        where = "is a file" if existing == path else f"lies inside the file {str(existing)!r}"
        raise ValueError(
            f"--output-dir={str(value)!r} {where}; accepted: a folder, new or existing, that "
            "can be written."
        )
    if problem == "read-only":
        raise ValueError(
            f"--output-dir={str(value)!r} cannot be written ({str(existing)!r} is read-only "
            "for you); accepted: a folder, new or existing, that can be written."
        )
