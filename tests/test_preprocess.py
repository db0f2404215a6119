"""Page clean-up on small synthetic pages with known answers."""

import cv2
import numpy as np

from formreader.preprocess import clean_page, find_paper


def photographed_sheet(rng):
    """A light tilted sheet (with one pen stroke) on a darker grained table, 600x800."""
    table = rng.normal(90, 25, (600 // 8, 800 // 8)).clip(0, 255).astype(np.uint8)
    image = cv2.resize(table, (800, 600), interpolation=cv2.INTER_NEAREST)
    sheet = np.array([[180, 90], [640, 120], [610, 520], [150, 500]], np.int32)
    cv2.fillConvexPoly(image, sheet, 235)
    cv2.line(image, (390, 250), (390, 330), 20, 5)  # a handwritten 1 on the sheet
    for x in range(20, 140, 12):  # dark grain marks on the table, 1-like
        cv2.line(image, (x, 200), (x, 240), 10, 3)
    return image, sheet


def test_find_paper_keeps_the_sheet_and_drops_the_table():
    image, sheet = photographed_sheet(np.random.default_rng(0))
    mask = find_paper(image)
    assert mask is not None and mask.shape == image.shape and mask.dtype == np.uint8
    assert mask[300, 400] == 255 and mask[160, 300] == 255  # middle, near the top edge
    assert mask[50, 50] == 0 and mask[580, 780] == 0 and mask[220, 60] == 0  # table
    inside = np.zeros_like(image)
    cv2.fillConvexPoly(inside, sheet, 255)
    assert not np.any(mask[inside == 0])  # nothing outside the sheet


def test_clean_page_rectifies_the_sheet_and_finds_no_ink_on_the_table():
    image, sheet = photographed_sheet(np.random.default_rng(1))
    page = clean_page(image)
    # The sheet (461 x 411 px) is warped upright, its corners at the page's corners (the
    # found sheet stops a few pixels inside its edge, where the paper's shadow begins).
    assert 440 <= page.strokes.shape[1] <= 461 and 390 <= page.strokes.shape[0] <= 411
    corners = np.array([[[0, 0]], [[page.strokes.shape[1], page.strokes.shape[0]]]], np.float64)
    mapped = cv2.perspectiveTransform(corners, page.to_original).reshape(-1, 2)
    np.testing.assert_allclose(mapped, [sheet[0], sheet[2]], atol=12)
    ys, xs = np.nonzero(page.strokes)
    assert len(xs) > 0  # the 1 on the sheet
    points = cv2.perspectiveTransform(
        np.stack([xs, ys], axis=1)[:, None].astype(np.float64), page.to_original
    ).reshape(-1, 2)
    assert np.all(np.abs(points[:, 0] - 390) < 8)  # only the 1, none of the grain marks
    assert points[:, 1].min() > 240 and points[:, 1].max() < 340


def test_find_paper_is_none_for_scans_and_strips():
    scan = np.full((1000, 700), 240, np.uint8)
    cv2.putText(scan, "1234", (100, 500), cv2.FONT_HERSHEY_SIMPLEX, 3, 0, 8)
    assert find_paper(scan) is None  # the paper fills the frame
    strip = np.full((120, 500), 90, np.uint8)
    strip[20:100, 50:450] = 230
    assert find_paper(strip) is None  # too small to be a photographed sheet
    dark = np.full((800, 800), 60, np.uint8)
    assert find_paper(dark) is None  # no sheet at all
