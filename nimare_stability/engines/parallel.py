"""Where parallel work runs: joblib's active backend, a Dask cluster included.

Engines call :class:`joblib.Parallel` without naming a backend (threads are only
*preferred*), so ``joblib.parallel_config(backend="dask")`` sends their tasks to a
``distributed`` cluster. Large read-only inputs go through :func:`share`: scattered to the
cluster once, then passed to every task as a future instead of being pickled per task.
Results never depend on the backend: every task's randomness comes from its own seed.
"""

from nimare_stability.core._nimare_private import check_n_cores, dask_client


def n_workers(n_cores):
    """Return how many tasks can run at once: the Dask cluster's threads, else ``n_cores``.

    Parameters
    ----------
    n_cores : :obj:`int`
        The diagnostic's ``n_cores`` (<= 0: every core of this machine).
    """
    client = dask_client()
    if client is None:
        return check_n_cores(n_cores)
    return max(1, sum(client.nthreads().values()))


def share(value):
    """Return ``value``, or a future of it scattered once when joblib runs on Dask.

    Pass the result as a task's argument: the Dask backend hands each task the scattered
    value, other backends the value itself. The value is copied to every worker (each
    would fetch it for its first task anyway): a scattered value cannot be recomputed, so a
    single copy died with its worker and every task waiting for it was cancelled, while
    with a copy on each worker Dask reruns a lost worker's tasks on the others.
    """
    client = dask_client()
    if client is None:
        return value
    return client.scatter(value, broadcast=True, hash=False)
