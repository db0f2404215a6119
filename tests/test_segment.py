"""Which ink components may be digits: tiny synthetic label images with exact answers."""

import cv2
import numpy as np

from formreader.segment import (
    Atom,
    box_around,
    box_overlap,
    candidate_components,
    digit_height,
    field_crop,
    find_components,
    group_fields,
    is_frame,
    on_separate_lines,
    split_off_print,
)


def test_a_page_frame_runs_along_its_box_and_a_string_does_not():
    frame = np.zeros((40, 60), np.uint8)
    cv2.rectangle(frame, (2, 2), (57, 37), 255, 2)
    labels, boxes = find_components(frame)
    assert is_frame(labels, 1, boxes[1])

    zigzag = np.zeros((40, 60), np.uint8)  # one stroke across the box, touching each edge once
    cv2.polylines(
        zigzag, [np.array([[2, 20], [15, 2], [30, 37], [45, 2], [57, 20]])], False, 255, 2
    )
    labels, boxes = find_components(zigzag)
    assert not is_frame(labels, 1, boxes[1])


def test_a_strip_of_touching_digits_that_fills_its_image_is_a_candidate():
    strip = np.zeros((30, 90), np.uint8)
    cv2.polylines(strip, [np.array([[3, 26], [20, 3], [40, 26], [60, 3], [86, 26]])], False, 255, 3)
    labels, boxes = find_components(strip)
    assert len(boxes) == 2  # background and the one string
    assert digit_height(boxes[1:]) == boxes[1, 3]  # no digit-shaped piece: the string's height
    assert candidate_components(labels, boxes) == [1]


def test_specks_and_frames_are_not_candidates():
    page = np.zeros((60, 80), np.uint8)
    cv2.rectangle(page, (1, 1), (78, 58), 255, 2)
    page[30:32, 30:32] = 255  # a speck of 4 pixels
    cv2.line(page, (40, 15), (40, 45), 255, 3)  # a 1
    labels, boxes = find_components(page)
    assert candidate_components(labels, boxes) == [labels[30, 40]]


def test_field_crop_keeps_the_page_around_a_field_and_blanks_other_components():
    flat = np.full((6, 8), 200, np.uint8)
    flat[2, 2:4] = 10  # the field's own ink
    flat[2, 5] = 20  # a neighbour's ink
    flat[4, :] = 90  # a rule (no component: lines are not components)
    labels_img = np.zeros((6, 8), np.int32)
    labels_img[2, 2:4] = 1
    labels_img[2, 5] = 2
    atom = Atom(component=1, x0=2, x1=4, y0=2, y1=3, area=2)
    crop = field_crop(flat, labels_img, [atom], margin=2)
    assert crop.shape == (5, 6)  # rows 0..4 and columns 0..5: clipped at the page's edges
    assert crop[2, 2:4].tolist() == [10, 10]
    assert crop[2, 5] == 255
    assert crop[4].tolist() == [90] * 6
    assert crop[0, 0] == 200


def test_field_crop_keeps_ink_between_the_fields_atoms_that_is_not_theirs():
    flat = np.full((6, 12), 200, np.uint8)
    flat[2, 1:3] = flat[2, 8:10] = 10  # the field's two digits ...
    flat[2, 5] = 30  # ... a piece between them the digit path dropped ...
    flat[0, 5] = 40  # ... and print above them
    labels_img = np.zeros((6, 12), np.int32)
    labels_img[2, 1:3], labels_img[2, 8:10], labels_img[2, 5], labels_img[0, 5] = 1, 2, 3, 4
    atoms = [Atom(1, 1, 3, 2, 3, 2), Atom(2, 8, 10, 2, 3, 2)]
    crop = field_crop(flat, labels_img, atoms, margin=2)
    assert crop[2, 5] == 30  # inside the span: the string model still reads it
    assert crop[0, 5] == 255  # above the digits: blanked


def boxes_of(*rows):
    """A component table: the background row, then ``(x, y, w, h)`` per label."""
    return np.array([(0, 0, 0, 0, 0), *[(*row, row[2] * row[3]) for row in rows]], np.int64)


def test_a_digit_written_after_a_printed_label_is_split_off():
    label = [(x, 10, 10, 20) for x in (0, 12, 24, 36)]
    boxes = boxes_of(*label, (60, 0, 25, 40), (90, 2, 20, 38))
    assert split_off_print(boxes, [6, 1, 2, 3, 4, 5]) == [[1, 2, 3, 4], [5, 6]]


def test_letters_of_a_widely_spaced_label_are_not_stacked_onto_the_digits_below():
    digits = [(150, 53, 55, 75), (220, 54, 81, 79)]  # large handwriting, 15 px under ...
    label = [(190, 16, 17, 23), (227, 17, 15, 22), (262, 16, 16, 24)]  # ... a monospace word
    boxes = boxes_of(*digits, *label)
    fields = group_fields(boxes, [1, 2, 3, 4, 5])
    assert sorted(sorted(f) for f in fields) == [[1, 2], [3, 4, 5]]


def test_a_label_ending_in_brackets_is_split_off_by_its_letters_height():
    # "(R) [85]" then "80": the brackets stand 24 px, the letters 20, the handwriting 37-42.
    label = [(x, 10, 8, 20) for x in (0, 10, 20)] + [(30, 8, 5, 24), (60, 8, 5, 24)]
    boxes = boxes_of(*label, (40, 10, 8, 20), (50, 10, 8, 20), (80, 0, 30, 42), (115, 3, 30, 37))
    assert split_off_print(boxes, [1, 2, 3, 4, 5, 6, 7, 8, 9]) == [[1, 2, 3, 4, 6, 7, 5], [8, 9]]


def test_digits_with_a_dot_or_print_on_both_sides_stay_one_field():
    with_dot = boxes_of((0, 0, 25, 40), (30, 30, 6, 6), (40, 0, 25, 40))
    assert split_off_print(with_dot, [1, 2, 3]) == [[1, 2, 3]]
    both_sides = boxes_of((0, 10, 10, 20), (12, 10, 10, 20), (30, 0, 25, 40), (60, 10, 10, 20))
    assert split_off_print(both_sides, [1, 2, 3, 4]) == [[1, 2, 3, 4]]
    all_tall = boxes_of((0, 0, 25, 40), (30, 0, 25, 41), (60, 0, 25, 39))
    assert split_off_print(all_tall, [1, 2, 3]) == [[1, 2, 3]]


def test_a_fives_cap_joins_its_digit_but_a_printed_word_above_a_digit_does_not():
    body, cap = (100, 50, 30, 50), (105, 38, 25, 8)
    boxes = boxes_of(body, cap)
    assert [sorted(f) for f in group_fields(boxes, [1, 2])] == [[1, 2]]
    word = [(95, 21, 12, 19), (110, 20, 12, 20), (125, 22, 12, 18)]  # bottoms on one line
    boxes = boxes_of(*word, (100, 45, 30, 50))
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3, 4])] == [[1, 2, 3], [4]]


def test_a_fragment_between_two_numbers_does_not_bridge_the_gap():
    # Digits 36 px tall; a fragment 18 px tall after the first number; the next number 53 px
    # (1.47 heights) after the first number's last digit, 45 px (1.25) after the fragment.
    first = [(0, 10, 30, 36), (35, 10, 30, 36)]
    boxes = boxes_of(*first, (70, 20, 3, 18), (118, 10, 30, 36), (153, 10, 30, 36))
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3, 4, 5])] == [[1, 2, 3], [4, 5]]
    # Without it, as close: one number.
    boxes = boxes_of(*first, (110, 10, 30, 36), (145, 10, 30, 36))
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3, 4])] == [[1, 2, 3, 4]]


def test_print_above_a_box_is_not_stacked_onto_the_digit_inside_it():
    digit, above = (100, 50, 30, 50), (104, 38, 22, 9)  # close enough to be a 5's cap
    boxes = boxes_of(digit, above)
    lines = np.zeros((120, 200), np.uint8)
    assert [sorted(f) for f in group_fields(boxes, [1, 2], lines)] == [[1, 2]]
    lines[47:49, 60:180] = 255  # the box's top runs between them
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2], lines)) == [[1], [2]]


def test_a_boxs_side_parts_a_label_from_the_digits_in_the_box_but_not_comb_cells():
    label, digits = (20, 60, 30, 30), [(70, 55, 30, 40), (110, 55, 30, 40)]
    boxes = boxes_of(label, *digits)
    lines = np.zeros((160, 200), np.uint8)
    lines[45:47, 60:150] = 255  # the box's top and bottom
    lines[104:106, 60:150] = 255
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)] == [[1, 2, 3]]
    lines[45:106, 60:62] = 255  # its left side, between the label and the first digit
    lines[45:106, 104:106] = 255  # a comb wall between the digits
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)] == [[1], [2, 3]]
    lines[45:47, 0:60] = 255  # the label is boxed too: a table row, no side to part them
    lines[104:106, 0:60] = 255
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)] == [[1, 2, 3]]


def test_a_one_digit_box_beside_a_comb_is_a_field_of_its_own():
    comb, box = [(20, 55, 30, 40), (60, 55, 30, 40)], (130, 55, 30, 40)  # 40 px: one height
    boxes = boxes_of(*comb, box)
    lines = np.zeros((160, 220), np.uint8)
    for y in (45, 104):  # the comb's top and base, and the box's, with a gap between
        lines[y : y + 2, 10:100] = 255
        lines[y : y + 2, 115:170] = 255
    for x in (10, 55, 98, 115, 168):  # the comb's walls and the box's sides
        lines[45:106, x : x + 2] = 255
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)) == [[1, 2], [3]]
    lines[45:47, 100:115] = 255  # the rules run on: the box is the comb's next cell
    lines[104:106, 100:115] = 255
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)] == [[1, 2, 3]]


def test_a_box_beside_a_comb_without_a_top_rule_is_a_field_of_its_own():
    comb, box = [(20, 55, 30, 40), (60, 55, 30, 40)], (112, 55, 30, 40)  # 22 px apart
    boxes = boxes_of(*comb, box)
    lines = np.zeros((160, 200), np.uint8)
    lines[104:106, 10:100] = 255  # the comb's base: no rule above its cells
    for x in (10, 55, 98):  # its walls
        lines[45:106, x : x + 2] = 255
    for y in (45, 104):  # the box's top and base, not running on from the comb's
        lines[y : y + 2, 104:160] = 255
    for x in (104, 158):
        lines[45:106, x : x + 2] = 255
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)) == [[1, 2], [3]]
    lines[104:106, 100:104] = 255  # the comb's base runs on into the box's: one comb
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)] == [[1, 2, 3]]
    lines[104:106, 100:104] = 0
    close = boxes_of(*comb, (100, 55, 30, 40))  # 10 px: a quarter of a height, as letters
    assert [sorted(f) for f in group_fields(close, [1, 2, 3], lines)] == [[1, 2, 3]]


def test_a_small_digit_in_the_next_comb_cell_stays_in_the_field_but_not_past_an_empty_cell():
    # Cells 60 px wide; a small last digit at its cell's right, 55 px = 1.4 heights on.
    digits = [(110, 50, 25, 40), (190, 60, 20, 25)]
    boxes = boxes_of(*digits)
    lines = np.zeros((140, 360), np.uint8)
    for y in (40, 94):  # the comb's top and base
        lines[y : y + 2, 100:342] = 255
    for x in (100, 160, 220, 280, 340):  # its walls
        lines[40:96, x : x + 2] = 255
    assert [sorted(f) for f in group_fields(boxes, [1, 2], lines)] == [[1, 2]]
    past = boxes_of(digits[0], (250, 60, 20, 25))  # an empty cell (two walls) between
    assert sorted(sorted(f) for f in group_fields(past, [1, 2], lines)) == [[1], [2]]
    free = lines.copy()
    free[40:42] = 0  # no top rule: a base with ticks, not a comb
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2], free)) == [[1], [2]]


def test_digits_on_one_writing_line_stay_one_field_across_a_wide_space_but_not_a_wall():
    digits = [(20, 50, 30, 40), (60, 50, 30, 40), (170, 50, 30, 40)]  # 80 px = 2 heights apart
    boxes = boxes_of(*digits)
    lines = np.zeros((140, 240), np.uint8)
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)) == [[1, 2], [3]]
    lines[94:96, 10:210] = 255  # one line under all three
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)] == [[1, 2, 3]]
    lines[40:96, 130:132] = 255  # a table cell's wall in the space: two cells
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3], lines)) == [[1, 2], [3]]
    lines[40:96, 130:132] = 0
    far = boxes_of(*digits[:2], (250, 50, 30, 40))  # 160 px = 4 heights: another field
    lines = np.zeros((140, 300), np.uint8)
    lines[94:96, 10:290] = 255
    assert sorted(sorted(f) for f in group_fields(far, [1, 2, 3], lines)) == [[1, 2], [3]]


def test_digits_beside_a_line_of_print_join_the_row_they_overlap_most():
    # Print far to the right (seed 7's form 12): a 15 px word and a row of 10 px letters
    # whose mean band drifts as they join; each digit overlaps both. The digits went to
    # different rows, each to the first that overlapped it enough, and were read as two
    # fields interleaved ('69347' as '693' and '9347').
    print_ = [
        (896, 966, 5, 15),
        (966, 971, 5, 10),
        (972, 971, 5, 10),
        (978, 966, 22, 15),
        (1002, 971, 5, 10),
    ]
    digits = [(273, 968, 23, 29), (333, 965, 19, 31)]
    boxes = boxes_of(*print_, *digits)
    fields = group_fields(boxes, list(range(1, 8)))
    assert [6, 7] in [sorted(f) for f in fields]


def test_digits_whose_tops_reach_into_a_line_of_print_stay_one_row():
    # Print to the left whose band ends 7 px below the first digit's top; the second digit
    # sits lower and does not reach it.
    letters = [(x, 985, 10, 14) for x in range(0, 280, 14)]
    digits = [(300, 992, 26, 42), (334, 1000, 20, 36), (360, 999, 24, 39)]
    boxes = boxes_of(*letters, *digits)
    fields = group_fields(boxes, list(range(1, 24)))
    assert [21, 22, 23] in [sorted(f) for f in fields]


def test_digits_of_one_number_parted_into_two_rows_are_one_field_again():
    # A label's row takes the comb's higher digits (A, C), the lower one (B) starts a row of
    # its own: two fields reaching into one another (seed 13's form 13: '58404' and '4049').
    letters = [(x, 10, 12, 20) for x in range(0, 100, 20)]
    a, b, c = (200, 12, 25, 40), (230, 24, 25, 40), (260, 12, 25, 40)
    boxes = boxes_of(*letters, a, b, c)
    fields = group_fields(boxes, list(range(1, 9)))
    assert sorted(sorted(f) for f in fields) == [[1, 2, 3, 4, 5], [6, 7, 8]]
    # A ruled line between them keeps them apart: rows of a table.
    lines = np.zeros((100, 300), np.uint8)
    lines[38:40, 190:290] = 255
    fields = group_fields(boxes, list(range(1, 9)), lines)
    assert sorted(sorted(f) for f in fields) == [[1, 2, 3, 4, 5], [6, 8], [7]]


def test_a_digit_broken_into_two_pieces_of_like_height_is_one_field():
    # Seed 7's form 8: a 3 in a box broken into its top and its bowl, 32 and 30 px tall, one
    # over the other by 7 px: too alike to stack, in two rows, read as '2' and '2'.
    boxes = boxes_of((451, 1190, 43, 32), (450, 1215, 57, 30))
    assert [sorted(f) for f in group_fields(boxes, [1, 2])] == [[1, 2]]


def test_fields_on_two_underlines_are_on_separate_lines_but_not_in_one_comb():
    lines = np.zeros((200, 600), np.uint8)
    lines[100:102, 20:200] = 255  # an underline ...
    lines[100:102, 260:580] = 255  # ... and the next one, after a gap
    left, right = (40, 60, 120, 38), (280, 60, 200, 38)
    assert on_separate_lines(lines, left, right)
    lines[100:102, 200:260] = 255  # one writing line under both
    assert not on_separate_lines(lines, left, right)
    for x in range(20, 581, 40):
        lines[60:102, x : x + 2] = 255  # comb walls on it: still one comb
    assert not on_separate_lines(lines, left, right)
    assert not on_separate_lines(None, left, right)


def test_numbers_on_two_writing_lines_at_different_heights_are_two_fields():
    # Digits in a comb, then digits on an underline beside it, 20 px lower (half a height),
    # only 30 px to the right: one row, close enough to be one field.
    comb = [(20, 50, 30, 40), (60, 50, 30, 40)]
    underlined = [(120, 70, 30, 40), (160, 70, 30, 40)]
    boxes = boxes_of(*comb, *underlined)
    lines = np.zeros((200, 240), np.uint8)
    lines[93:95, 10:100] = 255  # the comb's base
    lines[113:115, 110:220] = 255  # the underline
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3, 4], lines)) == [
        [1, 2],
        [3, 4],
    ]
    # One underline broken between two digits (a photo) is still one writing line.
    lines[113:115, 110:220] = 0
    lines[93:95, 110:220] = 255
    level = boxes_of(*comb, *[(x, 50, w, h) for x, _, w, h in underlined])
    assert [sorted(f) for f in group_fields(level, [1, 2, 3, 4], lines)] == [[1, 2, 3, 4]]


def test_two_combs_side_by_side_on_one_baseline_are_two_fields():
    # Two combs with bases only, their digits 30 px (three quarters of a height) apart, the
    # first comb's base ending 14 px (a third of a height) before the second's begins.
    digits = [(20, 50, 30, 40), (60, 50, 30, 40), (120, 50, 30, 40), (160, 50, 30, 40)]
    boxes = boxes_of(*digits)
    lines = np.zeros((200, 240), np.uint8)
    lines[93:95, 10:100] = 255
    lines[93:95, 114:220] = 255
    for x in (10, 55, 98, 114, 155, 218):  # the teeth
        lines[80:95, x : x + 2] = 255
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3, 4], lines)) == [
        [1, 2],
        [3, 4],
    ]
    # A dotted line found as short pieces of rule under each digit is one writing line.
    dotted = np.zeros_like(lines)
    for x0 in (28, 68, 128, 168):
        dotted[93:95, x0 : x0 + 14] = 255
    assert [sorted(f) for f in group_fields(boxes, [1, 2, 3, 4], dotted)] == [[1, 2, 3, 4]]


def test_two_boxes_at_different_heights_above_a_long_rule_are_two_fields():
    # A box, and 20 px lower a second one, 30 px to its right (a photo of two boxed fields);
    # a rule runs under both and across the gap further down (the next row's top).
    digits = [(20, 50, 30, 40), (60, 50, 30, 40), (130, 70, 30, 40), (170, 70, 30, 40)]
    boxes = boxes_of(*digits)
    lines = np.zeros((200, 260), np.uint8)
    for x0, x1, top in ((10, 100, 40), (120, 210, 60)):
        lines[top : top + 2, x0:x1] = 255
        lines[top + 60 : top + 62, x0:x1] = 255
        lines[top : top + 62, x0 : x0 + 2] = 255
        lines[top : top + 62, x1 - 2 : x1] = 255
    lines[140:142, 0:260] = 255
    assert sorted(sorted(f) for f in group_fields(boxes, [1, 2, 3, 4], lines)) == [
        [1, 2],
        [3, 4],
    ]


def test_box_around_and_box_overlap_of_two_boxes():
    a, b = (0, 0, 10, 4), (6, 2, 10, 10)
    assert box_around([a, b]) == (0, 0, 16, 12)
    assert box_overlap(a, b) == (4, 2) == box_overlap(b, a)
    assert box_overlap(a, (13, 0, 2, 2)) == (-3, 2)  # 3 px apart across
