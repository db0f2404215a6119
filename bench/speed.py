"""Speed and memory of formreader on generated pages, next to Tesseract on the same files.

    python bench/speed.py --mnist ../shared/data/mnist.npz

Pages are drawn by ``formreader.synth`` from MNIST *test* digits and written as PNG to a
temporary folder; formreader runs as the real CLI in a subprocess. Four parts, each printed as
a table (no thresholds, this is not a test):

1. Throughput per kind: one ``formreader scan FOLDER --workers W`` against ``tesseract --psm 11``
   on every file, one after the other and W at a time (equal core use).
2. Cold start: ``formreader read`` of one single-digit image against ``tesseract --psm 10``,
   alternated A B A B, medians and the median of the pairwise ratios.
3. Peak memory of a long scan (``--rss-pages`` files, copies of ~20 distinct pages): VmRSS of
   the whole process tree polled every 0.1 s.
4. A cProfile of ``read_page`` on a few form and strip pages: milliseconds per page by stage.

Default settings should take about 5 minutes on 2 idle cores, about half of it in the memory
run (an estimate from smaller runs). Tesseract runs with ``OMP_THREAD_LIMIT=1``.
"""

from __future__ import annotations

import argparse
import compileall
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

import formreader
from formreader import synth

TESSERACT_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
WHITELIST = ["-c", "tessedit_char_whitelist=0123456789"]
#: Distinct pages written for the memory run; the rest of the files are hard links to them.
RSS_DISTINCT = 20
POLL_SECONDS = 0.1
#: (label, file in formreader/, function name, indent) of the profiled stages; indented stages
#: run inside the stage above them.
STAGES = [
    ("io.load_pages", "io.py", "load_pages", 0),
    ("preprocess.clean_page", "preprocess.py", "clean_page", 0),
    ("flatten_illumination", "preprocess.py", "flatten_illumination", 1),
    ("binarize", "preprocess.py", "binarize", 1),
    ("find_lines", "preprocess.py", "find_lines", 1),
    ("segment.find_components", "segment.py", "find_components", 0),
    ("normalize.normalize_digit", "normalize.py", "normalize_digit", 0),
    ("classify.LiteModel.__call__", "classify.py", "__call__", 0),
    ("pipeline.best_reading", "pipeline.py", "best_reading", 0),
]


def table(title: str, header: list[str], rows: list[list], notes=()) -> None:
    """Print an aligned plain-text table: first column left, the others right."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        first = row[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    print(f"\n{title}")
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
    for note in notes:
        print(f"  {note}")
    sys.stdout.flush()


def write_pages(pages, folder: Path, prefix: str) -> list[Path]:
    """Write pages as PNG into ``folder``; return the paths in order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, page in enumerate(pages):
        path = folder / f"{prefix}_{index:05d}.png"
        cv2.imwrite(str(path), page.image)
        paths.append(path)
    return paths


def formreader_command(command: str, *args: str, model: str | None = None) -> list[str]:
    extra = ["--model", model] if model else []
    return [sys.executable, "-m", "formreader", command, *args, *extra]


def run_scan(folder: Path, out: Path, workers: int, model: str | None) -> float:
    """Wall seconds of one ``formreader scan`` of ``folder``."""
    cmd = formreader_command(
        "scan", str(folder), "--out", str(out), "--quiet", "--workers", str(workers), model=model
    )
    started = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):  # 1: some files could not be read, still timed
        sys.exit(f"formreader scan failed ({result.returncode}):\n{result.stderr}")
    return seconds


def tesseract_one(path: Path, psm: str = "11") -> int:
    """Run the tesseract CLI on one image (output discarded); return its exit code."""
    return subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", psm, *WHITELIST],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=TESSERACT_ENV,
    ).returncode


def run_tesseract(files: list[Path], parallel: int) -> tuple[float, int]:
    """Wall seconds of Tesseract over ``files``, ``parallel`` at a time; and failures."""
    started = time.perf_counter()
    if parallel <= 1:
        codes = [tesseract_one(path) for path in files]
    else:
        with ThreadPoolExecutor(parallel) as pool:
            codes = list(pool.map(tesseract_one, files))
    return time.perf_counter() - started, sum(code != 0 for code in codes)


def throughput(args, pool, work: Path, use_tesseract: bool) -> None:
    """Part 1: images per second of one scan per kind, and of Tesseract on the same files."""
    w = args.workers
    rows, notes = [], []
    for k, kind in enumerate(args.kinds.split(",")):
        pages = synth.make_pages(kind, args.pages, pool, seed=args.seed + k)
        folder = work / "throughput" / kind
        files = write_pages(pages, folder, kind)
        seconds = run_scan(folder, work / f"throughput_{kind}.csv", w, args.model)
        row = [kind, len(files), f"{len(files) / seconds:.2f}"]
        if use_tesseract:
            one, failed_one = run_tesseract(files, 1)
            many, failed_many = (one, failed_one) if w <= 1 else run_tesseract(files, w)
            if failed_one or failed_many:
                notes.append(f"{kind}: tesseract failed on {max(failed_one, failed_many)} file(s)")
            row += [
                f"{len(files) / one:.2f}",
                f"{len(files) / many:.2f}",
                f"{many / seconds:.2f}",
            ]
        rows.append(row)
    header = ["kind", "pages", f"formreader x{w}"]
    if use_tesseract:
        header += ["tesseract x1", f"tesseract x{w}", f"ratio fr/tess x{w}"]
    notes = [
        "images per second; formreader: one `scan FOLDER --quiet` per kind, wall time including",
        "interpreter start and model loading; tesseract: one `--psm 11` process per image,",
        f"x{w} = {w} images at a time (OMP_THREAD_LIMIT=1). ratio > 1: formreader is faster.",
        *notes,
    ]
    table(
        f"Throughput: {args.pages} pages per kind, formreader --workers {w}, "
        f"{os.cpu_count()} cores",
        header,
        rows,
        notes,
    )


def cold_start(args, pool, work: Path, use_tesseract: bool) -> None:
    """Part 2: cold `formreader read` of one digit against cold `tesseract --psm 10`."""
    page = synth.make_pages("single", 1, pool, seed=args.seed + 100)[0]
    (path,) = write_pages([page], work / "cold", "single")
    read_cmd = formreader_command("read", str(path), model=args.model)
    first = subprocess.run(read_cmd, capture_output=True, text=True)
    lines = first.stdout.strip().splitlines()
    read_as = lines[-1].split(",")[1] if len(lines) > 1 else "?"
    if use_tesseract:
        tesseract_one(path, "10")  # untimed, like the formreader run above: warm file cache
    times: dict[str, list[float]] = {"formreader read": [], "tesseract --psm 10": []}
    for _ in range(args.runs):
        for name in times:
            if name.startswith("tesseract") and not use_tesseract:
                continue
            started = time.perf_counter()
            if name.startswith("formreader"):
                subprocess.run(read_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            else:
                tesseract_one(path, "10")
            times[name].append(time.perf_counter() - started)
    rows = [
        [name, f"{statistics.median(t):.3f}", f"{min(t):.3f}", f"{max(t):.3f}"]
        for name, t in times.items()
        if t
    ]
    notes = [
        f"one {page.image.shape[1]}x{page.image.shape[0]} single-digit PNG "
        f"(truth {page.fields[0].text}, formreader read {read_as})",
        "wall seconds per process; one untimed run of each first",
    ]
    if use_tesseract:
        ratios = [a / b for a, b in zip(*times.values(), strict=True)]
        notes.append(
            f"median of pairwise ratios formreader / tesseract: {statistics.median(ratios):.2f}"
            " (> 1: formreader takes longer)"
        )
    table(
        f"Cold start: {args.runs} runs each, alternating",
        ["command", "median s", "min s", "max s"],
        rows,
        notes,
    )


def _process_tree(root: int) -> list[int]:
    """``root`` and all its living descendants, from the ppid field of ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])  # fields after comm: state, ppid
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _kib(path: str, key: str) -> int | None:
    """The ``key:`` value (kB) of a ``/proc`` status-like file, or None."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def peak_rss(args, pool, work: Path) -> None:
    """Part 3: peak memory of the scan's process tree over a long folder."""
    kinds = args.kinds.split(",")
    folder = work / "rss"
    distinct = []
    for k, kind in enumerate(kinds):
        count = RSS_DISTINCT // len(kinds) + (k < RSS_DISTINCT % len(kinds))
        pages = synth.make_pages(kind, count, pool, seed=args.seed + 200 + k)
        distinct += write_pages(pages, work / "rss_distinct", kind)
    # Interleave kinds so that every stretch of the scan sees every kind.
    distinct.sort(key=lambda p: (int(p.stem.split("_")[1]), p.stem))
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(args.rss_pages):
        source = distinct[index % len(distinct)]
        target = folder / f"page_{index:05d}.png"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    cmd = formreader_command(
        "scan",
        str(folder),
        "--out",
        str(work / "rss.csv"),
        "--quiet",
        "--workers",
        str(args.workers),
        model=args.model,
    )
    peak_tree = peak_one = peak_pss = 0
    most_processes = 0
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        tree = _process_tree(proc.pid)
        rss = [_kib(f"/proc/{pid}/status", "VmRSS:") or 0 for pid in tree]
        pss = [_kib(f"/proc/{pid}/smaps_rollup", "Pss:") or 0 for pid in tree]
        peak_tree = max(peak_tree, sum(rss))
        peak_one = max(peak_one, max(rss, default=0))
        peak_pss = max(peak_pss, sum(pss))
        most_processes = max(most_processes, sum(r > 0 for r in rss))
        try:
            proc.wait(POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
    seconds = time.perf_counter() - started
    stderr = proc.stderr.read()
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        sys.exit(f"formreader scan failed ({proc.returncode}):\n{stderr}")
    mib = 1024
    table(
        f"Peak memory: formreader scan of {args.rss_pages} files, --workers {args.workers}",
        ["pages", "pages/s", "processes", "tree RSS MiB", "largest RSS MiB", "tree PSS MiB"],
        [
            [
                args.rss_pages,
                f"{args.rss_pages / seconds:.2f}",
                most_processes,
                f"{peak_tree / mib:.0f}",
                f"{peak_one / mib:.0f}",
                f"{peak_pss / mib:.0f}" if peak_pss else "n/a",
            ]
        ],
        [
            f"{len(distinct)} distinct pages ({', '.join(kinds)}) linked up to the count; "
            f"peaks of VmRSS polled every {POLL_SECONDS} s",
            "tree RSS sums VmRSS over the CLI and its workers (shared pages counted in each); "
            "tree PSS shares them out",
        ],
    )


def _cumulative(stats: pstats.Stats, file: str, name: str) -> float | None:
    """Cumulative seconds of ``formreader/<file>:<name>`` in ``stats``, None if never called."""
    total, found = 0.0, False
    suffix = os.path.join("formreader", file)
    for (path, _line, func), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
        if func == name and path.endswith(suffix):
            total += cumulative
            found = True
    return total if found else None


def profile(args, pool, work: Path) -> None:
    """Part 4: a cProfile of ``read_page`` by stage on form and strip pages."""
    from formreader.io import load_pages
    from formreader.pipeline import Readers, read_page

    readers = Readers.load(args.model, args.reader)
    n = args.profile_pages
    for k, kind in enumerate(("form", "strip")):
        pages = synth.make_pages(kind, n + 1, pool, seed=args.seed + 300 + k)
        warm, *files = write_pages(pages, work / "profile", kind)
        read_page(load_pages(warm)[0], readers)  # untimed: first call allocates tensors

        def run(files=files):
            for path in files:
                for image in load_pages(path):
                    read_page(image, readers)

        started = time.perf_counter()
        run()
        plain = (time.perf_counter() - started) / n
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(run)
        total = time.perf_counter() - started
        stats = pstats.Stats(profiler)
        rows, top = [], 0.0
        for label, file, name, indent in STAGES:
            seconds = _cumulative(stats, file, name)
            if seconds is None:
                continue
            if indent == 0:
                top += seconds
            rows.append(
                ["  " * indent + label, f"{1000 * seconds / n:.1f}", f"{seconds / total:.0%}"]
            )
        rest = total - top
        rows.append(
            ["other (grouping, crops, ...)", f"{1000 * rest / n:.1f}", f"{rest / total:.0%}"]
        )
        rows.append(["total", f"{1000 * total / n:.1f}", "100%"])
        table(
            f"Profile: {kind}, {n} pages in-process, one DigitClassifier, 1 thread",
            ["stage", "ms per page", "share"],
            rows,
            [
                f"under cProfile; without it {1000 * plain:.1f} ms per page "
                "(load_pages + read_page)",
                "indented stages run inside the one above; LiteModel.__call__ = gate + digits",
                "not included: interpreter start, model loading (see cold start), CSV writing",
            ],
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--pages", type=int, default=50, help="pages per kind (throughput)")
    parser.add_argument("--kinds", default=",".join(synth.KINDS))
    parser.add_argument("--workers", type=int, default=2, help="formreader scan --workers")
    parser.add_argument("--runs", type=int, default=7, help="cold-start runs of each command")
    parser.add_argument("--rss-pages", type=int, default=1000, help="files in the memory run")
    parser.add_argument("--skip-rss", action="store_true", help="skip the memory run")
    parser.add_argument("--profile-pages", type=int, default=5, help="pages per profiled kind")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--keep", help="keep the generated pages and CSVs in this folder")
    parser.add_argument("--model", help="model folder for formreader (default: bundled)")
    parser.add_argument("--reader", default="both", help="formreader --reader")
    args = parser.parse_args()
    use_tesseract = not args.no_tesseract and bool(shutil.which("tesseract"))
    pool = synth.DigitPool.from_npz(args.mnist, "test")
    work = Path(args.keep or tempfile.mkdtemp(prefix="formreader-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    version = "not found"
    if use_tesseract:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
        version = (out.stdout or out.stderr).split("\n")[0]
    print(
        f"formreader speed: python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"model {args.model or 'bundled'}, {version}"
    )
    # Bytecode as `pip install .` leaves it: an editable install run with
    # PYTHONDONTWRITEBYTECODE set compiles every module again in every process (about 50 ms of
    # a cold `read` on 2026-12-08's machine).
    compileall.compile_dir(Path(formreader.__file__).parent, quiet=1)
    started = time.perf_counter()
    try:
        throughput(args, pool, work, use_tesseract)
        cold_start(args, pool, work, use_tesseract)
        if not args.skip_rss:
            peak_rss(args, pool, work)
        profile(args, pool, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nbench/speed.py took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
