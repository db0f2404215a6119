"""The one normalisation function on tiny synthetic arrays with exact expected results."""

import numpy as np
import pytest

from formreader.exceptions import BlankImageError
from formreader.normalize import ink_map, normalize_batch, normalize_digit, normalize_strip


def rectangle(height, width, canvas=(40, 40), ink=255, paper=0, at=(5, 7)):
    image = np.full(canvas, paper, np.uint8)
    image[at[0] : at[0] + height, at[1] : at[1] + width] = ink
    return image


def test_filled_rectangle_lands_centred():
    out = normalize_digit(rectangle(20, 10))
    expected = np.zeros((28, 28), np.float32)
    expected[4:24, 9:19] = 1.0
    assert out.dtype == np.float32 and out.shape == (28, 28)
    np.testing.assert_array_equal(out, expected)


def test_longer_side_scaled_to_20_keeping_aspect():
    out = normalize_digit(rectangle(36, 9, canvas=(60, 50)))
    rows = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out.any(axis=0))
    assert (rows[0], rows[-1]) == (4, 23)
    assert cols.size == 5  # 9 * 20/36 = 5
    assert cols[0] == 12 and cols[-1] == 16


def test_wide_shape_fits_20_wide():
    out = normalize_digit(rectangle(6, 30, canvas=(40, 50)))
    cols = np.flatnonzero(out.any(axis=0))
    rows = np.flatnonzero(out.any(axis=1))
    assert (cols[0], cols[-1]) == (4, 23)
    assert rows.size == 4


def test_dark_ink_on_light_paper_equals_light_on_dark():
    light_on_dark = normalize_digit(rectangle(20, 10))
    dark_on_light = normalize_digit(rectangle(20, 10, ink=30, paper=230))
    np.testing.assert_allclose(dark_on_light, light_on_dark, atol=1e-6)


def test_explicit_polarity_is_respected():
    image = rectangle(20, 10, ink=20, paper=240)
    np.testing.assert_array_equal(normalize_digit(image, ink_is_dark=True), normalize_digit(image))


def test_centre_of_mass_is_centred():
    image = np.zeros((40, 40), np.uint8)
    image[5:25, 5:8] = 255  # an L: heavy left column, light foot
    image[22:25, 5:20] = 255
    out = normalize_digit(image)
    total = out.sum()
    cy = (out.sum(axis=1) * np.arange(28)).sum() / total
    cx = (out.sum(axis=0) * np.arange(28)).sum() / total
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_specks_are_dropped():
    image = rectangle(20, 10)
    image[35, 35] = 255
    np.testing.assert_array_equal(normalize_digit(image), normalize_digit(rectangle(20, 10)))


def test_faint_strokes_beside_darker_specks_are_the_digit():
    # A pale stroke (a fifth of the way to black) with three black specks around it, as on a
    # captcha in light ink with dark noise dots: the specks must not set the ink's peak.
    faint = rectangle(20, 10, ink=200, paper=255)
    for y, x in ((2, 2), (37, 3), (36, 38)):
        faint[y, x] = 0
    np.testing.assert_array_equal(
        normalize_digit(faint), normalize_digit(rectangle(20, 10, ink=0, paper=255))
    )
    assert normalize_strip(faint)[:, 16:].max() == 0  # a narrow bar, not a spread of specks


def test_colour_and_uint16_inputs():
    gray = rectangle(20, 10, ink=0, paper=255)
    colour = np.dstack([gray] * 3)
    wide = gray.astype(np.uint16) * 257
    np.testing.assert_allclose(normalize_digit(colour), normalize_digit(gray), atol=1e-6)
    np.testing.assert_allclose(normalize_digit(wide), normalize_digit(gray), atol=1e-6)


@pytest.mark.parametrize("image", [np.zeros((30, 30), np.uint8), np.full((30, 30), 200, np.uint8)])
def test_blank_input_is_rejected(image):
    with pytest.raises(BlankImageError, match="no ink"):
        normalize_digit(image)


def test_empty_array_is_rejected():
    with pytest.raises(BlankImageError):
        normalize_digit(np.zeros((0, 5), np.uint8))


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        normalize_digit(np.zeros((4, 4, 4, 4), np.uint8))


def test_mnist_digits_stay_mnist_like(mnist_test):
    images, _ = mnist_test
    out = normalize_batch(images[:200], ink_is_dark=False)
    assert out.shape == (200, 28, 28)
    assert np.abs(out - images[:200] / 255.0).mean() < 0.08


# ---- normalize_strip: the string model's input -----------------------------------------------


def test_strip_scaled_to_32_high_and_left_aligned():
    out = normalize_strip(rectangle(10, 40, canvas=(30, 60), ink=0, paper=255))
    expected = np.zeros((32, 256), np.float32)
    expected[:, :128] = 1.0
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_very_wide_strip_is_shrunk_to_fit_and_centred_vertically():
    out = normalize_strip(rectangle(10, 1000, canvas=(20, 1010), at=(5, 5)))
    expected = np.zeros((32, 256), np.float32)
    expected[14:17, :] = 1.0  # 10 px * 256/1000 = 3 px high, (32 - 3) // 2 = 14
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_strip_polarity_and_specks_follow_the_digit_rules():
    dark = rectangle(12, 30, canvas=(40, 80), ink=0, paper=255)
    dark[35, 75] = 0  # a speck far from the strokes
    light = rectangle(12, 30, canvas=(40, 80))
    np.testing.assert_array_equal(normalize_strip(dark), normalize_strip(light))
    with pytest.raises(BlankImageError):
        normalize_strip(np.full((20, 60), 200, np.uint8))


def test_rules_along_a_cells_border_are_not_taken_for_its_paper():
    # A cell cut out of a table: dark rules along its top, bottom and left edge make up most
    # of its 2-px border; the paper is still the light level the digit is written on.
    cell = rectangle(12, 30, canvas=(40, 80), ink=20, paper=230)
    cell[:2], cell[-2:], cell[:, :2] = 40, 40, 40
    ink = ink_map(cell, ink_is_dark=True)
    assert ink[6:16, 10:35].min() == 1.0  # the stroke
    assert ink[25:35, 50:70].max() == 0.0  # the paper
    assert ink[0, 40] > 0.9  # the rule is ink (the strip path erases rules before)


def test_a_strips_faint_digits_between_bold_ones_are_kept():
    strip = np.full((40, 200), 255, np.uint8)
    strip[10:30, 10:20] = strip[10:30, 150:160] = 0  # bold
    faint = round(255 * (1 - 0.27))  # 0.27 of the bold ink's strength
    strip[10:30, 80:90] = strip[10:30, 180:190] = faint  # between the bold ones, and beyond
    out = normalize_strip(strip)
    # The crop spans the bold bars (150 px scaled by 32 / 20), not the faint one beyond ...
    assert np.flatnonzero(out.any(axis=0)).max() < 242
    # ... and keeps the faint one between them (at 70-80 px of the crop).
    assert out[:, 114:126].max() > 0.2
