"""Scan on a real Dask LocalCluster (two worker processes) with the bundled model: the output
is byte-identical to one machine's, and a worker killed mid-run loses and repeats nothing."""

import os
import signal
import time

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_image
from dask.distributed import Client, LocalCluster
from distributed.comm.core import CommClosedError

import formreader
from formreader import synth
from formreader.cli import main
from formreader.cluster import scan_on_cluster
from formreader.io import find_inputs


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    with cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def batch(mnist_path, tmp_path_factory):
    """A folder of generated pages of three kinds, a damaged file and an empty one."""
    pool = synth.DigitPool.from_npz(mnist_path, "test")
    folder = tmp_path_factory.mktemp("batch")
    kinds = ["strip", "single", "form", "strip", "single", "strip", "single", "strip", "single"]
    for n, kind in enumerate(kinds):
        page = synth.make_page(kind, pool, np.random.default_rng(200 + n))
        write_image(folder / f"p{n:02d}.png", page.image)
    (folder / "p50.png").write_bytes(b"not an image")
    (folder / "p51.jpg").write_bytes(b"")
    return folder


def worker_pids(client) -> list[int]:
    """The workers' process ids; asked again while the scheduler still talks to a killed one."""
    for _ in range(50):
        try:
            return sorted(client.run(os.getpid).values())
        except CommClosedError:
            time.sleep(0.2)
    return sorted(client.run(os.getpid).values())


def scan(*args):
    return CliRunner().invoke(main, ["scan", *map(str, args), "--quiet"])


def test_cluster_output_is_byte_identical_to_one_machine(client, batch, tmp_path):
    local = scan(batch, "--out", tmp_path / "local.csv", "--workers", "1")
    address = client.scheduler.address
    dask = scan(
        batch, "--out", tmp_path / "dask.csv", "--scheduler", address, "--files-per-task", 2
    )
    assert local.exit_code == dask.exit_code == 1  # two files cannot be read
    text = (tmp_path / "local.csv").read_text()
    assert (tmp_path / "dask.csv").read_text() == text
    assert text.count(",error,") == 2 and text.count("\n") > 12


def test_a_killed_worker_loses_and_repeats_no_row(client, batch):
    alone = formreader.scan([batch])
    pids = list(client.run(os.getpid).values())
    records = []
    for n, file_records in enumerate(formreader.iter_scan([batch], client=client)):
        if n == 0:  # the other tasks are queued or running: kill one worker's process
            os.kill(pids[0], signal.SIGKILL)
        records += file_records
    assert records == alone
    assert worker_pids(client) != sorted(pids)  # a new worker took over


def test_unreachable_scheduler_is_a_usage_error(batch, tmp_path):
    result = scan(batch, "--out", tmp_path / "x.csv", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_resume_on_a_cluster_reads_only_the_files_missing(client, batch, tmp_path):
    full, part = tmp_path / "full.csv", tmp_path / "part.csv"
    assert scan(batch, "--out", full, "--workers", "1").exit_code == 1
    header, *rows = full.read_text().splitlines(keepends=True)
    kept = [row for row in rows if row.split(",")[0].endswith(("p00.png", "p01.png", "p02.png"))]
    part.write_text(header + "".join(kept))
    resumed = scan(batch, "--out", part, "--resume", "--scheduler", client.scheduler.address)
    assert resumed.exit_code == 1
    assert part.read_text() == full.read_text()


def test_a_worker_with_two_threads_gives_each_thread_its_own_models(mnist_path, tmp_path):
    pool = synth.DigitPool.from_npz(mnist_path, "test")
    for n in range(8):  # form pages: slow enough that the two threads read at the same time
        page = synth.make_page("form", pool, np.random.default_rng(300 + n))
        write_image(tmp_path / f"f{n}.png", page.image)
    items = find_inputs([tmp_path])
    alone = formreader.scan(items)
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True)
    with cluster, Client(cluster) as two_threads:
        records = scan_on_cluster(items, two_threads, None, "both", files_per_task=1)
        assert [r for file_records in records for r in file_records] == alone
