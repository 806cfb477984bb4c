"""A Dask worker killed in the middle of a run: the run ends as a clean run does, never hangs.

The cluster is this file's own (two worker processes, each under a nanny that restarts it):
the kill never reaches the workers other tests share.
"""

import contextlib
import os
import signal
import threading
import time

import pytest
from helpers.dask_cluster import local_client
from helpers.stability_outputs import assert_same_outputs, stability_outputs
from joblib import parallel_config

from nimare_stability import ResampledStability

FDR = "z_corr-FDR_method-indep"
#: Seconds a run may take, killed worker included, before the test calls it a hang.
DEADLINE = 120


@pytest.fixture
def client():
    with local_client() as client:
        yield client


def _stability(result, backend=None, n_cores=1):
    """Refit-engine stability: the first replicate here, the others one task each."""
    diagnostic = ResampledStability(
        target_image=FDR,
        resampling_policy="subsample",
        target_n=0.75,
        n_resamples=4,
        engine="refit",
        n_cores=n_cores,
        random_state=4,
        progress=False,
    )
    with parallel_config(backend=backend) if backend else contextlib.nullcontext():
        return stability_outputs(diagnostic.transform(result), FDR)


def _kill_the_first_busy_worker(client, killed, stop):
    """SIGKILL the process of the first worker seen with a task to run.

    Tasks go where their inputs are: that worker holds the scattered inputs, which no other
    worker would have if they were scattered to one worker only.
    """
    pids = client.run(os.getpid)
    while not stop.is_set():
        busy = [worker for worker, tasks in client.processing().items() if tasks]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.05)  # the scheduler runs in this process: poll gently


def _within_deadline(function):
    outcome = {}

    def call():
        try:
            outcome["value"] = function()
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"no result {DEADLINE} s after a worker was killed"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_killed_worker_s_tasks_are_rerun_and_the_outputs_equal_a_clean_run(pain_fdr, client):
    reference = _stability(pain_fdr)
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_the_first_busy_worker, args=(client, killed, stop))
    killer.start()
    try:
        outputs = _within_deadline(lambda: _stability(pain_fdr, "dask", n_cores=2))
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was killed: the run proves nothing"
    assert_same_outputs(outputs, reference)
