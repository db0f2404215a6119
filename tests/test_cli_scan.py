"""End to end: the real `formreader scan` with the bundled model on generated pages.

Pages are drawn by ``formreader.synth`` from MNIST *test* digits, with fixed seeds.
"""

import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_image

from formreader import synth
from formreader.cli import main
from formreader.output import COLUMNS


@pytest.fixture(scope="module")
def pool(mnist_path):
    return synth.DigitPool.from_npz(mnist_path, "test")


def run_scan(*args):
    result = CliRunner().invoke(main, ["scan", *map(str, args)])
    return result


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_box_close(row, box, tolerance):
    got = [int(row[k]) for k in "xywh"]
    x, y, w, h = box
    slack = tolerance * max(h, 20)
    assert abs(got[0] - x) <= slack and abs(got[1] - y) <= slack, (got, box)
    assert abs(got[0] + got[2] - x - w) <= slack and abs(got[1] + got[3] - y - h) <= slack


# Seeds of generated pages per kind; every field on them must be read exactly.
PAGES = {"form": 11, "photo": 12, "strip": 13, "single": 14}


@pytest.mark.parametrize("kind", list(PAGES))
def test_scan_reads_each_kind(kind, pool, tmp_path):
    page = synth.make_page(kind, pool, np.random.default_rng(PAGES[kind]))
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / f"{kind}.png", page.image)
    out = tmp_path / "results.csv"
    result = run_scan(folder, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert list(rows[0]) == COLUMNS
    assert [r["text"] for r in rows] == [f.text for f in page.fields]
    assert [int(r["field"]) for r in rows] == list(range(1, len(rows) + 1))
    for row, truth in zip(rows, page.fields, strict=True):
        assert row["file"] == str(folder / f"{kind}.png")
        assert row["page"] == "1"
        assert row["status"] in ("ok", "review")
        assert_box_close(row, truth.box, tolerance=0.35)
        digits = [float(c) for c in row["digit_confidences"].split()]
        assert len(digits) == len(truth.text)
        assert float(row["confidence"]) == pytest.approx(min(digits), abs=1e-4)


def test_broken_files_give_error_rows_and_the_batch_goes_on(pool, tmp_path):
    page = synth.make_page("single", pool, np.random.default_rng(PAGES["single"]))
    folder = tmp_path / "batch"
    folder.mkdir()
    write_image(folder / "b_good.png", page.image)
    (folder / "a_empty.png").write_bytes(b"")
    (folder / "c_text.png").write_text("hello, not an image")
    (folder / "d_truncated.png").write_bytes((folder / "b_good.png").read_bytes()[:200])
    out = tmp_path / "out" / "results.csv"
    result = run_scan(folder, "--out", out, "--quiet")
    assert result.exit_code == 1
    rows = read_rows(out)
    by_file = {r["file"].rsplit("/", 1)[-1]: r for r in rows}
    assert by_file["b_good.png"]["text"] == page.fields[0].text
    for name, message in [
        ("a_empty.png", "empty"),
        ("c_text.png", "not a readable image"),
        ("d_truncated.png", "not a readable image"),
    ]:
        assert by_file[name]["status"] == "error"
        assert message in by_file[name]["message"]
        assert by_file[name]["text"] == ""
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == sorted(by_file)
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_out_dash_writes_csv_to_stdout(pool, tmp_path):
    page = synth.make_page("strip", pool, np.random.default_rng(PAGES["strip"]))
    path = write_image(tmp_path / "strip.png", page.image)
    result = run_scan(path, "--out", "-", "--quiet")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["text"] for r in rows] == [page.fields[0].text]


def test_debug_dir_writes_one_overlay_per_page(pool, tmp_path):
    page = synth.make_page("form", pool, np.random.default_rng(PAGES["form"]))
    path = write_image(tmp_path / "form.png", page.image)
    debug = tmp_path / "debug"
    result = run_scan(path, "--out", tmp_path / "r.csv", "--debug-dir", debug, "--quiet")
    assert result.exit_code == 0
    overlays = list(debug.glob("*.png"))
    assert len(overlays) == 1 and overlays[0].stat().st_size > 0


def test_review_threshold_flags_fields(pool, tmp_path):
    page = synth.make_page("single", pool, np.random.default_rng(PAGES["single"]))
    path = write_image(tmp_path / "one.png", page.image)
    result = run_scan(path, "--out", tmp_path / "r.csv", "--review-below", "1.0", "--quiet")
    assert result.exit_code == 0
    rows = read_rows(tmp_path / "r.csv")
    assert rows[0]["status"] == "review" and "below 1.0" in rows[0]["message"]


def test_usage_errors_exit_2(tmp_path):
    assert run_scan("--out", tmp_path / "r.csv").exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_scan(empty, "--out", tmp_path / "r.csv")
    assert result.exit_code == 2
    assert "no image files" in result.output


def test_parallel_workers_give_the_same_output(pool, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for n, kind in enumerate(["strip", "single", "strip", "single"]):
        page = synth.make_page(kind, pool, np.random.default_rng(100 + n))
        write_image(folder / f"p{n}.png", page.image)
    (folder / "p9.png").write_bytes(b"broken")
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.csv"
        result = run_scan(folder, "--out", out, "--workers", workers, "--quiet")
        assert result.exit_code == 1
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    files = [row["file"].rsplit("/", 1)[-1] for row in csv.DictReader(io.StringIO(outputs[0]))]
    assert files == sorted(files) and set(files) == {f"p{n}.png" for n in (0, 1, 2, 3, 9)}
