"""Dask against local worker processes on the same pages, and Dask's cost per task.

    python bench/cluster.py --mnist ../shared/data/mnist.npz --pages 60

1. One folder of generated pages (all four kinds, from MNIST *test* digits) read by
   ``formreader scan --workers 2`` and by ``formreader scan --scheduler local --workers 2``
   (a LocalCluster of two processes, started and stopped inside the command), alternately,
   ``--runs`` times each: median wall time, pages per second, the ratio; the two CSVs must be
   byte-identical.
2. Cost per task: ``--tasks`` empty tasks submitted to a LocalCluster of two workers and
   gathered, seconds per task (client, scheduler and worker together: an upper bound on the
   scheduler's own time).
3. On paper, from those two figures: pages per second on 10 and 100 workers, and the files
   per task that keep the scheduler less than 10 % busy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from formreader import synth
from formreader.cluster import FILES_PER_TASK


def write_pages(folder: Path, pool, per_kind: int, seed: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for k, kind in enumerate(synth.KINDS):
        for n, page in enumerate(synth.make_pages(kind, per_kind, pool, seed=seed + k)):
            cv2.imwrite(str(folder / f"{kind}_{n:04d}.png"), page.image)
            count += 1
    return count


def timed_scan(folder: Path, out: Path, *extra: str) -> float:
    command = [sys.executable, "-m", "formreader", "scan", str(folder), "--out", str(out)]
    started = time.perf_counter()
    subprocess.run([*command, "--quiet", *extra], check=False, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _nothing(x):
    return x


def task_cost(tasks: int) -> float:
    """Seconds per empty task through a 2-worker LocalCluster (after a warm-up round)."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        client.gather(client.map(_nothing, range(100), pure=False))
        started = time.perf_counter()
        client.gather(client.map(_nothing, range(tasks), pure=False))
        return (time.perf_counter() - started) / tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--pages", type=int, default=60, help="pages in all (split over kinds)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command")
    parser.add_argument("--tasks", type=int, default=2000, help="empty tasks timed")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    pool = synth.DigitPool.from_npz(args.mnist, "test")
    work = Path(tempfile.mkdtemp(prefix="formreader-cluster-"))
    try:
        pages = write_pages(work / "pages", pool, max(1, args.pages // 4), args.seed)
        times: dict[str, list[float]] = {"local": [], "dask": []}
        for _ in range(args.runs):
            times["local"].append(timed_scan(work / "pages", work / "local.csv", "--workers", "2"))
            times["dask"].append(
                timed_scan(
                    work / "pages", work / "dask.csv", "--scheduler", "local", "--workers", "2"
                )
            )
        same = (work / "local.csv").read_bytes() == (work / "dask.csv").read_bytes()
        local, dask = statistics.median(times["local"]), statistics.median(times["dask"])
        print(f"formreader cluster bench: {pages} pages, {os.cpu_count()} cores, {args.runs} runs")
        print(f"  --workers 2                    {local:6.1f} s  {pages / local:5.2f} pages/s")
        print(f"  --scheduler local --workers 2  {dask:6.1f} s  {pages / dask:5.2f} pages/s")
        print(f"  Dask costs {dask / local - 1:+.0%} over local processes; CSVs identical: {same}")
        cost = task_cost(args.tasks)
        print(f"  cost per task: {1000 * cost:.2f} ms ({args.tasks} empty tasks, 2 workers)")
        per_worker = pages / local / 2
        print(f"  on paper, {per_worker:.2f} pages/s per worker, {FILES_PER_TASK} files per task:")
        for workers in (10, 100):
            ceiling = FILES_PER_TASK / cost
            rate = min(workers * per_worker, ceiling)
            batch = 10 * workers * per_worker * cost
            print(
                f"    {workers:3d} workers: {rate:7.1f} pages/s (scheduler ceiling {ceiling:.0f});"
                f" scheduler < 10 % busy from {max(1, batch):.1f} files per task"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
