"""Find digit candidates on a clean page: components, fields in reading order, cut hypotheses.

A field is a row of ink components. Each component wider than a digit is cut at columns where
little ink crosses (over-segmentation); the pieces are *atoms*. A *segment* is a run of
consecutive atoms that might be one digit: merging covers broken digits (a 5's cap), cutting
covers touching ones. The pipeline classifies every segment and keeps the best sequence.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np

#: Components smaller than this many pixels are specks.
MIN_AREA = 12
#: A side of a component's box that it covers this much of is a frame's side.
FRAME_SIDE = 0.6
#: Components less tall than this share of the page's digit height are not handwritten digits.
MIN_RELATIVE_HEIGHT = 0.45
#: A gap wider than this many digit heights starts a new field.
FIELD_GAP = 1.3
#: ... or this many when one ruled line runs under both sides and across the gap.
UNDERLINED_GAP = 3.0
#: Fields that overlap across and up and down by these shares of the smaller one's height,
#: at most this many times as tall as one another, are one field (``_interleaved_joined``).
INTERLEAVED, INTERLEAVED_UPRIGHT, INTERLEAVED_HEIGHTS = 0.5, 0.2, 2.0
#: An item less tall and wide than these shares of its field's tallest so far (a speck, a
#: sliver of a rule, a comma) joins the field but does not carry it on: the gap to the next
#: is measured without it.
BRIDGE_HEIGHT, BRIDGE_WIDTH = 0.6, 0.2
#: Handwriting beside a label is at least this many times as tall as the label's letters.
RUN_OVER_LABEL = 1.6
#: ... and at least this many times as tall as the label's tallest mark (a bracket, say).
LABEL_STEP = 1.3
#: Pieces less than this many (larger) heights apart vertically are one broken digit.
STACK_GAP = 0.25
#: Ruled lines at most this many heights (the taller of two neighbours) above and below a
#: piece make it boxed.
BOX_REACH = 1.0
#: A box beside a comb with a base only (or an underline) is a field of its own when this many
#: heights or more away (letters of large print, their stems taken for rules, stand closer).
BOX_APART = 0.3
#: Rules under two neighbouring pieces this far apart in height (share of the taller piece)
#: are two writing lines, and part two fields.
LINE_STEP = 0.25
#: ... or when the rules under them end this many heights (the taller piece's) apart: two
#: combs or underlines side by side (a photographed rule broken at a tooth breaks for less).
LINE_BREAK = 0.3
#: Pieces of about one height on one baseline, at most this many heights apart, are letters
#: of a printed word when there are at least this many of them in a run (a monospace label's
#: letters stand 0.9 of their height apart: at 0.8 they were stacked onto the digits below).
WORD_GAP, WORD_LETTERS = 1.0, 2
#: A segment wider than this many digit heights is not one digit.
MAX_SEGMENT_WIDTH = 1.4
#: Components wider than this many digit heights are cut into atoms.
CUT_ABOVE_WIDTH = 0.75
#: Candidate cuts are at least this many digit heights apart.
MIN_CUT_SPACING = 0.22


@dataclass
class Atom:
    """Part of one component between two cut columns (page coordinates, end exclusive)."""

    component: int
    x0: int
    x1: int
    y0: int
    y1: int
    area: int


@dataclass
class Field:
    """A row of atoms (sorted left to right) that should read as one number."""

    atoms: list[Atom]
    height: float
    segments: list[tuple[int, int]] = field(default_factory=list)

    @property
    def box(self) -> tuple[int, int, int, int]:
        x0 = min(a.x0 for a in self.atoms)
        y0 = min(a.y0 for a in self.atoms)
        x1 = max(a.x1 for a in self.atoms)
        y1 = max(a.y1 for a in self.atoms)
        return x0, y0, x1 - x0, y1 - y0


def find_components(strokes: np.ndarray):
    """Label the ink; return ``(labels, boxes)`` with boxes ``(x, y, w, h, area)`` per label."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    return labels, stats[:, :5].astype(np.int64)


def digit_height(boxes: np.ndarray) -> float:
    """The height of the page's characters: a high quantile of the heights of digit-shaped
    components (not specks, not long thin pieces of rules or table grain). On a form most of
    them are print, which may be many times smaller than the handwriting."""
    width, height, area = boxes[:, 2], boxes[:, 3], boxes[:, 4]
    shaped = (area >= MIN_AREA) & (width <= 1.5 * height) & (height >= 8)
    heights = height[shaped]
    if heights.size == 0:  # a strip whose digits all touch: the strings' own height
        heights = height[(area >= MIN_AREA) & (height >= 8) & (width <= 8 * height)]
    if heights.size == 0:
        return 0.0
    return float(np.percentile(heights, 80))


def is_frame(labels: np.ndarray, label: int, box) -> bool:
    """Whether component ``label`` runs along at least three sides of its box, like a page
    frame or a scanner's dark border (a string of touching digits only dots its box edges)."""
    x, y, w, h = box[:4]
    mask = labels[y : y + h, x : x + w] == label
    band = max(2, min(w, h) // 20)
    sides = (
        mask[:band].any(axis=0),
        mask[-band:].any(axis=0),
        mask[:, :band].any(axis=1),
        mask[:, -band:].any(axis=1),
    )
    return sum(float(side.mean()) >= FRAME_SIDE for side in sides) >= 3


def candidate_components(labels: np.ndarray, boxes: np.ndarray) -> list[int]:
    """Labels of components that may be (parts of) handwritten digits."""
    height = digit_height(boxes[1:])
    page_height, page_width = labels.shape
    keep = []
    for label in range(1, len(boxes)):
        x, y, w, h, area = boxes[label]
        if area < MIN_AREA:
            continue  # specks
        if h > 0.8 * page_height and w > 0.8 * page_width and is_frame(labels, label, boxes[label]):
            continue  # page frames
        if h < MIN_RELATIVE_HEIGHT * height and w < MIN_RELATIVE_HEIGHT * height:
            continue
        if w > 8 * h or h > 25 * max(w, 1):
            continue  # rule fragments
        keep.append(label)
    return keep


def _rows(items: list[tuple[int, int, int, int]]) -> list[list[int]]:
    """Group boxes ``(x, y, w, h)`` into rows by vertical overlap, rows top to bottom.

    A row's band is the mean top and bottom of its members, so one tall box does not pull
    the rows above and below into it. A box joins the row it overlaps most, when by more than
    0.4 of the taller of the two: a digit whose top reaches into a line of small print does
    not join it, and digits side by side that overlap two rows go to the same one.
    """
    order = sorted(range(len(items)), key=lambda i: items[i][1] + items[i][3] / 2)
    rows: list[list[int]] = []
    bands: list[list[float]] = []  # sum of tops, sum of bottoms
    for i in order:
        _, y, _, h = items[i]
        best, best_share = None, 0.4
        for r, (row, band) in enumerate(zip(rows, bands, strict=True)):
            top, bottom = band[0] / len(row), band[1] / len(row)
            share = (min(bottom, y + h) - max(top, y)) / max(h, bottom - top)
            if share > best_share:
                best, best_share = r, share
        if best is None:
            rows.append([i])
            bands.append([float(y), float(y + h)])
        else:
            rows[best].append(i)
            bands[best][0] += y
            bands[best][1] += y + h
    order_rows = sorted(range(len(rows)), key=lambda r: bands[r][0] / len(rows[r]))
    return [rows[r] for r in order_rows]


class _Union:
    """Union-find over ``n`` items."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.root(i)] = self.root(j)

    def groups(self) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            groups.setdefault(self.root(i), []).append(i)
        return list(groups.values())


def _letters(items: list[tuple[int, int, int, int]]) -> set[int]:
    """Pieces that stand in a run of at least :data:`WORD_LETTERS` pieces of about one
    height, on one baseline, close side by side: the letters of a printed word."""
    union = _Union(len(items))
    order = sorted(range(len(items)), key=lambda i: items[i][0])
    for k, i in enumerate(order):
        xi, yi, wi, hi = items[i]
        for j in order[k + 1 :]:
            xj, yj, wj, hj = items[j]
            tall = max(hi, hj)
            if xj - (xi + wi) > WORD_GAP * tall:
                break
            if abs(hi - hj) <= 0.3 * tall and abs(yi + hi - yj - hj) <= 0.2 * tall:
                union.join(i, j)
    return {i for group in union.groups() if len(group) >= WORD_LETTERS for i in group}


def _ruled_between(lines, a, b) -> bool:
    """Whether a ruled line runs between boxes ``a`` and ``b`` (one above the other), across
    the columns they share."""
    if lines is None:
        return False
    (xa, ya, wa, ha), (xb, yb, wb, hb) = sorted((a, b), key=lambda box: box[1])
    x0, x1 = max(xa, xb), min(xa + wa, xb + wb)
    y0, y1 = ya + ha // 2, yb + hb // 2
    if x1 <= x0 or y1 <= y0:
        return False
    band = lines[y0:y1, x0:x1] > 0
    return bool((band.mean(axis=1) >= 0.9).any())


def _rules_across(lines, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows (page coordinates) among ``y0:y1`` through which a horizontal ruled line
    (slanted or broken too) runs across columns ``x0:x1`` of ``lines``."""
    band = lines[max(0, y0) : max(0, y1), x0:x1]
    if not band.size:
        return np.zeros(0, np.int64)
    band = cv2.dilate(band, np.ones((5, 1), np.uint8)) > 0  # a slanted or broken rule
    return max(0, y0) + np.flatnonzero(band.mean(axis=1) >= 0.9)


def _rule_across(lines, y0: int, y1: int, x0: int, x1: int) -> bool:
    """Whether a horizontal ruled line runs through rows ``y0:y1`` across columns ``x0:x1``."""
    return _rules_across(lines, y0, y1, x0, x1).size > 0


def _ruling(lines, box, height: int) -> int:
    """How many of the two sides of ``box`` (``x, y, w, h``), above and below its middle,
    have a ruled line within :data:`BOX_REACH` ``height``: 2 when it is written in a box or
    comb cell, 0 when it stands free of rules (a printed label)."""
    x, y, w, h = box
    x0, x1 = x + w // 4, x + w - w // 4
    if x1 <= x0:
        return 1
    reach = round(BOX_REACH * height)
    above = _rule_across(lines, y - reach, y + h // 2, x0, x1)
    return above + _rule_across(lines, y + h // 2, y + h + reach, x0, x1)


def _wall_columns(lines, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Which of columns ``x0:x1`` an upright ruled line runs down through rows ``y0:y1``."""
    band = lines[y0:y1, x0:x1] > 0
    if not band.size:
        return np.zeros(band.shape[1], bool)
    return band.mean(axis=0) >= 0.9


def upright_rule(lines, x0: int, y0: int, x1: int, y1: int) -> bool:
    """Whether an upright ruled line (``lines``: the page's mask of rules, or ``None``) runs
    through rows ``y0:y1`` somewhere in columns ``x0:x1``: a box's side or a cell wall."""
    return lines is not None and bool(_wall_columns(lines, x0, y0, x1, y1).any())


def _box_side_between(lines, a, b) -> bool:
    """Whether the side of a box parts boxes ``a`` and ``b`` (``a`` left of ``b``): an
    upright ruled line runs between them, across the rows they share, and one of them is
    written in the box (rules above and below) while the other stands free of rules -- or
    each is written in a box or comb of its own: no ruled line runs from one across the gap
    to the other (a one-digit box beside a comb; a comb's empty cell has its rules), and
    unless both are boxed they stand :data:`BOX_APART` apart (a comb with a base only)."""
    if lines is None:
        return False
    (xa, ya, wa, ha), (xb, yb, _, hb) = a, b
    x0, x1 = xa + wa // 2, xb + 1
    y0, y1 = max(ya, yb), min(ya + ha, yb + hb)
    if x1 <= x0 or y1 <= y0:
        return False
    if not upright_rule(lines, x0, y0, x1, y1):
        return False
    height = max(ha, hb)
    rulings = {_ruling(lines, a, height), _ruling(lines, b, height)}
    if rulings == {0, 2}:
        return True
    reach = round(BOX_REACH * height)
    top, bottom = min(ya, yb) - reach, max(ya + ha, yb + hb) + reach
    apart = xb - (xa + wa) > (0 if rulings == {2} else BOX_APART * height)
    return rulings in ({2}, {1, 2}) and apart and not _rule_across(lines, top, bottom, xa + wa, xb)


def _underlined_gap(lines, a, b) -> bool:
    """Whether one ruled line runs under boxes ``a`` and ``b`` (``a`` left of ``b``) and across
    the gap between them, with no upright rule in the gap: digits on one writing line or comb
    with an empty cell or a wide space among them."""
    if lines is None:
        return False
    (xa, ya, wa, ha), (xb, yb, _, hb) = a, b
    x0, x1 = xa + wa, xb
    height = max(ha, hb)
    bottom = max(ya + ha, yb + hb)
    if x1 <= x0:
        return False
    if upright_rule(lines, x0, max(ya, yb), x1, min(ya + ha, yb + hb)):
        return False  # a box side: separate boxes
    return _rule_across(lines, bottom - height // 4, bottom + round(BOX_REACH * height), x0, x1)


def _neighbour_cells(lines, a, b) -> bool:
    """Whether boxes ``a`` and ``b`` (``a`` left of ``b``) are written in neighbouring cells
    of one comb: each in a cell (rules above and below), those rules running across the gap,
    and one wall in it (digits written small in wide cells stand far apart)."""
    if lines is None:
        return False
    (xa, ya, wa, ha), (xb, yb, _, hb) = a, b
    x0, x1 = xa + wa, xb
    y0, y1 = max(ya, yb), min(ya + ha, yb + hb)
    if x1 <= x0 or y1 <= y0:
        return False
    height = max(ha, hb)
    if _ruling(lines, a, height) < 2 or _ruling(lines, b, height) < 2:
        return False
    reach = round(BOX_REACH * height)
    top, bottom = min(ya, yb), max(ya + ha, yb + hb)
    if not (
        _rule_across(lines, top - reach, top + height // 2, x0, x1)
        and _rule_across(lines, bottom - height // 2, bottom + reach, x0, x1)
    ):
        return False
    walls = _wall_columns(lines, x0, y0, x1, y1).astype(np.int8)
    return int(np.count_nonzero(np.diff(walls, prepend=0) == 1)) == 1


def _rules_under(lines, box) -> np.ndarray:
    """Rows of the ruled line under the middle half of ``box`` (``x, y, w, h``), within
    :data:`BOX_REACH` of its height below it (empty when there is none)."""
    x, y, w, h = box
    return _rules_across(
        lines, y + h - h // 4, y + h + round(BOX_REACH * h), x + w // 4, x + w - w // 4
    )


def _separate_rules(lines, a, b) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows of the nearest rule under each of boxes ``a`` and ``b`` (``a`` left of ``b``,
    in one row) when neither runs on across the gap between them, else ``None``."""
    if lines is None or b[0] <= a[0] + a[2]:
        return None
    under_a = _rules_under(lines, a)
    under_b = _rules_under(lines, b) if under_a.size else under_a
    if not under_b.size:
        return None
    # The nearest rule under each, and whether it runs on across the gap's middle half (a
    # photographed rule may break where it meets a digit).
    nearest = [
        np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)[0] for rows in (under_a, under_b)
    ]
    quarter = (b[0] - a[0] - a[2]) // 4
    x0, x1 = a[0] + a[2] + quarter, b[0] - quarter
    if any(_rule_across(lines, rows[0] - 2, rows[-1] + 3, x0, x1) for rows in nearest):
        return None
    return nearest[0], nearest[1]


def on_separate_lines(lines, a, b) -> bool:
    """Whether boxes ``a`` and ``b`` (``a`` left of ``b``, in one row) are written each on
    its own writing line: a rule runs under each, and none across the gap between them."""
    return _separate_rules(lines, a, b) is not None


def _rules_end_apart(lines, a, b, rules: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether the rules under boxes ``a`` and ``b`` (``a`` left of ``b``; ``rules``: their
    rows) each run solidly under the near half of its box and end more than
    :data:`LINE_BREAK` of the taller box's height apart: two combs or underlines side by
    side, not a dotted line read as pieces of rule."""
    rows = np.concatenate(rules)
    x0, x1 = a[0] + a[2] // 2, b[0] + b[2] // 2
    band = lines[max(0, int(rows.min()) - 2) : int(rows.max()) + 3, x0:x1] > 0
    ruled = band.any(axis=0)
    near_a, near_b = ruled[: a[0] + a[2] - x0], ruled[b[0] - x0 :]
    if not near_a.size or not near_b.size or min(near_a.mean(), near_b.mean()) < 0.9:
        return False
    free = np.diff(np.concatenate([[0], ~ruled, [0]]).astype(np.int8))
    widest = (np.flatnonzero(free == -1) - np.flatnonzero(free == 1)).max(initial=0)
    return bool(widest > LINE_BREAK * max(a[3], b[3]))


def on_two_lines(lines, a, b) -> bool:
    """Whether boxes ``a`` and ``b`` (``a`` left of ``b``, in one row) stand on two writing
    lines: :func:`on_separate_lines`, and the rules under them lie more than
    :data:`LINE_STEP` of the taller box's height apart (a comb's base and an underline
    beside it) or end more than :data:`LINE_BREAK` of it apart (two combs side by side); a
    photographed underline broken between two digits stays one line."""
    rules = _separate_rules(lines, a, b)
    if rules is None:
        return False
    step = np.median(rules[0]) - np.median(rules[1])
    return bool(abs(step) > LINE_STEP * max(a[3], b[3]) or _rules_end_apart(lines, a, b, rules))


def _stacked_groups(items: list[tuple[int, int, int, int]], lines=None) -> list[list[int]]:
    """Join pieces stacked above one another (a 5's cap, a broken 4) with their digit; not
    the letters of a printed word written just above or below a digit, nor pieces a ruled
    line runs between (``lines``: the page's mask of rules, if known)."""
    union = _Union(len(items))
    letters = _letters(items)
    order = sorted(range(len(items)), key=lambda i: items[i][0])
    for k, i in enumerate(order):
        xi, yi, wi, hi = items[i]
        for j in order[k + 1 :]:
            xj, yj, wj, hj = items[j]
            if xj >= xi + wi:
                break
            overlap = min(xi + wi, xj + wj) - max(xi, xj)
            gap = max(yi, yj) - min(yi + hi, yj + hj)
            small, large = sorted((hi, hj))
            if (i if hi < hj else j) in letters:
                continue
            stacked = overlap >= 0.5 * min(wi, wj) and gap <= STACK_GAP * large
            if stacked and small <= 0.7 * large and not _ruled_between(lines, items[i], items[j]):
                union.join(i, j)
    return union.groups()


def group_fields(boxes: np.ndarray, labels: list[int], lines=None) -> list[list[int]]:
    """Split the candidate components into fields (lists of labels), in reading order.

    ``lines`` (the page's mask of ruled lines) keeps print above a box's top from being
    stacked onto a digit inside it."""
    pieces = [tuple(int(v) for v in boxes[label][:4]) for label in labels]
    groups = _stacked_groups(pieces, lines)
    items = [box_around([pieces[i] for i in group]) for group in groups]
    fields: list[list[int]] = []
    for row in _rows(items):
        row.sort(key=lambda i: items[i][0])
        current = [row[0]]
        right, right_height = items[row[0]][0] + items[row[0]][2], items[row[0]][3]
        tallest = right_height  # of the current field
        for previous, i in itertools.pairwise(row):
            x, _, w, h = items[i]
            # The gap is judged against the taller neighbour: wide for big handwriting,
            # narrow between small printed words; wider along one writing line or comb (an
            # empty cell). A box's side parts what is in it from what is not (a label), and
            # two writing lines at different heights the numbers on each (a comb beside an
            # underline).
            gap = (x - right) / max(h, right_height)
            underlined = gap <= UNDERLINED_GAP and (
                _underlined_gap(lines, items[previous], items[i])
                or _neighbour_cells(lines, items[previous], items[i])
            )
            if (
                (gap > FIELD_GAP and not underlined)
                or _box_side_between(lines, items[previous], items[i])
                or on_two_lines(lines, items[previous], items[i])
            ):
                fields.append(current)
                current, tallest = [], 0
            elif max(w / BRIDGE_WIDTH, h / BRIDGE_HEIGHT) < tallest:
                # A speck or a sliver between two numbers does not bridge the gap.
                current.append(i)
                continue
            current.append(i)
            tallest = max(tallest, h)
            if x + w >= right:
                right, right_height = x + w, h
        fields.append(current)
    fields = _interleaved_joined(fields, items, lines)
    return [[labels[p] for i in f for p in groups[i]] for f in fields]


def box_around(boxes) -> tuple[int, int, int, int]:
    """The box ``(x, y, w, h)`` around ``(x, y, w, h)`` boxes."""
    x0 = min(x for x, _, _, _ in boxes)
    y0 = min(y for _, y, _, _ in boxes)
    x1 = max(x + w for x, _, w, _ in boxes)
    y1 = max(y + h for _, y, _, h in boxes)
    return x0, y0, x1 - x0, y1 - y0


def box_overlap(a, b) -> tuple[int, int]:
    """How far boxes ``a`` and ``b`` (``x, y, w, h``) overlap across and up and down (px;
    negative: the gap between them)."""
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return min(ax + aw, bx + bw) - max(ax, bx), min(ay + ah, by + bh) - max(ay, by)


def _interleaved_joined(fields: list[list[int]], items, lines=None) -> list[list[int]]:
    """Join fields (lists of indices into ``items``) that reach into one another, across by
    :data:`INTERLEAVED` and up and down by :data:`INTERLEAVED_UPRIGHT` of the smaller one's
    height, that are at most :data:`INTERLEAVED_HEIGHTS` times as tall as one another and
    have no ruled line between them. The row bands parted them -- digits of one comb
    written at different heights, some joining a label's row; a digit broken in two pieces
    of like height -- and apart each would be read with the other's ink in its box. A
    joined field takes its first part's place in reading order."""
    boxes = [box_around([items[i] for i in f]) for f in fields]
    union = _Union(len(fields))
    for a, b in itertools.combinations(range(len(fields)), 2):
        small, large = sorted((boxes[a][3], boxes[b][3]))
        across, upright = box_overlap(boxes[a], boxes[b])
        if (
            large <= INTERLEAVED_HEIGHTS * small
            and across >= INTERLEAVED * small
            and upright >= INTERLEAVED_UPRIGHT * small
            and not _ruled_between(lines, boxes[a], boxes[b])
        ):
            union.join(a, b)
    return [[i for k in group for i in fields[k]] for group in union.groups()]


def split_off_print(boxes: np.ndarray, group: list[int]) -> list[list[int]]:
    """Split a field (component labels, as :func:`group_fields` gives) into the span of its
    tall components and the short ones left and right of it, when the tall ones stand at
    least :data:`RUN_OVER_LABEL` times as tall as the rest's median (the label's letters)
    and :data:`LABEL_STEP` times as tall as its tallest (a bracket), few short ones lie
    between them and the short ones are all on one side: a digit written right after a
    printed label ("Reading (kWh) 8") is then a field of its own."""
    if len(group) < 3:
        return [group]
    order = sorted(group, key=lambda label: boxes[label][0] + boxes[label][2] / 2)
    heights = np.array([boxes[label][3] for label in order], np.float64)
    ranked = np.sort(heights)
    jumps = ranked[1:] / ranked[:-1]
    # Tall against the label's typical letter, not its tallest mark: brackets and
    # parentheses stand higher than the letters and digits they enclose.
    over = np.array([ranked[k] / np.median(ranked[:k]) for k in range(1, len(ranked))])
    steps = np.flatnonzero((jumps >= LABEL_STEP) & (over >= RUN_OVER_LABEL))
    if not len(steps):
        return [group]
    step = int(steps[np.argmax(jumps[steps])])
    tall = np.flatnonzero(heights > ranked[step])
    first, last = int(tall[0]), int(tall[-1]) + 1
    if first + len(order) - last < 2:
        return [group]  # one short piece beside the digits: a dot, a speck
    if 2 * (last - first - len(tall)) > len(tall):
        return [group]  # capitals among small letters: a line of print
    if first > 0 and last < len(order):
        return [group]  # a label and its units around the digits are not told from print
    return [part for part in (order[:first], order[first:last], order[last:]) if part]


def cut_columns(mask: np.ndarray, height: float) -> list[int]:
    """Columns (relative to ``mask``) where a wide component may be cut between two digits."""
    width = mask.shape[1]
    profile = mask.sum(axis=0).astype(np.float64)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    spacing = max(2, int(MIN_CUT_SPACING * height))
    candidates = [
        c
        for c in range(spacing, width - spacing)
        if smooth[c] <= smooth[c - 1] and smooth[c] <= smooth[c + 1]
    ]
    candidates.sort(key=lambda c: smooth[c])
    chosen: list[int] = []
    for c in candidates:
        if all(abs(c - d) >= spacing for d in chosen):
            chosen.append(c)
    return sorted(chosen)


def field_height(boxes: np.ndarray, members: list[int]) -> float:
    """The digit height of a field: the median height of its tall stacks of pieces.

    A digit's height includes the pieces stacked above or below it (a 5's cap).
    """
    stacks = []
    for m in members:
        x, _, w, _, _ = boxes[m]
        above = [
            o
            for o in members
            if min(x + w, boxes[o][0] + boxes[o][2]) - max(x, boxes[o][0])
            >= 0.5 * min(w, boxes[o][2])
        ]
        stacks.append(
            max(boxes[o][1] + boxes[o][3] for o in above) - min(boxes[o][1] for o in above)
        )
    tallest = max(stacks)
    return float(np.median([h for h in stacks if h >= 0.5 * tallest]))


def is_wide(box, height: float) -> bool:
    """Whether a component is wide enough to hold more than one digit."""
    return box[2] > CUT_ABOVE_WIDTH * height


def field_atoms(
    labels_img: np.ndarray,
    boxes: np.ndarray,
    members: list[int],
    height: float,
    keep_whole: frozenset[int] = frozenset(),
) -> Field:
    """Cut the field's wide components into atoms; atoms sorted by their centres.

    Components in ``keep_whole`` (read confidently as one digit) are not cut.
    """
    atoms: list[Atom] = []
    for label in members:
        x, y, w, h, area = (int(v) for v in boxes[label])
        if not is_wide(boxes[label], height) or label in keep_whole:
            atoms.append(Atom(label, x, x + w, y, y + h, area))
            continue
        mask = labels_img[y : y + h, x : x + w] == label
        edges = [0, *cut_columns(mask, height), w]
        for a, b in zip(edges[:-1], edges[1:], strict=False):
            part = mask[:, a:b]
            rows = np.flatnonzero(part.any(axis=1))
            if rows.size:
                atoms.append(
                    Atom(
                        label,
                        x + a,
                        x + b,
                        y + int(rows[0]),
                        y + int(rows[-1]) + 1,
                        int(part.sum()),
                    )
                )
    atoms.sort(key=lambda a: (a.x0 + a.x1) / 2)
    return Field(atoms=atoms, height=height)


def field_segments(fld: Field) -> list[tuple[int, int]]:
    """Runs of consecutive atoms ``(start, end)`` narrow enough to be one digit."""
    segments = []
    for start in range(len(fld.atoms)):
        left = fld.atoms[start].x0
        for end in range(start + 1, len(fld.atoms) + 1):
            right = max(a.x1 for a in fld.atoms[start:end])
            if end > start + 1 and right - left > MAX_SEGMENT_WIDTH * fld.height:
                break
            segments.append((start, end))
    return segments


def segment_crop(ink: np.ndarray, labels_img: np.ndarray, atoms: list[Atom], margin: int = 2):
    """The ink of a run of atoms alone (other ink blanked), with its box ``(x, y, w, h)``."""
    x0 = min(a.x0 for a in atoms)
    y0 = min(a.y0 for a in atoms)
    x1 = max(a.x1 for a in atoms)
    y1 = max(a.y1 for a in atoms)
    region = labels_img[y0:y1, x0:x1]
    keep = np.zeros(region.shape, dtype=bool)
    for a in atoms:
        keep[:, a.x0 - x0 : a.x1 - x0] |= region[:, a.x0 - x0 : a.x1 - x0] == a.component
    crop = np.where(keep, ink[y0:y1, x0:x1], 0).astype(np.uint8)
    crop = cv2.copyMakeBorder(crop, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    return crop, (x0, y0, x1 - x0, y1 - y0)


def field_crop(flat: np.ndarray, labels_img: np.ndarray, atoms: list[Atom], margin: int):
    """The flattened page around a run of atoms, ``margin`` px wider on every side, with the
    ink of other components blanked to paper: what the string model was trained on (rules,
    strike-throughs and the soft edges of strokes kept, neighbouring print left out; the
    caller may paint the walls out first, :func:`formreader.preprocess.without_walls`)."""
    height, width = flat.shape
    x0 = max(0, min(a.x0 for a in atoms) - margin)
    y0 = max(0, min(a.y0 for a in atoms) - margin)
    x1 = min(width, max(a.x1 for a in atoms) + margin)
    y1 = min(height, max(a.y1 for a in atoms) + margin)
    region = labels_img[y0:y1, x0:x1]
    # Ink centred inside the atoms' span stays: a digit the digit path dropped is still read.
    # (Centres per label by counting, not np.unique: sorting the region's pixels took longer.)
    label_of = region.ravel()
    counts = np.maximum(np.bincount(label_of), 1)
    ys, xs = np.indices(region.shape)
    cx = np.bincount(label_of, xs.ravel(), len(counts)) / counts
    cy = np.bincount(label_of, ys.ravel(), len(counts)) / counts
    own = (
        (cx >= min(a.x0 for a in atoms) - x0)
        & (cx <= max(a.x1 for a in atoms) - x0)
        & (cy >= min(a.y0 for a in atoms) - y0)
        & (cy <= max(a.y1 for a in atoms) - y0)
    )
    own[[a.component for a in atoms if a.component < len(own)]] = True
    own[0] = True  # paper
    foreign = ~own[region]
    return np.where(foreign, 255, flat[y0:y1, x0:x1]).astype(np.uint8)
