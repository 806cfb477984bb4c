"""The kernel CBMA estimators the fast engine reproduces.

ONE table, read by the engine registry, the kernel replicates and the Monte Carlo layout.
"""

from nimare.meta.cbma import ALE, KDA, MKDADensity
from nimare.meta.kernel import ALEKernel, KDAKernel, MKDAKernel

from nimare_stability.engines import _numba_candidates as nc

#: Supported estimators: class -> (its kernel class, statistic family of the compiled loops).
KERNEL_ESTIMATORS = {
    ALE: (ALEKernel, nc.ALE),
    MKDADensity: (MKDAKernel, nc.MKDA),
    KDA: (KDAKernel, nc.KDA),
}
#: The null method whose histogram the fast engine reads.
NULL_METHOD = "approximate"


def unsupported_estimator(estimator):
    """Return why the fast engine cannot reproduce ``estimator``, or None when it can."""
    pairs = ", ".join(
        f"{cls.__name__}({kernel.__name__})" for cls, (kernel, _) in KERNEL_ESTIMATORS.items()
    )
    accepted = f"accepted: {pairs} with null_method={NULL_METHOD!r}"
    name = type(estimator).__name__
    entry = KERNEL_ESTIMATORS.get(type(estimator))
    if entry is None:
        return f"{name}, which is not a kernel CBMA estimator ({accepted})"
    kernel = type(getattr(estimator, "kernel_transformer", None))
    if kernel is not entry[0]:
        return f"{name} with kernel {kernel.__name__} ({accepted})"
    null_method = getattr(estimator, "null_method", None)
    if null_method != NULL_METHOD:
        return f"{name} with null_method={null_method!r} ({accepted})"
    return None


def kernel_family(estimator):
    """Return the family of an ALE, MKDADensity or KDA with its own kernel, else None.

    Any null method: what the estimator computes from its MA maps, not how it corrects.
    """
    entry = KERNEL_ESTIMATORS.get(type(estimator))
    if entry is None or type(getattr(estimator, "kernel_transformer", None)) is not entry[0]:
        return None
    return entry[1]


def statistic_family(estimator):
    """Return the compiled loops' statistic family of a supported, fitted estimator.

    Raises
    ------
    ValueError
        When the estimator is not supported or not fitted.
    """
    reason = unsupported_estimator(estimator)
    if reason is not None:
        raise ValueError(f"The fast engine does not support {reason}.")
    if not hasattr(estimator, "inputs_"):
        raise ValueError(
            f"estimator={type(estimator).__name__} is not fitted; accepted: an estimator "
            "after estimator.fit(studyset)."
        )
    return KERNEL_ESTIMATORS[type(estimator)][1]
