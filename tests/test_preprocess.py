"""Page clean-up on small synthetic pages with known answers."""

import cv2
import numpy as np
import pytest

from formreader import synth
from formreader.preprocess import (
    MAX_PAGE_SIDE,
    CleanPage,
    binarize,
    chroma,
    clean_page,
    darker_than_lines,
    estimate_skew,
    find_boxes,
    find_lines,
    find_paper,
    flatten_illumination,
    ink_colour,
    join_dots,
    paper_corners,
    remove_lines,
    rule_run,
    rule_thickness,
    without_walls,
)


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


def test_find_paper_takes_a_sheet_with_a_black_title_bar():
    image, sheet = photographed_sheet(np.random.default_rng(0))
    cv2.fillConvexPoly(image, np.array([[200, 130], [620, 155], [617, 195], [197, 170]]), 20)
    mask = find_paper(image)  # the bar is a hole in the bright region, not a bite out of it
    assert mask is not None and mask[300, 400] == 255 and mask[160, 400] == 255
    assert paper_corners(mask) is not None


@pytest.mark.parametrize(
    ("shade", "shaded_point"),
    [
        # Across the top-left corner: the sheet's bright part has five corners.
        (np.add.outer(np.arange(600), np.arange(800)) < 500, (120, 220)),
        # Across its left side: the bright part is a quadrilateral too, but the wrong one.
        (np.broadcast_to(np.arange(800) < 300, (600, 800)), (300, 220)),
    ],
)
def test_find_paper_takes_in_the_part_of_the_sheet_in_shadow(shade, shaded_point):
    image, sheet = photographed_sheet(np.random.default_rng(0))
    inside = np.zeros_like(image)
    cv2.fillConvexPoly(inside, sheet, 255)
    image[(inside > 0) & shade] = 150
    mask = find_paper(image)
    assert mask is not None and mask[shaded_point] == 255
    assert paper_corners(mask) is not None  # the whole sheet: four corners, rectified
    outside = cv2.distanceTransform((inside == 0).astype(np.uint8), cv2.DIST_L2, 3)
    assert outside[mask > 0].max() <= 2  # at most a pixel or two of table at its edge


def test_find_paper_looks_past_a_soft_shadow_across_the_sheet():
    # Shade that fades from 130 at the sheet's left edge to full light 200 px further in:
    # Otsu's bright region has four corners, but its left side is the shadow's soft edge.
    image, sheet = photographed_sheet(np.random.default_rng(0))
    inside = np.zeros_like(image)
    cv2.fillConvexPoly(inside, sheet, 255)
    shade = np.clip((np.arange(800) - 150) / 200, 0, 1) * (235 - 130) + 130
    image[inside > 0] = np.broadcast_to(shade, image.shape)[inside > 0].astype(np.uint8)
    mask = find_paper(image)
    assert mask is not None and paper_corners(mask) is not None
    assert mask[300, 170] == 255 and mask[300, 200] == 255  # in the shade, near the edge
    overlap = np.count_nonzero((mask > 0) & (inside > 0)) / np.count_nonzero(
        (mask > 0) | (inside > 0)
    )
    assert overlap > 0.95


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


def test_clean_page_reads_a_very_large_page_shrunk_and_maps_back_to_its_pixels():
    image = np.full((5000, 3500), 240, np.uint8)  # a 600 dpi scan, say
    cv2.line(image, (2000, 3000), (2000, 3300), 20, 24)  # a 1 written with a thick pen
    page = clean_page(image)
    assert max(page.strokes.shape) == MAX_PAGE_SIDE
    ys, xs = np.nonzero(page.strokes)
    points = cv2.perspectiveTransform(
        np.stack([xs, ys], axis=1)[:, None].astype(np.float64), page.to_original
    ).reshape(-1, 2)
    assert np.all(np.abs(points[:, 0] - 2000) < 20)
    assert abs(points[:, 1].min() - 3000) < 20 and abs(points[:, 1].max() - 3300) < 20


def test_find_paper_is_none_for_scans_and_strips():
    scan = np.full((1000, 700), 240, np.uint8)
    cv2.putText(scan, "1234", (100, 500), cv2.FONT_HERSHEY_SIMPLEX, 3, 0, 8)
    assert find_paper(scan) is None  # the paper fills the frame
    strip = np.full((120, 500), 90, np.uint8)
    strip[20:100, 50:450] = 230
    assert find_paper(strip) is None  # too small to be a photographed sheet
    dark = np.full((800, 800), 60, np.uint8)
    assert find_paper(dark) is None  # no sheet at all


def test_find_boxes_marks_a_small_box_touched_by_a_digit_but_not_the_digit():
    binary = np.zeros((60, 60), np.uint8)
    box = np.zeros((40, 40), np.uint8)
    box[:2], box[-2:], box[:, :2], box[:, -2:] = 255, 255, 255, 255
    binary[10:50, 10:50] = box  # sides at rows and columns 10-11 and 48-49
    binary[25:45, 30:33] = 255  # a 1's stem ...
    binary[25:27, 12:30] = 255  # ... with a flag that touches the left wall
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    across, upright = find_boxes(labels, stats, long_run=100)
    assert across[10:12, 10:50].all() and across[48:50, 10:50].all()
    assert upright[10:50, 10:12].all() and upright[10:50, 48:50].all()
    assert not across[12:48, 12:48].any() and not upright[12:48, 12:48].any()
    strokes = remove_lines(binary, across, upright)
    expected = np.zeros_like(binary)
    expected[25:45, 30:33] = 255
    expected[25:27, 12:30] = 255
    assert (strokes[12:48, 12:48] == expected[12:48, 12:48]).all()  # the digit, whole
    # The sides are gone; only their corners (specks) and the flag's crossing remain.
    assert not strokes[10:12, 12:48].any() and not strokes[48:50, 12:48].any()
    assert not strokes[12:25, 10:12].any() and not strokes[12:48, 48:50].any()


def test_find_boxes_leaves_digits_and_long_rules_alone():
    binary = np.zeros((60, 200), np.uint8)
    binary[10:50, 10:14] = 255  # an L: a wall and a base, no second wall
    binary[46:50, 10:40] = 255
    binary[5:7, 60:196] = binary[54:56, 60:196] = 255  # a box for find_lines' long runs
    binary[5:56, 60:62] = binary[5:56, 194:196] = 255
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    across, upright = find_boxes(labels, stats, long_run=50)
    assert not across.any() and not upright.any()


def test_find_lines_takes_faint_broken_grid_lines_but_not_a_one():
    binary = np.zeros((400, 400), np.uint8)
    for start in range(0, 400, 13):  # dashes of 10 px with 3 px gaps
        binary[100:102, start : start + 10] = 255  # a rule
        binary[start : start + 10, 300:302] = 255  # a wall of squared paper
    binary[200:260, 100:104] = 255  # a handwritten 1, 60 px tall
    across, upright = find_lines(binary)
    assert across[100:102].sum() >= 0.95 * binary[100:102].sum()
    assert upright[:, 300:302].sum() >= 0.95 * binary[:, 300:302].sum() - 255 * 4
    assert not across[200:260, 100:104].any() and not upright[200:260, 100:104].any()
    strokes = remove_lines(binary, across, upright)
    assert strokes[200:260, 100:104].all()


def test_a_stroke_along_a_rule_printed_lighter_than_the_writing_is_kept():
    flat = np.full((40, 300), 240, np.uint8)
    flat[20:22] = 170  # a light blue rule (dropout colour), 2 px
    flat[19:23, 30:60] = 40  # a 7's bar written along it, 4 px thick ...
    flat[19:38, 56:60] = 40  # ... and its stem
    binary = np.where(flat < 200, np.uint8(255), np.uint8(0))
    lines = np.zeros_like(binary)
    lines[20:22] = 255
    keep = darker_than_lines(flat, binary, lines)
    expected = np.zeros_like(binary)
    expected[20:22, 30:60] = 255
    assert (keep == expected).all()
    strokes = remove_lines(binary, lines, np.zeros_like(binary), keep)
    assert strokes[19:23, 30:60].all()  # the bar, whole
    assert not strokes[20:22, :30].any() and not strokes[20:22, 60:].any()  # the rule, gone
    # A rule printed as dark as the writing (black print): nothing on it is kept.
    flat[20:22, :30] = flat[20:22, 60:] = 40
    assert not darker_than_lines(flat, binary, lines).any()


def test_the_bar_of_a_large_seven_or_four_is_not_a_rule_but_an_underline_is():
    binary = np.zeros((300, 400), np.uint8)
    cv2.line(binary, (40, 40), (115, 40), 255, 6)  # a 7, 120 px tall, its bar 75 px long
    cv2.line(binary, (115, 40), (80, 160), 255, 6)
    cv2.line(binary, (250, 40), (200, 130), 255, 6)  # a 4, 150 px tall
    cv2.line(binary, (200, 130), (290, 130), 255, 6)
    cv2.line(binary, (270, 60), (270, 190), 255, 6)
    across, _ = find_lines(binary)
    assert not across.any()
    binary[200:203, 180:300] = 255  # a short underline the 4 stands on
    binary[190:200, 268:272] = 255
    across, _ = find_lines(binary)
    assert across[200:203, 180:300].sum() >= 0.95 * binary[200:203, 180:300].sum()
    assert not across[:, :150].any()  # the 7 alone keeps its bar
    wide = np.zeros((200, 300), np.uint8)  # a 4 wider than tall (135 x 100): its bar too
    cv2.line(wide, (90, 40), (40, 110), 255, 6)
    cv2.line(wide, (40, 110), (175, 110), 255, 6)
    cv2.line(wide, (150, 40), (150, 140), 255, 6)
    across, _ = find_lines(wide)
    assert not across.any()


def test_light_ink_is_inverted_unless_a_sheet_of_paper_was_found():
    chalk = np.full((300, 400), 50, np.uint8)  # light writing on a dark board
    for y in range(20, 300, 30):
        cv2.putText(chalk, "12345 67890", (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 220, 2)
    stroke = tuple(np.argwhere(chalk > 200)[0])
    inverted = flatten_illumination(chalk)
    assert inverted[stroke] < 128 and inverted[5, 5] == 255  # dark ink on light
    # A sheet brighter than its table was found: whatever its text, its ink is dark.
    kept = flatten_illumination(chalk, light_ink=False)
    assert kept[stroke] == 255 and kept[5, 5] < 128


def test_comb_teeth_and_box_sides_are_walls_but_a_one_standing_on_a_rule_is_not():
    binary = np.zeros((300, 800), np.uint8)
    binary[100:102, 20:380] = 255  # an open comb: a base line ...
    for x in range(20, 381, 60):
        binary[80:101, x : x + 2] = 255  # ... with teeth 20 px tall
    binary[40:101, 230:232] = 255  # a 1 in a cell, 60 px tall, as thin as the teeth
    binary[250:252, 420:780] = 255  # an underline ...
    binary[190:251, 600:602] = 255  # ... with a lone 1 standing on it
    binary[150:152, 420:780] = 255  # a box's top over the underline ...
    binary[150:252, 420:422] = 255  # ... and its left side (meets a rule at both ends)
    across, upright = find_lines(binary)
    strokes = remove_lines(binary, across, upright)
    assert not strokes[82:98, 80:82].any() and not strokes[82:98, 260:262].any()  # teeth
    assert not strokes[155:248, 420:422].any()  # the box's side
    assert strokes[45:98, 230:232].all()  # the 1 among the teeth
    assert strokes[195:248, 600:602].all()  # the 1 on the underline


def test_a_cell_wall_a_digit_touches_is_still_a_wall_but_the_digit_is_not():
    binary = np.zeros((200, 800), np.uint8)
    binary[50:54, 20:420] = binary[110:114, 20:420] = 255  # a comb: top, base ...
    for x in range(20, 421, 50):
        binary[50:114, x : x + 4] = 255  # ... and cell walls, 4 px thick like the rules
    binary[75:95, 104:120] = 255  # a 0's thick left side touching the wall at x 120
    binary[60:100, 174:178] = binary[60:62, 150:178] = 255  # a 7 whose stem touches none
    across, upright = find_lines(binary)
    strokes = remove_lines(binary, across, upright)
    # The wall the 0 touches, but where the 0's strokes run across it.
    assert not strokes[58:73, 120:124].any() and not strokes[97:106, 120:124].any()
    assert strokes[77:93, 104:118].all()  # the 0
    assert strokes[62:98, 174:178].all()  # the 7's stem


def test_without_walls_paints_walls_paper_but_not_where_a_stroke_touches_them():
    flat = np.full((8, 8), 255, np.uint8)
    walls, strokes = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    walls[:, 2], flat[:, 2] = 255, 0  # a cell wall ...
    flat[:, 6] = flat[4, 3:7] = 0  # ... and a stroke whose arm touches it
    strokes[:, 6] = strokes[4, 3:7] = 255
    page = CleanPage(
        ink=255 - flat, flat=flat, strokes=strokes, lines=walls, walls=walls, to_original=np.eye(3)
    )
    read = without_walls(page)
    assert read[:, 2].tolist() == [255, 255, 255, 0, 0, 0, 255, 255]
    assert (read[:, 3:] == flat[:, 3:]).all() and (read[:, :2] == 255).all()


def test_strokes_standing_on_the_base_of_a_closed_box_are_not_comb_teeth():
    binary = np.zeros((200, 600), np.uint8)
    binary[50:52, 20:580] = binary[110:112, 20:580] = 255  # a box 60 px tall: top, base ...
    binary[50:112, 20:22] = binary[50:112, 578:580] = 255  # ... and sides
    binary[70:111, 200:202] = 255  # a 1 standing on the base ...
    binary[71:111, 260:262] = 255  # ... and a digit's stem as tall beside it, as thin as walls
    across, upright = find_lines(binary)
    strokes = remove_lines(binary, across, upright)
    assert not strokes[55:105, 20:22].any()  # the box's side
    assert strokes[72:108, 200:202].all() and strokes[73:108, 260:262].all()


def test_comb_teeth_under_the_rule_of_a_field_above_are_still_teeth():
    binary = np.zeros((300, 800), np.uint8)
    binary[150:152, 20:380] = 255  # a comb's base ...
    for x in range(20, 381, 60):
        binary[130:151, x : x + 2] = 255  # ... with teeth 20 px tall
    binary[104:106, 20:380] = 255  # the rule of the field above, 24 px over their tops
    binary[60:62, 20:780] = binary[250:252, 20:780] = 255  # more rules on the page
    across, upright = find_lines(binary)
    strokes = remove_lines(binary, across, upright)
    assert not strokes[132:148, 20:382].any()


def test_the_sides_of_a_loop_standing_on_a_boxs_base_are_not_comb_teeth():
    binary = np.zeros((200, 800), np.uint8)
    binary[52:54, 20:780] = binary[120:122, 20:780] = 255  # a box: top, base ...
    binary[52:122, 20:22] = binary[52:122, 778:780] = 255  # ... and sides
    binary[90:121, 200:202] = binary[90:121, 215:217] = 255  # a loop's sides, 30 px tall,
    binary[88:90, 200:217] = 255  # 15 px apart, 1.2 of their heights under the box's top
    across, upright = find_lines(binary)
    strokes = remove_lines(binary, across, upright)
    assert strokes[92:118, 200:202].all() and strokes[92:118, 215:217].all()


def test_rule_thickness_and_run_are_the_rules_not_a_black_header_bar():
    across = np.zeros((300, 400), np.uint8)
    for y in (100, 150, 200):
        across[y : y + 3, 20:380] = 255  # rules 3 px thick
    across[10:50, 0:400] = 255  # a header bar 40 px thick, wider than every rule
    assert rule_thickness(across) == 3.0 and rule_run(across) == 3.0
    blank = np.zeros((10, 10), np.uint8)
    assert rule_thickness(blank) == 0.0 and rule_run(blank) == 0.0


def test_a_thick_stroke_on_a_comb_is_not_a_wall_on_a_page_with_a_black_bar():
    binary = np.zeros((300, 800), np.uint8)
    binary[10:60, 0:800] = 255  # a black header bar: most of the page's rule pixels
    binary[200:202, 20:380] = 255  # a comb's base ...
    for x in range(20, 381, 60):
        binary[180:201, x : x + 2] = 255  # ... with teeth 20 px tall
    binary[180:201, 140:145] = 255  # a digit's stem 5 px thick on a tooth, as tall
    for y in (100, 130, 250):
        binary[y : y + 2, 20:780] = 255  # more rules
    across, upright = find_lines(binary)
    strokes = remove_lines(binary, across, upright)
    assert not strokes[182:198, 80:82].any()  # a tooth
    assert strokes[182:198, 140:145].all()  # the stem


def test_thick_rules_of_a_fine_scan_are_erased_but_a_stroke_across_them_is_kept():
    binary = np.zeros((200, 600), np.uint8)
    binary[100:110, 20:580] = 255  # a rule 10 px thick (a 600 dpi scan, say)
    binary[60:150, 300:306] = 255  # a 1 written across it
    across, upright = find_lines(binary)
    assert across[100:110, 20:290].all()
    strokes = remove_lines(binary, across, upright)
    assert not strokes[100:110, 20:290].any() and not strokes[100:110, 320:580].any()
    assert strokes[60:150, 300:306].all()


def test_a_marker_stroke_on_a_small_image_stays_ink_inside():
    image = np.full((170, 200), 235, np.uint8)  # one digit, cropped: its own thumbnail
    cv2.line(image, (170, 40), (175, 150), 25, 16)  # a 1 in a broad marker
    flat = flatten_illumination(image)
    assert flat[95, 172] < 60  # the stroke's middle is ink, not paper: no hollow outline
    assert flat[95, 60] > 240


def test_binarize_keeps_a_strokes_faint_end_but_not_a_faint_mark_alone():
    flat = np.full((60, 80), 250, np.uint8)
    flat[10:14, 5:30] = 60  # a stroke
    flat[10:14, 30:55] = 175  # its faint end (at Otsu's threshold here)
    flat[40:44, 20:50] = 175  # a mark as faint, touching no ink
    expected = np.zeros_like(flat)
    expected[10:14, 5:55] = 255
    np.testing.assert_array_equal(binarize(flat), expected)


def test_a_scanned_lines_faint_fringe_is_erased_with_it(mnist_path):
    """A blurred box edge binarises into specks beside its long runs; left on the page they
    hang on the digits touching the box (a '1068' in a box lost its 0 to a sliver of edge)."""
    pool = synth.DigitPool.from_npz(mnist_path, "test")
    page = synth.make_page("form", pool, np.random.default_rng([2024, 50]))
    strokes = clean_page(page.image).strokes
    _, _, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    assert (stats[1:, cv2.CC_STAT_AREA] <= 4).sum() <= 25  # 71 before, 13 with the fringe


def ink_blobs(gray: np.ndarray) -> int:
    return cv2.connectedComponents((gray < 128).astype(np.uint8))[0] - 1


def test_join_dots_joins_a_dotted_stroke_and_leaves_solid_strokes_alone():
    # An L drawn as 25 dots 6 px apart (radius 2) on a 60x200 strip, and the same L solid.
    corner = [(40, 8 + 6 * k) for k in range(8)] + [(40 + 6 * k, 50) for k in range(1, 18)]
    dotted = np.full((60, 200), 240, np.uint8)
    solid = dotted.copy()
    for x, y in corner:
        cv2.circle(dotted, (x, y), 2, 20, -1)
    cv2.polylines(solid, [np.array([(40, 8), (40, 50), (142, 50)])], False, 20, 4)
    specked = solid.copy()
    specked[5, 150], specked[55, 10] = 0, 0
    assert ink_blobs(dotted) == len(corner)
    assert ink_blobs(join_dots(dotted)) == 1
    for image in (solid, specked, cv2.cvtColor(solid, cv2.COLOR_GRAY2BGR)):
        np.testing.assert_array_equal(join_dots(image), image[..., 0] if image.ndim == 3 else image)


def test_a_shaded_crop_is_flattened_around_its_stroke_not_by_its_shade():
    # A small crop, paper shaded from 250 on the left to 160 on the right, one 12-px stroke:
    # Otsu splits the shade, whose dark half once passed for a 100-px stroke, so the paper
    # filter grew wider than the crop and the shaded half became ink (samples/single_2.png).
    crop = np.tile(np.linspace(250, 160, 300), (300, 1)).astype(np.uint8)
    crop[100:200, 200:212] = 80
    ink = binarize(flatten_illumination(crop))
    assert np.count_nonzero(ink[:, :150]) == 0 and np.count_nonzero(ink[:, 250:]) == 0
    assert np.count_nonzero(ink[100:200, 200:212]) == 100 * 12


def test_ink_colour_is_the_share_of_the_papers_light_the_ink_lets_through():
    page = np.full((40, 80, 3), (180, 220, 240), np.uint8)  # yellowish paper (BGR)
    page[10:30, 5:10] = (90, 22, 12)  # blue ballpoint: half the blue, a tenth of the green ...
    page[10:30, 50:55] = (36, 44, 48)  # black: a fifth of each
    blue, black = ink_colour(page, (0, 5, 20, 30)), ink_colour(page, (45, 5, 20, 30))
    assert np.allclose(blue, [0.5, 0.1, 0.05], atol=0.01) and chroma(blue) > 0.4
    assert np.allclose(black, [0.2, 0.2, 0.2], atol=0.01) and chroma(black) < 0.01
    assert ink_colour(page[:, :, 0], (0, 5, 20, 30)) is None  # a gray page has no colours
    assert ink_colour(page, (20, 5, 20, 30)) is None  # no ink


@pytest.mark.parametrize("angle", [-2.5, -0.7, 0.0, 1.3, 3.0])
def test_estimate_skew_finds_the_angle_of_the_rules_not_of_a_strike_through(angle):
    page = np.zeros((600, 800), np.uint8)
    for y in (150, 300, 450):
        cv2.line(page, (100, y), (700, y), 255, 2)  # three rules, 600 px long
    cv2.line(page, (200, 200), (450, 230), 255, 3)  # a shorter stroke struck across at 7 degrees
    for x in range(120, 680, 40):
        cv2.putText(page, "7", (x, 280), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 2)
    turn = cv2.getRotationMatrix2D((400, 300), angle, 1.0)
    turned = cv2.warpAffine(page, turn, (800, 600), flags=cv2.INTER_NEAREST)
    # Image rows run downwards: a page turned counterclockwise by ``angle`` has rules at -angle
    # (to within the Hough transform's step of a quarter degree).
    assert estimate_skew(turned) == pytest.approx(-angle, abs=0.2)


def test_estimate_skew_is_zero_without_rules():
    page = np.zeros((300, 400), np.uint8)
    cv2.putText(page, "12345", (20, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, 255, 6)
    assert estimate_skew(page) == 0.0
