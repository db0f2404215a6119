"""Outputs: CSV and JSON Lines, stdout, atomic writes, --resume after a partial or interrupted
run (real CLI, real model, pages from MNIST test digits)."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pages
import pytest
from click.testing import CliRunner
from conftest import write_image

from formreader import synth
from formreader.cli import main
from formreader.output import COLUMNS, RecordWriter, read_records


@pytest.fixture(scope="module")
def pool(mnist_path):
    return synth.DigitPool.from_npz(mnist_path, "test")


@pytest.fixture(scope="module")
def folder(pool, tmp_path_factory):
    """Six small pages (strips and single digits) and one broken file."""
    folder = tmp_path_factory.mktemp("batch")
    for n in range(6):
        kind = "strip" if n % 2 else "single"
        write_image(folder / f"p{n}.png", getattr(pages, f"{kind}_page")(pool, n)[0])
    (folder / "p6.png").write_bytes(b"broken")
    return folder


def scan(*args):
    return CliRunner().invoke(main, ["scan", *map(str, args), "--workers", "1", "-q"])


def test_jsonl_holds_the_same_records_as_csv(folder, tmp_path):
    assert scan(folder, "--out", tmp_path / "r.csv").exit_code == 1
    assert scan(folder, "--out", tmp_path / "r.jsonl").exit_code == 1  # format from the name
    lines = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert list(objects[0]) == COLUMNS
    assert all(isinstance(o["digit_confidences"], list) for o in objects)
    assert any(len(o["digit_confidences"]) == 6 for o in objects)
    assert objects[-1]["status"] == "error" and objects[-1]["confidence"] is None
    from_csv, from_jsonl = read_records(tmp_path / "r.csv"), read_records(tmp_path / "r.jsonl")
    assert from_csv == from_jsonl and len(from_csv) == len(objects)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_records_round_trip_exactly(folder, tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    scan(folder, "--out", out)
    again = io.StringIO()
    RecordWriter(again, fmt).write(read_records(out))
    assert again.getvalue() == out.read_text(encoding="utf-8")


def test_jsonl_to_stdout_pipes(folder):
    result = scan(folder / "p1.png", "--format", "jsonl", "--out", "-")
    assert result.exit_code == 0
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["file"].endswith("p1.png") and len(record["text"]) == 6


def test_resume_reads_only_the_missing_files(folder, tmp_path):
    clean = tmp_path / "clean.csv"
    scan(folder, "--out", clean)
    partial = tmp_path / "partial.csv"
    scan(folder / "p0.png", folder / "p1.png", "--out", partial)  # a batch stopped after two
    result = CliRunner().invoke(
        main, ["scan", str(folder), "--out", str(partial), "--resume", "--workers", "1"]
    )
    assert result.exit_code == 1  # p6.png is broken
    assert "5 file(s), 2 already in" in result.output
    assert partial.read_text() == clean.read_text()


def test_resume_refuses_a_file_that_is_not_formreader_output(folder, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("name,amount\nx,3\n")
    result = scan(folder, "--out", other, "--resume")
    assert result.exit_code == 2
    assert "not formreader csv output" in result.output
    assert other.read_text() == "name,amount\nx,3\n"  # untouched


def test_a_bad_model_leaves_the_previous_output_untouched(folder, tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("previous results\n")
    empty_model = tmp_path / "model"
    empty_model.mkdir()
    result = scan(folder, "--out", out, "--model", empty_model)
    assert result.exit_code == 3
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "r.csv"]


def test_output_gets_normal_file_permissions(folder, tmp_path):
    old = os.umask(0o022)
    try:
        scan(folder / "p1.png", "--out", tmp_path / "r.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("parallel", "whole_group"),
    [
        (["--workers", "2"], False),
        (["--scheduler", "local", "--workers", "2"], False),
        # A terminal's Ctrl-C reaches the local Dask workers too: they must not die of it.
        (["--scheduler", "local", "--workers", "2"], True),
    ],
)
def test_ctrl_c_leaves_a_valid_partial_output_and_resume_completes_it(
    pool, tmp_path, parallel, whole_group
):
    folder = tmp_path / "many"
    folder.mkdir()
    # Enough files that the scan is still running when the third row is seen, even when other
    # work slows this test's polling down (40 files were all read first once in a full CI run).
    for n in range(120):
        write_image(folder / f"p{n:03d}.png", pages.strip_page(pool, n)[0])
    clean, out = tmp_path / "clean.csv", tmp_path / "out.csv"
    scan(folder, "--out", clean)
    command = [sys.executable, "-m", "formreader", "scan", str(folder), "--out", str(out)]
    # A test run started in the background of a script inherits SIGINT ignored, and so would the
    # scan: give it the default disposition, as a terminal's Ctrl-C would find it.
    process = subprocess.Popen(
        [*command, *parallel],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=whole_group,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until a few files are written to the temp file
        temps = list(tmp_path.glob(".out.csv.*.tmp"))
        if temps and temps[0].read_text().count("\n") >= 4:
            break
        time.sleep(0.05)
    if whole_group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    clean_rows = list(csv.DictReader(io.StringIO(clean.read_text())))
    assert 3 <= len(rows) < len(clean_rows)
    assert rows == clean_rows[: len(rows)]  # whole files only, in order
    assert not list(tmp_path.glob(".out.csv.*.tmp"))
    done = subprocess.run([*command, "--resume", "-q"], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0
    assert out.read_text() == clean.read_text()


def test_log_file_gets_the_failures(folder, tmp_path):
    log = tmp_path / "scan.log"
    result = CliRunner().invoke(
        main, ["--log-file", str(log), "scan", str(folder / "p6.png"), "--out", "-", "-q"]
    )
    assert result.exit_code == 1
    text = log.read_text()
    assert "p6.png" in text and "not a readable image" in text


def test_python_api_reads_paths_and_arrays(pool, folder):
    import formreader

    page, fields = pages.strip_page(pool, 3)
    records = formreader.scan([folder / "p1.png", page, (np.asarray(page), "my strip")])
    assert [r.file for r in records] == [str(folder / "p1.png"), "<array 2>", "my strip"]
    assert [r.text for r in records][1:] == [fields[0][0]] * 2
    assert formreader.read(page).text == fields[0][0]
    assert formreader.read(folder / "p1.png").text == records[0].text
    (bad,) = formreader.scan([folder / "p6.png"])
    assert bad.status == "error" and "not a readable image" in bad.message


def test_importing_formreader_is_light_and_typed():
    code = (
        "import sys, importlib.resources, formreader\n"
        "print('cv2' in sys.modules, 'tensorflow' in sys.modules)\n"
        "print(importlib.resources.files('formreader').joinpath('py.typed').is_file())\n"
        "print(callable(formreader.scan), callable(formreader.read))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True", "True", "True"]
