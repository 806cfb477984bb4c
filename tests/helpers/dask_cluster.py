"""A local Dask cluster of two single-threaded worker processes, for backend tests."""

import contextlib

from distributed import Client, LocalCluster


@contextlib.contextmanager
def local_client():
    """Yield a ``Client`` of a two-process ``LocalCluster``; both close after the block."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
