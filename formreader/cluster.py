"""Scan on a Dask cluster (``dask.distributed``): batches of files as tasks, rows in input order.

Imported only when a scheduler or a client is given, so nothing about Dask is loaded
otherwise. Every worker needs the same formreader installed and must see the input paths
(shared storage), and ``--debug-dir`` / ``--export-crops`` folders if used; the output file is
written by the client. A task reads :data:`FILES_PER_TASK` files with the models its worker
thread loaded once. A worker that dies has its tasks rescheduled by Dask; a task that keeps
killing workers (Dask's ``allowed-failures``) is retried file by file, and a file that still
kills its worker becomes one ``error`` row.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import signal
import threading
from collections import deque
from collections.abc import Iterator

from formreader.exceptions import ClusterError
from formreader.pipeline import Readers, Record, ScanItem, scan_item

log = logging.getLogger(__name__)

#: Files per task: Dask spends about 1.6 ms per task (bench/cluster.py), a file 50-500 ms.
FILES_PER_TASK = 4
#: Tasks submitted ahead per worker thread: keeps workers busy, bounds unwritten results.
TASKS_AHEAD = 3
#: Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = 20

#: glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3

#: Models loaded per worker thread: a worker with several threads must not share one LiteRT
#: interpreter between them.
_worker_state = threading.local()


def read_batch(batch: list[ScanItem], model_dir, reader: str, options: dict) -> list:
    """Task: the records of each item of ``batch`` (models loaded once per worker thread)."""
    loaded = getattr(_worker_state, "readers", None)
    if loaded is None or loaded[0] != (model_dir, reader):
        _keep_freed_memory()
        loaded = _worker_state.readers = ((model_dir, reader), Readers.load(model_dir, reader))
    return [scan_item(item, loaded[1], options) for item in batch]


def _keep_freed_memory() -> None:
    """Let glibc keep freed memory for the next page, as it does outside Dask.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off
    glibc's adaptive mmap threshold: every page-sized array is then mapped and faulted in
    afresh (400 pages on 2 workers: 17 s of system time instead of 2 s, the whole run +25 %).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to undo
        return
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
    libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20)


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator:
    """SIGINT ignored within, so that the processes started here inherit it ignored.

    A terminal's Ctrl-C reaches the whole process group: local workers that died of it would
    leave the scan waiting for their tasks, and print their tracebacks. The scan alone stops.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def connect(scheduler: str, workers: int) -> Iterator:
    """A Dask client for ``scheduler`` (``tcp://host:8786``), or for a new ``LocalCluster`` of
    ``workers`` single-threaded processes when it is ``"local"``; closed on exit."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ClusterError(f"--scheduler needs Dask: {exc}") from None
    if scheduler == "local":
        # Dask's sampling profiler costs about 7 % of the workers' time on 2 cores.
        with dask.config.set({"distributed.worker.profile.enabled": False}), _ctrl_c_ignored():
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
        # A second Ctrl-C stops the scan at once, and Dask's shutdown then sometimes logs a
        # traceback through tornado ("Exception in callback": its sync() cancelling a call
        # the interrupt cut short), which a user stopping a scan should not see (the scan
        # reports the interruption itself).
        callbacks = logging.getLogger("tornado.application")
        level = callbacks.level
        callbacks.setLevel(logging.CRITICAL)
        try:
            with cluster, Client(cluster) as client:
                log.info("Dask dashboard: %s", client.dashboard_link)
                yield client
        finally:
            callbacks.setLevel(level)
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    with client:
        yield client


def scan_on_cluster(
    items: list[ScanItem],
    client,
    model_dir: str | None,
    reader: str,
    files_per_task: int = FILES_PER_TASK,
    **options,
) -> Iterator[list[Record]]:
    """Yield the records of each item in input order, read by the workers of ``client``.

    ``options`` are those of :func:`formreader.pipeline.scan_file`. Closing the generator
    early (Ctrl-C) cancels the tasks not finished.
    """
    from dask.distributed import KilledWorker

    def submit(batch):
        return client.submit(read_batch, batch, model_dir, reader, options, pure=False)

    batches = iter([items[i : i + files_per_task] for i in range(0, len(items), files_per_task)])
    ahead = TASKS_AHEAD * max(1, sum(client.nthreads().values()))
    pending = deque((batch, submit(batch)) for batch in itertools.islice(batches, ahead))
    try:
        while pending:
            batch, future = pending.popleft()
            pending.extend((more, submit(more)) for more in itertools.islice(batches, 1))
            try:
                records = future.result()
            except KilledWorker:
                log.warning(
                    "a task of %d file(s) kept killing workers; reading them one by one", len(batch)
                )
                yield from _one_by_one(batch, submit, KilledWorker)
                continue
            yield from records
    finally:
        client.cancel([future for _, future in pending])


def _one_by_one(batch: list[ScanItem], submit, killed) -> Iterator[list[Record]]:
    for item in batch:
        try:
            yield from submit([item]).result()
        except killed:
            name = item[1]
            yield [
                Record(
                    file=name,
                    page=1,
                    field=0,
                    status="error",
                    message=f"{name}: reading this file stopped Dask workers again and again;"
                    " it was skipped (check it alone with `formreader scan FILE`)",
                )
            ]
