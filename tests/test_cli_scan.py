"""End to end: the real `formreader scan` with the bundled model on generated pages.

Pages are composed in ``pages.py`` from MNIST *test* digits (everyday difficulty, fixed seeds);
the hard, varied pages of ``formreader.synth`` are measured by ``bench/scan_accuracy.py``.
"""

import csv
import io
from pathlib import Path

import numpy as np
import pages
import pytest
from click.testing import CliRunner
from conftest import ink_on_paper, write_image

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


# Seeds of the test pages per kind.
PAGES = {"form": 0, "photo": 0, "strip": 1, "single": 0}


@pytest.mark.parametrize("kind", list(PAGES))
def test_scan_reads_each_kind(kind, pool, tmp_path):
    image, fields = getattr(pages, f"{kind}_page")(pool, PAGES[kind])
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / f"{kind}.png", image)
    out = tmp_path / "results.csv"
    result = run_scan(folder, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert list(rows[0]) == COLUMNS
    assert [r["text"] for r in rows] == [text for text, _ in fields]
    assert [int(r["field"]) for r in rows] == list(range(1, len(rows) + 1))
    for row, (text, box) in zip(rows, fields, strict=True):
        assert row["file"] == str(folder / f"{kind}.png")
        assert row["page"] == "1"
        assert row["status"] in ("ok", "review")
        assert_box_close(row, box, tolerance=0.25)
        digits = [float(c) for c in row["digit_confidences"].split()]
        assert len(digits) == len(text)
        assert float(row["confidence"]) == pytest.approx(min(digits), abs=1e-4)


def test_scan_runs_on_hard_generated_pages(pool, tmp_path):
    """Every kind of benchmark page goes through the CLI: digit rows only, exit code 0."""
    folder = tmp_path / "hard"
    folder.mkdir()
    for kind in synth.KINDS:
        page = synth.make_page(kind, pool, np.random.default_rng(7))
        write_image(folder / f"{kind}.png", page.image)
    result = run_scan(folder, "--out", tmp_path / "r.csv", "--quiet")
    assert result.exit_code == 0
    rows = read_rows(tmp_path / "r.csv")
    assert {Path(r["file"]).stem for r in rows} <= set(synth.KINDS)
    assert all(r["text"].isdigit() and r["status"] in ("ok", "review") for r in rows)


def assert_page_read(image, fields, tmp_path):
    """``scan`` reads exactly the ``(text, box)`` fields of a one-page image, in order."""
    path = write_image(tmp_path / "form.png", image)
    result = run_scan(path, "--out", tmp_path / "r.csv", "--quiet")
    assert result.exit_code == 0
    rows = read_rows(tmp_path / "r.csv")
    assert [r["text"] for r in rows] == [text for text, _ in fields]
    for row, (_, box) in zip(rows, fields, strict=True):
        assert_box_close(row, box, tolerance=0.25)


@pytest.mark.parametrize("print_px", [16, 22])
def test_small_print_full_of_ones_is_not_read_and_tall_handwriting_is(print_px, pool, tmp_path):
    """Print's I, l and 1 outnumber the handwritten digits; the handwriting is 2-3 times as
    tall as the print (once dropped as 'far taller than the page's digits')."""
    assert_page_read(*pages.print_heavy_page(pool, 0, print_px), tmp_path)


def test_print_labels_of_straight_strokes_are_not_read_as_ones(pool, tmp_path):
    """A label's capitals cut into their strokes read as sure 1s; beside the field they were
    joined to it ('PIN:' + '979' read '11111979')."""
    assert_page_read(*pages.labelled_fields_page(pool, 0), tmp_path)


def test_printed_currency_signs_before_amount_boxes_are_not_read(pool, tmp_path):
    """A printed $ passed the gate as a handwritten 5 (0.92 of $ in 13 faces at 3 sizes): this
    page read '8', '5', '4', '7' before the gate learned currency signs."""
    assert_page_read(*pages.currency_fields_page(pool, 1), tmp_path)


def test_a_digit_in_a_printed_heading_is_not_read(pool, tmp_path):
    """The benchmark's form page seed 11 / 6: the 7 of its heading "Form 2027 No. 920" (a
    serif face as tall as the handwriting) passed the gate and was read '27111' with its
    neighbours."""
    page = synth.make_pages("form", 7, pool, seed=11)[6]
    assert_page_read(page.image, [(f.text, f.box) for f in page.fields], tmp_path)


def test_a_comb_whose_digits_stand_at_different_heights_is_read_once(pool, tmp_path):
    """The benchmark's form page seed 13 / 13: the comb '584049' beside a label, its digits
    at different heights, was parted into two rows and read twice ('58404' and '4049')."""
    page = synth.make_pages("form", 14, pool, seed=13)[13]
    path = write_image(tmp_path / "form.png", page.image)
    assert run_scan(path, "--out", tmp_path / "r.csv", "--quiet").exit_code == 0
    rows = {r["text"]: r for r in read_rows(tmp_path / "r.csv")}
    assert sorted(rows) == sorted(f.text for f in page.fields)
    comb = next(f for f in page.fields if f.text == "584049")
    assert_box_close(rows["584049"], comb.box, tolerance=0.25)


def test_a_single_digit_the_gate_doubts_is_read_in_its_box(pool, mnist_test, tmp_path):
    """MNIST test image 854, a round 0, is 0.4 digit-like to the gate: a field of one or
    two digits as tall as the handwriting now stands from 0.25 (it was dropped below 0.7)."""
    images, _ = mnist_test
    assert_page_read(*pages.boxed_single_digit_page(pool, images[854]), tmp_path)


def test_out_dash_writes_csv_to_stdout(pool, tmp_path):
    image, fields = pages.strip_page(pool, PAGES["strip"])
    path = write_image(tmp_path / "strip.png", image)
    result = run_scan(path, "--out", "-", "--quiet")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["text"] for r in rows] == [fields[0][0]]


def test_debug_dir_writes_one_overlay_per_page(pool, tmp_path):
    image, _ = pages.form_page(pool, PAGES["form"])
    path = write_image(tmp_path / "form.png", image)
    debug = tmp_path / "debug"
    result = run_scan(path, "--out", tmp_path / "r.csv", "--debug-dir", debug, "--quiet")
    assert result.exit_code == 0
    overlays = list(debug.glob("*.png"))
    assert len(overlays) == 1 and overlays[0].stat().st_size > 0


def test_review_threshold_flags_fields(mnist_test, tmp_path):
    # A 4 drawn over a 9: a digit the model cannot be sure of on any platform.
    x, y = mnist_test
    four, nine = x[np.flatnonzero(y == 4)[0]], x[np.flatnonzero(y == 9)[0]]
    path = write_image(tmp_path / "doubtful.png", ink_on_paper([np.maximum(four, nine)]))
    run_scan(path, "--out", tmp_path / "r.csv", "--reader", "digits", "--quiet")
    confidence = float(read_rows(tmp_path / "r.csv")[0]["confidence"])
    assert 0.2 < confidence < 0.95
    for threshold, status in ((confidence, "ok"), (confidence + 0.001, "review")):
        options = ("--review-below", threshold, "--reader", "digits", "-q")
        result = run_scan(path, "--out", tmp_path / "r.csv", *options)
        assert result.exit_code == 0
        row = read_rows(tmp_path / "r.csv")[0]
        assert row["status"] == status
        assert (f"below {threshold}" in row["message"]) == (status == "review")


def test_page_without_handwriting_gets_a_review_row(tmp_path):
    path = write_image(tmp_path / "blank.png", np.full((300, 400), 250, np.uint8))
    result = run_scan(path, "--out", tmp_path / "r.csv", "--quiet")
    assert result.exit_code == 0
    rows = read_rows(tmp_path / "r.csv")
    assert [(r["field"], r["text"], r["status"]) for r in rows] == [("0", "", "review")]
    assert "no handwritten digits" in rows[0]["message"]


def test_usage_errors_exit_2(tmp_path):
    assert run_scan("--out", tmp_path / "r.csv").exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_scan(empty, "--out", tmp_path / "r.csv")
    assert result.exit_code == 2
    assert "no image or PDF files" in result.output


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


def touching_strips(pool, n):
    """``n`` strips of 5-7 MNIST test digits that touch or overlap, dark ink on white paper."""
    strips = []
    for seed in range(n):
        rng = np.random.default_rng([99, seed])
        text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(5, 8)))
        gaps = -rng.uniform(0.0, 0.2, len(text) - 1) * 60
        ink, _ = synth.render_digits(pool, text, rng, height=60, gap=gaps, slant=0.1)
        page = np.full((ink.shape[0] + 80, ink.shape[1] + 80), 255, np.uint8)
        page[40:-40, 40:-40] = np.round(255 * (1 - ink)).astype(np.uint8)
        strips.append((text, page))
    return strips


def test_string_reader_reads_touching_digits_and_both_flags_disagreement(pool, tmp_path):
    folder = tmp_path / "strips"
    folder.mkdir()
    truth = {}
    for i, (text, page) in enumerate(touching_strips(pool, 8)):
        write_image(folder / f"strip{i}.png", page)
        truth[f"strip{i}.png"] = text
    read = {}
    for reader in ("digits", "string", "both"):
        out = tmp_path / f"{reader}.csv"
        result = run_scan(folder, "--out", out, "--reader", reader, "--quiet")
        assert result.exit_code == 0, result.output
        rows = read_rows(out)
        assert len(rows) == len(truth)  # one field per strip
        read[reader] = {Path(r["file"]).name: r for r in rows}
    string_right = sum(read["string"][f]["text"] == t for f, t in truth.items())
    assert string_right >= 7
    for name, row in read["both"].items():
        digits, string = read["digits"][name]["text"], read["string"][name]["text"]
        assert row["text"] in (digits, string)
        if digits != string:
            assert row["status"] == "review"
            if digits:
                assert f"digits {digits} (" in row["message"]
                assert f"string {string or '-'} (" in row["message"]
            else:  # the digit path found no digits there: the string model's reading stands
                assert "read by the string model only" in row["message"]
        if row["status"] == "ok":
            assert row["text"] == truth[name]
