"""The synthetic handwriting's building blocks: continental 1s and 7s, pools of digits."""

import itertools

import cv2
import numpy as np
import pytest
from conftest import write_image

from formreader import synth
from formreader.exceptions import DataError


def stem() -> np.ndarray:
    """A bare upright stroke, 3 px wide, rows 4-23 (an American 1)."""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 13:16] = 255
    return image


def seven() -> np.ndarray:
    """A 7 without a bar: a top stroke and an upright stem on its right."""
    image = np.zeros((28, 28), np.uint8)
    image[4:7, 6:20] = 255
    image[4:24, 17:20] = 255
    return image


def test_a_continental_one_gets_a_flag_from_the_top_down_to_the_left():
    flagged = synth.continental(stem(), 1, np.random.default_rng(0))
    added = (flagged > 127) & (stem() == 0)
    ys, xs = np.nonzero(added)
    assert added.sum() >= 6  # a stroke, not a speck
    assert xs.max() <= 15 and (xs < 13).mean() > 0.7  # left of the stem, nothing right of it
    assert ys.min() <= 5 and xs[ys == ys.max()].max() < 10  # from its top, down to the left
    assert ys.max() <= 4 + 0.5 * 20 + 2  # no longer than half the height
    assert np.array_equal(flagged[stem() > 0], stem()[stem() > 0])  # the stem stays


def test_a_continental_seven_is_crossed_below_its_middle():
    crossed = synth.continental(seven(), 7, np.random.default_rng(0))
    added = (crossed > 127) & (seven() == 0)
    ys, xs = np.nonzero(added)
    assert xs.min() < 17 and xs.max() > 19  # on both sides of the stem
    assert ys.min() >= 12 and ys.max() <= 19  # between half and two thirds down


@pytest.mark.parametrize("digit", [0, 2, 4, 9])
def test_other_digits_are_not_continentalised(digit):
    assert np.array_equal(synth.continental(stem(), digit, np.random.default_rng(0)), stem())


def test_a_pool_from_digit_folders_is_mnist_style(tmp_path):
    for digit in range(10):
        paper = np.full((60, 40), 235, np.uint8)
        cv2.putText(paper, str(digit), (6, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 30, 2)
        (tmp_path / str(digit)).mkdir()
        write_image(tmp_path / str(digit) / f"{digit}-a.png", paper)
    pool = synth.DigitPool.from_folder(tmp_path)
    assert pool.images.shape == (10, 28, 28) and list(pool.labels) == list(range(10))
    one = pool.images[1]
    assert one.max() == 255 and one[0].max() == 0  # white ink on black, margins kept
    with pytest.raises(DataError, match="no labelled digits found"):
        synth.DigitPool.from_folder(tmp_path / "none")


def test_overlapping_digits_never_hide_one_under_the_other():
    # Every digit but 1 drawn as the bare 7, the 1 as a stem: a narrow digit between wide ones.
    pool = synth.DigitPool(np.stack([seven()] * 9 + [stem()]), np.array([0, *range(2, 10), 1]))
    for seed in range(5):
        rng = np.random.default_rng(seed)
        _, boxes = synth.render_digits(pool, "717", rng, height=60, gap=-60)
        for (x0, _, w0, _), (x1, _, w1, _) in itertools.pairwise(boxes):
            overlap = x0 + w0 - x1
            assert 0 < overlap <= synth.MAX_OVERLAP * min(w0, w1) + 1  # touching, not hidden


def test_box_intersection_is_the_shared_area_and_zero_apart():
    assert synth.box_intersection((0, 0, 10, 10), (5, 5, 10, 10)) == 25
    assert synth.box_intersection((0, 0, 10, 10), (2, 3, 4, 5)) == 20  # inside
    assert synth.box_intersection((0, 0, 10, 10), (10, 0, 5, 5)) == 0  # edge to edge
    assert synth.box_intersection((0, 0, 10, 10), (20, 20, 5, 5)) == 0


@pytest.mark.parametrize(
    ("mark", "rows"),
    [(".", (70, 82)), (",", (70, 98)), ("'", (10, 48)), ("-", (40, 66)), ("=", (40, 80))],
)
def test_an_amounts_marks_sit_where_people_write_them(mark, rows):
    # Digits between rows 20 (top) and 80 (base line): a dot on the base line, a comma
    # hanging below it, an apostrophe at the top, dashes across the middle.
    mask = np.zeros((120, 100), np.uint8)
    right = synth._mark(mask, mark, 30.0, 20.0, 80.0, 3, np.random.default_rng(1))
    ys, xs = np.nonzero(mask > 127)
    assert ys.size > 0
    assert rows[0] <= ys.min() and ys.max() <= rows[1]
    assert xs.min() >= 25 and xs.max() <= right + 5  # pen width and hand jitter


def test_amounts_separate_thousands_and_cents_and_the_truth_is_the_digits():
    pool = synth.DigitPool(np.stack([stem()] * 10), np.arange(10))
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 9))
        _, between, _ = synth._amount_marks(rng, n)
        assert set(between) <= set(range(n - 1))
        thousands = sorted(i for i, mark in between.items() if i < n - 3 or mark in "' ")
        assert all(b - a == 3 for a, b in itertools.pairwise(thousands))
        page = synth.make_amount(pool, np.random.default_rng(seed))
        (field,) = page.fields
        x, y, w, h = field.box
        assert field.text.isdigit() and 1 <= len(field.text) <= 8
        assert x >= 0 and x + w <= page.image.shape[1] and y + h <= page.image.shape[0]
