"""End to end: the real `formreader read` with the bundled model on images of MNIST test digits."""

import csv
import io

import cv2
import numpy as np
from click.testing import CliRunner
from conftest import ink_on_paper, write_image

from formreader import synth
from formreader.cli import main


def first_of_each_class(images, labels, skip=0):
    return [np.flatnonzero(labels == d)[skip] for d in range(10)]


def run_read(*args):
    result = CliRunner().invoke(main, ["read", *map(str, args)])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    return result, rows


def test_single_digits_on_paper_under_non_ascii_names(tmp_path, mnist_test):
    images, labels = mnist_test
    paths, truth = [], []
    for n, i in enumerate(first_of_each_class(images, labels)):
        height = 60 + 6 * n  # 60-114 px tall digits on a larger white page
        page = ink_on_paper([images[i]], height=height, margin=80)
        paths.append(write_image(tmp_path / f"zählerstand_数字_{n}.png", page))
        truth.append(str(labels[i]))
    result, rows = run_read(*paths)
    assert result.exit_code == 0, result.output
    assert [r["file"] for r in rows] == [str(p) for p in paths]
    assert [r["text"] for r in rows] == truth
    assert all(0.5 < float(r["confidence"]) <= 1.0 for r in rows)


def test_five_digit_string(tmp_path, mnist_test):
    images, labels = mnist_test
    picks = [3, 2, 1, 18, 4]
    page = ink_on_paper([images[i] for i in picks], height=80, gap=20)
    path = write_image(tmp_path / "betrag €.jpg", page)
    result, rows = run_read(path)
    assert result.exit_code == 0, result.output
    assert rows[0]["text"] == "".join(str(labels[i]) for i in picks)


def test_mnist_like_white_on_black_image(tmp_path, mnist_test):
    images, labels = mnist_test
    path = write_image(tmp_path / "mnist.png", images[0])
    big = write_image(tmp_path / "mnist_big.png", cv2.resize(images[0], (112, 112)))
    result, rows = run_read(path, big)
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in rows] == [str(labels[0])] * 2


def test_dotted_captchas_are_read_once_their_dots_are_joined(tmp_path, mnist_test):
    pool, rng = synth.DigitPool(*mnist_test), np.random.default_rng(0)
    paths, truth = [], []
    for n in range(40):
        strip = synth.make_dotted(pool, rng)
        paths.append(write_image(tmp_path / f"dotted_{n}.png", strip.image))
        truth.append(strip.fields[0].text)
    result, rows = run_read(*paths)
    assert result.exit_code == 0, result.output
    right = sum(r["text"] == t for r, t in zip(rows, truth, strict=True))
    assert right >= 10, right  # 0 of 40 with the dots left apart; here 17


def test_cheque_amounts_give_their_digits_without_separators_dashes_or_currency(
    tmp_path, mnist_test
):
    pool, rng = synth.DigitPool(*mnist_test), np.random.default_rng(0)
    paths, truth = [], []
    for n in range(30):
        amount = synth.make_amount(pool, rng)  # e.g. "$ 4.940,41" or "*695,-*" -> digits
        paths.append(write_image(tmp_path / f"amount_{n}.png", amount.image))
        truth.append(amount.fields[0].text)
    result, rows = run_read(*paths)
    assert result.exit_code == 0, result.output
    right = sum(r["text"] == t for r, t in zip(rows, truth, strict=True))
    assert right >= 22, right  # 11 of 30 before the string model learned amounts; here 28


def test_cells_cut_out_of_a_table_are_read_with_the_rules_along_their_border(tmp_path, mnist_test):
    pool, rng = synth.DigitPool(*mnist_test), np.random.default_rng(3)
    paths, texts = [], ["73630", "176966", "4051", "82"]
    for n, text in enumerate(texts):
        ink, _ = synth.render_digits(pool, text, rng, height=36, thickness=1, gap=6)
        cell = np.full((ink.shape[0] + 18, ink.shape[1] + 40), 245, np.uint8)
        cell[9 : 9 + ink.shape[0], 20 : 20 + ink.shape[1]] -= np.uint8(200 * ink)
        cell[:2], cell[-3:], cell[:, :2], cell[:, -5:-3] = 40, 40, 40, 40  # the table's rules
        paths.append(write_image(tmp_path / f"cell_{n}.png", cell))
    result, rows = run_read(*paths)
    assert [r["text"] for r in rows] == texts  # read '' ("no handwritten digits") before
    assert result.exit_code == 0, result.output


def test_unreadable_file_gives_error_row_and_exit_1(tmp_path, mnist_test):
    images, labels = mnist_test
    good = write_image(tmp_path / "good.png", ink_on_paper([images[0]]))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not an image")
    blank = write_image(tmp_path / "blank.png", np.full((100, 100), 255, np.uint8))
    result, rows = run_read(bad, good, blank, tmp_path / "missing.png")
    assert result.exit_code == 1
    assert [r["text"] for r in rows] == ["", str(labels[0]), "", ""]
    assert "broken.png: not a readable image" in result.stderr
    assert "no handwritten digits" in result.stderr
    assert "missing.png: no such file" in result.stderr


def test_usage_error_exits_2():
    assert CliRunner().invoke(main, ["read"]).exit_code == 2
    assert CliRunner().invoke(main, ["read", "--no-such-option", "x.png"]).exit_code == 2


def test_help_lists_commands_with_examples():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("scan", "read", "train", "eval"):
        assert command in result.output
    assert "formreader scan ./scans --out results.csv" in result.output
