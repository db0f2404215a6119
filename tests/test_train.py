"""Training for real on a small MNIST subset, then evaluating the result."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_image

from formreader import synth
from formreader.classify import StringReader
from formreader.cli import main
from formreader.nondigits import STROKE_CANVAS, vary_stroke
from formreader.train_strings import PAGE_KINDS, page_strings

#: Stated floor for 4,000 images x 4 epochs, measured on held-out MNIST test digits.
SMALL_RUN_ACCURACY = 0.90


def run_train(mnist_path, out, *options):
    args = ["train", "--mnist", str(mnist_path), "--out", str(out), *options]
    return CliRunner().invoke(main, args)


@pytest.mark.slow
def test_train_small_subset_then_eval(tmp_path, mnist_path):
    out = tmp_path / "model"
    result = run_train(mnist_path, out, "--epochs", "4", "--limit", "4000", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("epoch ") >= 2  # one progress line per epoch
    for name in ("digits.keras", "digits.tflite", "model_card.json", "curves.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert 2 <= len(rows) <= 4
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])

    evaluation = CliRunner().invoke(main, ["eval", "--mnist", str(mnist_path), "--model", str(out)])
    assert evaluation.exit_code == 0, evaluation.output
    accuracy = float(evaluation.output.strip().splitlines()[-1].split("=")[1])
    assert accuracy >= SMALL_RUN_ACCURACY


def test_train_mlp_runs(tmp_path, mnist_path):
    out = tmp_path / "mlp"
    result = run_train(mnist_path, out, "--epochs", "1", "--limit", "1000", "--arch", "mlp")
    assert result.exit_code == 0, result.output
    assert (out / "digits.tflite").is_file()


def test_train_continues_a_digit_cnn_with_continental_ones_but_not_the_gate(tmp_path, mnist_path):
    first = tmp_path / "first"
    assert run_train(mnist_path, first, "--epochs", "1", "--limit", "1000").exit_code == 0
    more = tmp_path / "more"
    options = ("--epochs", "1", "--limit", "1000", "--from", first, "--continental")
    result = run_train(mnist_path, more, *options)
    assert result.exit_code == 0, result.output
    card = json.loads((more / "model_card.json").read_text())
    assert card["continued_from"] == str(first)
    assert card["augmentation"]["continental_share"] == 0.4
    first_card = json.loads((first / "model_card.json").read_text())
    assert first_card["augmentation"]["continental_share"] == 0.0
    refused = run_train(mnist_path, tmp_path / "gate", "--arch", "gate", "--from", first)
    assert refused.exit_code == 2 and "--from continues the digit CNN" in refused.output
    refused = run_train(mnist_path, tmp_path / "s", "--arch", "gate", "--continental")
    assert refused.exit_code == 2 and "--continental is for" in refused.output
    refused = run_train(mnist_path, tmp_path / "d", "--data", first, "--continental")
    assert refused.exit_code == 2 and "--continental is for" in refused.output


def test_train_with_bad_mnist_file_fails_clearly(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz")
    result = CliRunner().invoke(main, ["train", "--mnist", str(bad), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "cannot read MNIST" in result.stderr


def test_train_string_model_writes_its_files_beside_the_digits(tmp_path, mnist_path, mnist_test):
    out = tmp_path / "model"
    result = run_train(mnist_path, out, "--arch", "crnn", "--epochs", "1", "--limit", "300")
    assert result.exit_code == 0, result.output
    assert "made 330 synthetic strings" in result.stderr
    assert result.stderr.count("epoch ") == 1
    for name in ("strings.keras", "strings.tflite", "strings_history.csv", "strings_curves.png"):
        assert (out / name).stat().st_size > 0, name
    card = json.loads((out / "model_card.json").read_text())["strings"]
    assert card["data"]["train_strings"] == 270 and card["input"] == [32, 256]
    assert card["data"]["continental_share"] == 0.0
    readings = StringReader(out).read(np.zeros((2, 32, 256), np.float32))
    assert len(readings) == 2 and all(r.text.isdigit() or r.text == "" for r in readings)
    # Continue training that model on more strings, with continental 1s and 7s, and on the
    # strips the pipeline cuts from a page of MNIST digits and one of "the user's" digits.
    hands = tmp_path / "hands"
    x, y = mnist_test
    for digit in range(10):
        (hands / str(digit)).mkdir(parents=True)
        for k, image in enumerate(x[y == digit][:5]):
            write_image(hands / str(digit) / f"{k}.png", 255 - image)
    more = tmp_path / "more"
    options = ("--arch", "crnn", "--epochs", "1", "--limit", "400", "--from", out, "--continental")
    result = run_train(mnist_path, more, *options, "--pages", "2", "--page-hands", hands)
    assert result.exit_code == 0, result.output
    card = json.loads((more / "model_card.json").read_text())["strings"]
    assert card["continued_from"] == str(out) and card["data"]["continental_share"] == 0.4
    assert card["data"]["pages"] == 2 and card["data"]["page_strips"] > 0
    assert card["data"]["page_hands"] == str(hands) and card["data"]["hand_string_share"] == 0.4
    assert card["data"]["train_strings"] == 360 + card["data"]["page_strips"]
    result = run_train(mnist_path, more, "--pages", "2")
    assert result.exit_code == 2 and "--pages is for the string model" in result.stderr
    result = run_train(mnist_path, more, "--arch", "crnn", "--page-hands", hands)
    assert result.exit_code == 2 and "--page-hands needs --pages" in result.stderr


def test_page_strings_are_the_pipelines_strips_labelled_with_their_fields(mnist_test):
    x, y = mnist_test
    strips, labels = page_strings(x, y, 3, seed=4)  # a form, a photo, a cheque amount
    pool = synth.DigitPool(x, y)
    pages = [
        synth.make_page(PAGE_KINDS[i % len(PAGE_KINDS)], pool, np.random.default_rng([4, i]))
        for i in range(3)
    ]
    truth = {f.text for page in pages for f in page.fields}
    texts = ["".join(str(d) for d in row if d >= 0) for row in labels]
    assert strips.dtype == np.uint8 and strips.shape == (len(texts), 32, 256)
    assert len(texts) >= 3 and set(texts) <= truth
    assert pages[2].kind == "amount" and pages[2].fields[0].text in texts
    assert all(strip.max() > 128 for strip in strips)  # ink, white on black


def test_train_gate_writes_its_files_and_tells_digits_from_print(tmp_path, mnist_path):
    out = tmp_path / "model"
    result = run_train(mnist_path, out, "--arch", "gate", "--epochs", "2", "--limit", "3000")
    assert result.exit_code == 0, result.output
    for name in ("gate.keras", "gate.tflite", "gate_history.csv"):
        assert (out / name).stat().st_size > 0, name
    card = json.loads((out / "model_card.json").read_text())["gate"]
    assert card["examples"] == 6000
    assert card["test_accuracy"] >= 0.8  # held-out digits and non-digits, half each


def test_vary_stroke_enlarges_small_ink_and_keeps_it_ink():
    ink = np.zeros((28, 14), np.float32)
    ink[4:24, 5:9] = 1.0  # a 1, four pixels wide
    for seed in range(20):
        varied = vary_stroke(ink, np.random.default_rng(seed))
        assert varied.shape == (STROKE_CANVAS, STROKE_CANVAS // 2)
        assert varied.dtype == np.float32 and varied.min() >= 0 and varied.max() <= 1.0
        assert (varied > 0.5).sum() > 0  # thinned, never erased
