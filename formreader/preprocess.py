"""Page clean-up before segmentation: gray, flat light, ink mask, deskew, no ruled lines."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from formreader.exceptions import BlankImageError
from formreader.normalize import ink_map

#: Long side of the thumbnail on which the paper's brightness is estimated.
BACKGROUND_THUMBNAIL = 256
#: A strip is written in dots when at least this many blobs of about one size ...
DOTTED_MIN_DOTS = 15
#: ... hold this share of its ink ...
DOTTED_INK_SHARE = 0.7
#: ... and lie at most this many of their diameters from their nearest neighbour.
DOTTED_MAX_SPACING = 4.0
#: Dots are joined by a closing this many times as wide as their typical spacing.
DOTTED_CLOSING = 1.3
#: Max filter (thumbnail px) that leaves only paper: wider than the pen strokes; on a crop or
#: a strip (shorter side under MIN_PHOTO_SIDE) at least twice as wide as its thick strokes
#: (twice this quantile of the distance to an ink edge).
PAPER_WINDOW, STROKE_QUANTILE = 7, 95
#: Share of the bright pixels that survive a wide erosion when they are paper, not ink.
MIN_PAPER_SURVIVAL = 0.8
#: Ink covers less than this share of an image; paper covers more.
MAX_INK_SHARE = 0.4
#: That erosion, in thumbnail pixels: wider than pen strokes, narrower than squared-paper cells.
PAPER_EROSION = 7
#: Darkness (of the flattened page, paper = 255) below which a pixel is ink, clipped Otsu.
MIN_INK_THRESHOLD, MAX_INK_THRESHOLD = 110, 205
#: Fainter ink, up to this share of the way from that threshold to the paper, is ink too where
#: it touches ink (hysteresis): thin or light strokes no longer fall into fragments.
FAINT_SHARE = 0.4
#: Skew angles beyond this are not corrected (the page is then probably not a form).
MAX_SKEW_DEGREES = 8.0
#: A long horizontal run in a blob of ink at most this many times as wide as it is tall is
#: the glyph's own bar, not a rule (:func:`glyph_bars`); a 4 or 7 written wide is 1.3-1.4.
BAR_SPAN = 1.5
#: ... and whose middle lies in the top part of the blob, this share of its height.
BAR_DEPTH = 0.75
#: Width (px) of the band erased along a detected strike-through line.
STRIKE_WIDTH = 5
#: Gaps (px) that faint, broken rules may have.
RULE_GAP = 4
#: Rules and walls are at most this thick (px), or this many times the page's typical rule
#: (a scan at a high resolution); thicker ink on them is a pen stroke.
MAX_LINE_WIDTH, LINE_WIDTH_OVER_RULE = 6, 2.0
#: A line whose lower quartile of gray is this much lighter than the other ink's is printed
#: lighter than the writing: ink on it darker than halfway between the two is a stroke.
LINE_INK_CONTRAST = 40
#: Faint ink this close (px) beside a found line is its fringe (:func:`add_fringe`).
LINE_FRINGE = 1
#: An upright touching a rule is a wall (box side, comb tooth) only when its mean width is at
#: most the rules' run (:func:`rule_run`, at least MIN_RULE_RUN) plus this (px); runs taller
#: than MAX_RULE_RUN are bars, not rules. (A mean over the rules' area let one black bar pass
#: 13 px wide digit strokes as walls; box widths failed the comb teeth that binarisation's
#: hysteresis fringes, read as 1s.)
WALL_OVER_RULE, MIN_RULE_RUN, MAX_RULE_RUN = 1.5, 2.0, 25
#: ... and its box is at most this much (px) wider than its mean width (it is straight).
WALL_SLANT = 2.0
#: An upright too wide for a wall may be a wall with a digit's stroke touching it: its columns
#: filled over this share of its height, as narrow as a wall, are carved out as one.
WALL_FILL = 0.9
#: An upright meeting a rule at one end only is a comb tooth when another one as tall (within
#: this share) stands on the same rule within this many of its heights; else it is a stroke.
TOOTH_LIKENESS, TOOTH_REACH = 0.08, 4.0
#: ... and at least this many of its heights away: the two sides of a digit's loop standing on
#: a rule are closer ('179844234' read '179344234', the 8's loop erased as teeth).
TOOTH_SPACING = 1.2
#: ... unless a rule runs across its free end's column, more than BROKEN_WALL px (a wall broken
#: by binarisation) and at most FACING_REACH of its heights away: then it is a stroke standing in
#: a closed box (the box's inner walls meet both rules). With 1.5, the teeth of a comb under
#: another field's rule 1.2 of their heights above were read as 1s ('67' read '12711').
BROKEN_WALL, FACING_REACH = 4, 1.0
#: Ink pixels let through less than this share of the paper's light (``ink_colour``) ...
INK_RATIO = 0.6
#: ... and a box needs this many of them to have a colour.
MIN_INK_PIXELS = 20
#: A box's sides fill this share of its width or height (a one-digit box, an open cell) ...
BOX_SIDE_FILL = 0.85
#: ... and it is at least this tall and wide (px).
MIN_BOX_SIDE = 15
#: A photographed sheet covers this share of the frame (less: no sheet; more: a scan).
MIN_PAPER_SHARE, MAX_PAPER_SHARE = 0.15, 0.92
#: The sheet is convex: its area over its hull's area is at least this.
MIN_PAPER_SOLIDITY = 0.9
#: Paper is at least this much brighter (gray levels) than the surface it lies on.
MIN_PAPER_CONTRAST = 40
#: The sheet is looked for at SHEET_THRESHOLDS thresholds from Otsu's down to halfway to the
#: table's level (part of it may lie in shadow). When a side of Otsu's steps less than
#: SOFT_EDGE (gray levels) from paper to table (a shadow's soft edge), the first whose four
#: sides are sharp is taken; else the lowest's when it is SHADED_SHEET times larger (a hard
#: shadow across the sheet from side to side leaves four corners too).
SOFT_EDGE, SHEET_THRESHOLDS, SHADED_SHEET = 40, 5, 1.15
#: ... each side's step measured this far (thumbnail px) inside and outside it.
SIDE_OFFSET = 4
#: Ink is at least this much darker (gray levels) than the mean around it, when a shaded crop
#: is measured for its stroke width.
SHADE_CONTRAST = 15
#: Band along the edges of a rectified sheet (share of its longer side) blanked as edge shadow.
PAPER_MARGIN = 0.012
#: Images with a shorter side than this (px) are strips or crops, never photos of a sheet.
MIN_PHOTO_SIDE = 400
#: Pages with a longer side than this (px; about A4 at 300 dpi) are read shrunk to it: the
#: clean-up's widths (rules, strokes, gaps) are in pixels. The scan bench's forms drawn at
#: twice their size read 0.71 of their fields (0.86 at their size), 0.75 shrunk to this.
MAX_PAGE_SIDE = 3600


@dataclass
class CleanPage:
    """A page ready for segmentation, in rectified (photos) and deskewed coordinates.

    ``ink`` is ink strength 0..255 (ink bright), ``strokes`` the binary ink without ruled lines,
    ``flat`` the flattened gray page (dark ink, rules kept), ``lines`` the ruled lines found
    and ``walls`` the upright ones among them (box sides, cell walls, comb teeth),
    ``to_original`` the 3x3 homography mapping these coordinates back to the input image.
    """

    ink: np.ndarray
    flat: np.ndarray
    strokes: np.ndarray
    lines: np.ndarray
    walls: np.ndarray
    to_original: np.ndarray


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 gray from gray or BGR; taking the red channel where darker keeps blue ink dark."""
    if image.ndim == 2:
        return image
    luma = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.minimum(luma, image[:, :, 2])


def ink_colour(image: np.ndarray, box) -> np.ndarray | None:
    """The colour of the ink in ``box`` (``x, y, w, h``) of a BGR image: per channel (B, G,
    R) the share of the paper's light it lets through (paper 1, judged around the box), the
    median over the box's ink pixels (darker than :data:`INK_RATIO` of the paper). ``None``
    for a gray image or a box with almost no ink."""
    if image.ndim != 3:
        return None
    image = image[:, :, :3]  # BGR (of BGRA too)
    x, y, w, h = (max(0, int(v)) for v in box)
    pad = max(2, h // 4)
    around = image[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
    paper = np.percentile(around.reshape(-1, 3), 90, axis=0) + 1.0
    ratio = image[y : y + h, x : x + w].reshape(-1, 3) / paper
    ink = ratio[ratio.mean(axis=1) < INK_RATIO]
    if len(ink) < MIN_INK_PIXELS:
        return None
    return np.median(ink, axis=0)


def chroma(colour: np.ndarray) -> float:
    """How coloured an :func:`ink_colour` is: its largest channel share less its smallest
    (black and gray ink about 0, blue ballpoint 0.2-0.5)."""
    return float(colour.max() - colour.min())


def join_dots(image: np.ndarray) -> np.ndarray:
    """Gray ``image``, with digits drawn as dots (a dotted captcha) joined into strokes.

    The image is dotted when :data:`DOTTED_MIN_DOTS` or more round blobs of about one size
    (half to twice their median area) hold :data:`DOTTED_INK_SHARE` of the ink and lie within
    :data:`DOTTED_MAX_SPACING` diameters of their nearest neighbour; its ink is then closed
    with a disc :data:`DOTTED_CLOSING` times as wide as their typical spacing, drawn dark on
    white. Otherwise (solid strokes, with specks or not) the gray image is returned as it is.
    """
    gray = to_gray(image)
    try:
        ink = np.round(ink_map(gray) * 255).astype(np.uint8)
    except BlankImageError:
        return gray
    _, mask = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if count - 1 < DOTTED_MIN_DOTS:
        return gray
    typical = float(np.median(areas))
    sides = stats[1:, [cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT]]
    dots = (
        (areas >= typical / 2)
        & (areas <= typical * 2)
        & (sides.max(axis=1) <= 2 * sides.min(axis=1))
    )
    if dots.sum() < DOTTED_MIN_DOTS or areas[dots].sum() < DOTTED_INK_SHARE * areas.sum():
        return gray
    from scipy.spatial import cKDTree  # scikit-image needs SciPy; only dotted strips load it

    points = centroids[1:][dots]
    nearest, _ = cKDTree(points).query(points, k=2)  # itself, then its nearest neighbour
    spacing = float(np.median(nearest[:, 1]))
    if spacing > DOTTED_MAX_SPACING * math.sqrt(typical):
        return gray
    size = int(round(DOTTED_CLOSING * spacing)) | 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return 255 - cv2.morphologyEx(ink, cv2.MORPH_CLOSE, disc)


def _stroke_width(small: np.ndarray, bright: np.ndarray) -> float:
    """Width (px) of the thick strokes of a thumbnail's minority class (``bright``: its Otsu
    mask), the ink of either polarity: twice a high quantile of the distance to its edge.

    When that class covers :data:`MAX_INK_SHARE` of ``small`` or more, Otsu split the light
    (a shaded half), not ink from paper: the ink is then what is darker than its surroundings.
    """
    ink = bright if np.count_nonzero(bright) < bright.size / 2 else cv2.bitwise_not(bright)
    if np.count_nonzero(ink) >= MAX_INK_SHARE * ink.size:
        block = 2 * (min(small.shape) // 4) + 1
        ink = cv2.adaptiveThreshold(
            small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, SHADE_CONTRAST
        )
    distance = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    inside = distance[distance > 0]
    return 2.0 * float(np.percentile(inside, STROKE_QUANTILE)) if inside.size else 0.0


def _paper(small: np.ndarray, window: int) -> np.ndarray:
    """Paper brightness of a thumbnail: a max filter wider than any pen stroke leaves only
    paper; smoothing removes its blockiness."""
    return cv2.GaussianBlur(cv2.dilate(small, np.ones((window, window), np.uint8)), (0, 0), 3)


def _divide(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    # gray * (255 / paper) in float32, in one float page, not six (the clean-up's memory peak).
    flat = np.maximum(paper, 1).astype(np.float32)
    np.divide(255.0, flat, out=flat)
    np.multiply(flat, gray, out=flat)
    return np.minimum(flat, 255, out=flat).astype(np.uint8)


def flatten_illumination(gray: np.ndarray, light_ink: bool = True) -> np.ndarray:
    """Divide by the estimated paper brightness so paper is ~255 everywhere, ink keeps contrast.

    Light ink on a dark background is inverted first, so the result is always dark ink on light.
    Light ink is considered (unless ``light_ink`` is false: a sheet of paper was found) when the
    bright pixels of a thumbnail are a minority and do not survive an erosion wider than a
    stroke (a photographed page on a dark table keeps its broad bright paper); it is chosen
    when it leaves less ink, since the wrong polarity turns the background into ink.
    """
    height, width = gray.shape
    scale = min(1.0, BACKGROUND_THUMBNAIL / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = np.ones((PAPER_EROSION, PAPER_EROSION), np.uint8)
    window = PAPER_WINDOW
    if min(height, width) < MIN_PHOTO_SIDE:  # a marker's stroke may be wider than the filter
        window = max(window, 2 * math.ceil(_stroke_width(small, bright)) + 1)
    share = np.count_nonzero(bright) / bright.size
    survives = np.count_nonzero(cv2.erode(bright, kernel)) / max(1, np.count_nonzero(bright))
    if light_ink and share < MAX_INK_SHARE and survives < MIN_PAPER_SURVIVAL:
        inverted = 255 - small
        ink_dark = np.count_nonzero(binarize(_divide(small, _paper(small, window))))
        ink_light = np.count_nonzero(binarize(_divide(inverted, _paper(inverted, window))))
        if ink_light < ink_dark:
            gray, small = 255 - gray, inverted
    paper = cv2.resize(_paper(small, window), (width, height), interpolation=cv2.INTER_LINEAR)
    return _divide(gray, paper)


def find_paper(gray: np.ndarray) -> np.ndarray | None:
    """Mask (uint8 0/255) of a sheet of paper photographed on a darker surface, or ``None``.

    The sheet is the largest bright region of a thumbnail (Otsu), taken when it is convex,
    covers :data:`MIN_PAPER_SHARE` to :data:`MAX_PAPER_SHARE` of the frame and is clearly
    brighter than the rest; its hull, shrunk by the paper's edge shadow, is the mask. When a
    side of it steps softly from paper to table (a shadow's edge), the first region at a lower
    threshold with four sharp sides is taken; else, when it is no quadrilateral or much
    smaller than the sheet at the lowest threshold, the latter is taken when it is a
    quadrilateral (a corner or a side in shadow). Scans (paper fills the frame), strips and
    crops give ``None``.
    """
    height, width = gray.shape
    if min(height, width) < MIN_PHOTO_SIDE:
        return None
    scale = BACKGROUND_THUMBNAIL / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.GaussianBlur(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), (0, 0), 1.5)
    otsu, _ = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    darker = small[small < otsu]
    found = _bright_sheet(small, otsu)
    if found is not None and darker.size:
        # A sheet shaded across a corner or a side: Otsu's bright region stops at the
        # shadow. Down to halfway to the table's level, the first region with four sharp
        # sides is the sheet, when Otsu's has a soft one (a shadow's edge); else the lowest's
        # when it has four corners and is larger (or Otsu's has no four corners).
        lowest = (otsu + float(np.median(darker))) / 2
        if _sharp_sheet(small, found):
            lower = _bright_sheet(small, lowest)
        else:  # one level after another; the last is the lowest
            for level in np.linspace(otsu, lowest, SHEET_THRESHOLDS)[1:]:
                lower = _bright_sheet(small, level)
                if _sharp_sheet(small, lower):
                    found, lower = lower, None
                    break
        if lower is not None and paper_corners(lower) is not None:
            larger = np.count_nonzero(lower) > SHADED_SHEET * np.count_nonzero(found)
            if larger or paper_corners(found) is None:
                found = lower
    if found is None:
        return None
    return cv2.resize(found, (width, height), interpolation=cv2.INTER_NEAREST)


def _sharp_sheet(small: np.ndarray, sheet: np.ndarray | None) -> bool:
    """Whether a sheet mask on the thumbnail ``small`` has four corners and each of its four
    sides steps down by at least :data:`SOFT_EDGE` from inside to outside (the median over
    points along it, :data:`SIDE_OFFSET` px each way): the sheet's edges, not a shadow's."""
    corners = paper_corners(sheet) if sheet is not None else None
    if corners is None:
        return False
    height, width = small.shape
    centre = corners.mean(axis=0)
    along = np.linspace(0.15, 0.85, 24)[:, None]
    steps = []
    for start, end in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        normal = np.array([start[1] - end[1], end[0] - start[0]])
        normal /= max(float(np.linalg.norm(normal)), 1e-6)
        if np.dot(centre - (start + end) / 2, normal) < 0:
            normal = -normal
        points = start + along * (end - start)
        inside, outside = (
            np.clip(
                np.round(points + side * SIDE_OFFSET * normal).astype(int),
                0,
                (width - 1, height - 1),
            )
            for side in (1, -1)
        )
        step = (
            small[inside[:, 1], inside[:, 0]].astype(np.float32)
            - small[outside[:, 1], outside[:, 0]]
        )
        steps.append(float(np.median(step)))
    return min(steps) >= SOFT_EDGE


def _bright_sheet(small: np.ndarray, threshold: float) -> np.ndarray | None:
    """The sheet mask on the thumbnail ``small`` from its pixels brighter than ``threshold``
    (see :func:`find_paper`), or ``None``."""
    _, bright = cv2.threshold(small, threshold, 255, cv2.THRESH_BINARY)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count < 2:
        return None
    label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours(
        (labels == label).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    outline = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(outline)
    hull_area = cv2.contourArea(hull)
    share = hull_area / small.size
    # Holes (a black title bar, a dark logo) do not make the sheet less solid.
    solidity = cv2.contourArea(outline) / max(hull_area, 1.0)
    if not (MIN_PAPER_SHARE <= share <= MAX_PAPER_SHARE and solidity >= MIN_PAPER_SOLIDITY):
        return None
    small_mask = np.zeros_like(small)
    cv2.fillConvexPoly(small_mask, hull, 255)
    inside = float(np.median(small[small_mask > 0]))
    outside = float(np.median(small[small_mask == 0]))
    if inside - outside < MIN_PAPER_CONTRAST:
        return None
    return cv2.erode(small_mask, np.ones((5, 5), np.uint8))


def _paper_polygon(paper: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(paper, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    return cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True).reshape(-1, 2)


def paper_outline(paper: np.ndarray) -> np.ndarray:
    """The straight edges of a photographed sheet (mask from :func:`find_paper`) drawn as
    lines: the longest lines on such a page, they tell its skew along with its rules."""
    outline = np.zeros_like(paper)
    cv2.polylines(outline, [_paper_polygon(paper)], True, 255, 3)
    return outline


def paper_corners(paper: np.ndarray) -> np.ndarray | None:
    """Corners of a photographed sheet (mask from :func:`find_paper`) as float32 ``(4, 2)``:
    top-left, top-right, bottom-right, bottom-left; ``None`` unless it is a quadrilateral
    (a sheet cut by the frame's edge, a folded corner)."""
    polygon = _paper_polygon(paper).astype(np.float32)
    if len(polygon) != 4:
        return None
    total, diff = polygon.sum(axis=1), polygon[:, 1] - polygon[:, 0]
    order = [np.argmin(total), np.argmin(diff), np.argmax(total), np.argmax(diff)]
    if len(set(order)) != 4:
        return None
    return polygon[order]


def rectify(corners: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Homography that maps the sheet's ``corners`` onto an upright rectangle, and the
    rectangle's ``(width, height)`` (its longer opposite sides)."""
    tl, tr, br, bl = corners
    width = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    height = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    return cv2.getPerspectiveTransform(corners, target), (width, height)


def ink_threshold(flat: np.ndarray) -> float:
    """Gray level below which a flattened page is surely ink: Otsu's, clipped to sane bounds."""
    otsu, _ = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return float(np.clip(otsu, MIN_INK_THRESHOLD, MAX_INK_THRESHOLD))


def binarize(flat: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Ink mask (uint8 0/255) of a flattened page by its :func:`ink_threshold` (unless given),
    grown into the fainter ink connected to it (:data:`FAINT_SHARE`)."""
    if threshold is None:
        threshold = ink_threshold(flat)
    # flat < threshold, for integer pixels (no int64 page on the way).
    _, ink = cv2.threshold(flat, math.ceil(threshold) - 1, 255, cv2.THRESH_BINARY_INV)
    faint = min(255.0, threshold + FAINT_SHARE * (255 - threshold))
    _, weak = cv2.threshold(flat, math.ceil(faint) - 1, 255, cv2.THRESH_BINARY_INV)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, np.uint8)
    keep[labels[ink > 0]] = 255
    keep[0] = 0
    return keep[labels]


def estimate_skew(binary: np.ndarray) -> float:
    """Skew in degrees from long near-horizontal rules (0 when the page has none)."""
    width = binary.shape[1]
    # Short horizontal runs survive on rules even when skewed; text and handwriting do not.
    runs = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, 25), np.uint8))
    segments = cv2.HoughLinesP(
        runs,
        1,
        np.pi / 720,
        threshold=max(50, width // 8),
        minLineLength=max(60, width // 6),
        maxLineGap=5,
    )
    if segments is None:
        return 0.0
    x1, y1, x2, y2 = segments.reshape(-1, 4).T.astype(np.float64)
    angles = np.degrees(np.arctan2(y2 - y1, x2 - x1))
    lengths = np.hypot(x2 - x1, y2 - y1)
    near = np.abs(angles) < MAX_SKEW_DEGREES
    if not near.any():
        return 0.0
    order = np.argsort(angles[near])
    cumulative = np.cumsum(lengths[near][order])
    return float(angles[near][order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def glyph_bars(across: np.ndarray, blobs: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """The pieces of ``across`` (long horizontal runs) that are a glyph's own stroke: alone in
    a blob of ink at most :data:`BAR_SPAN` times as wide as it is tall, above its bottom
    (the bar of a large 7 or 4). A rule runs on well beyond the ink that touches it, an
    underline lies at the bottom, a grid or a box holds several runs. ``blobs`` and
    ``stats``: the labels and statistics of the page's 8-connected ink."""
    count, pieces, _, centres = cv2.connectedComponentsWithStats(across, connectivity=8)
    if count < 2:
        return np.zeros_like(across)
    blob_of = np.zeros(count, np.int32)
    blob_of[pieces.ravel()] = blobs.ravel()  # every piece lies inside one blob
    blob_of[0] = 0  # the background
    width, height = stats[blob_of, cv2.CC_STAT_WIDTH], stats[blob_of, cv2.CC_STAT_HEIGHT]
    runs = np.bincount(blob_of[1:], minlength=len(stats))
    alone = runs[blob_of] == 1  # not a grid or a box
    # An underline touching the digit above it is at the bottom of their blob.
    above = centres[:, 1] < stats[blob_of, cv2.CC_STAT_TOP] + BAR_DEPTH * height
    bar = (width <= BAR_SPAN * height) & alone & above
    bar[0] = False
    return np.where(bar[pieces], np.uint8(255), np.uint8(0))


def find_lines(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of ruled and struck lines: ``(across, upright)``.

    ``across``: long horizontal runs (rules, box edges, comb bases) and long straight lines at
    a slant (strike-throughs), much longer than any digit stroke. ``upright``: vertical runs
    that stand on or hang from a horizontal rule (box walls, comb teeth), so that
    free-standing strokes such as a ``1`` are kept.
    """
    height, width = binary.shape
    long_run = max(50, width // 16)
    # Faint rules binarise into broken dashes: bridge short gaps along the row first.
    bridged = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((1, RULE_GAP + 1), np.uint8))
    across = cv2.morphologyEx(bridged, cv2.MORPH_OPEN, np.ones((1, long_run), np.uint8))
    across = cv2.bitwise_and(across, binary)
    _, blobs, blob_stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    across = cv2.subtract(across, glyph_bars(across, blobs, blob_stats))
    upright = np.zeros_like(binary)
    if across.any():
        short_run = max(12, height // 100)
        vertical = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((short_run, 1), np.uint8))
        touch = cv2.dilate(across, np.ones((5, 5), np.uint8))
        _, labels, stats, _ = cv2.connectedComponentsWithStats(vertical, connectivity=8)
        touching = np.unique(labels[(touch > 0) & (labels > 0)])
        # Walls are as thin as the rules they meet; a pen stroke standing on a rule is wider.
        # Mean width (area over height): a ragged edge widens a wall's box, not its mean; a
        # slanted stroke's box is much wider than its mean.
        widths = stats[touching, cv2.CC_STAT_AREA] / stats[touching, cv2.CC_STAT_HEIGHT]
        widest = max(rule_run(across), MIN_RULE_RUN) + WALL_OVER_RULE
        straight = stats[touching, cv2.CC_STAT_WIDTH] <= widths + WALL_SLANT
        thin = (widths <= widest) & straight
        upright[_labelled(labels, len(stats), _walls(across, stats, touching[thin]))] = 255
        carved = np.zeros_like(binary)
        for label in touching[~thin]:
            _carve_wall(labels, stats[label], label, widest, carved)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(carved, connectivity=8)
        sides = _walls(across, stats, np.arange(1, len(stats)), sides_only=True)
        upright[_labelled(labels, len(stats), sides)] = 255
    # Long vertical lines (squared paper, table columns), broken or not, are walls too.
    min_length = max(3 * long_run, width // 3) // 2
    bridged = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((RULE_GAP + 1, 1), np.uint8))
    down = cv2.morphologyEx(bridged, cv2.MORPH_OPEN, np.ones((2 * min_length, 1), np.uint8))
    upright = cv2.bitwise_or(upright, cv2.bitwise_and(down, binary))
    # Strike-throughs: searched on a half-size copy, which is four times cheaper.
    half = cv2.resize(binary, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    segments = cv2.HoughLinesP(
        half,
        1,
        np.pi / 180,
        threshold=min_length // 2,
        minLineLength=min_length,
        maxLineGap=RULE_GAP // 2,
    )
    if segments is not None:
        strikes = np.zeros_like(binary)
        for x1, y1, x2, y2 in segments.reshape(-1, 4) * 2:
            cv2.line(strikes, (int(x1), int(y1)), (int(x2), int(y2)), 255, STRIKE_WIDTH)
        across = cv2.bitwise_or(across, cv2.bitwise_and(strikes, binary))
    box_across, box_upright = find_boxes(blobs, blob_stats, long_run)
    return cv2.bitwise_or(across, box_across), cv2.bitwise_or(upright, box_upright)


def _labelled(labels: np.ndarray, count: int, chosen) -> np.ndarray:
    """Mask of the pixels whose label (of ``count``) is one of ``chosen``, by a lookup table
    (``np.isin`` sorted the whole page: about 30 ms per form page)."""
    table = np.zeros(count, bool)
    table[np.asarray(chosen, np.intp)] = True
    return table[labels]


def _carve_wall(labels: np.ndarray, box, label: int, widest: float, posts: np.ndarray) -> None:
    """Mark in ``posts`` the wall inside the upright ``label`` (box ``x, y, w, h``) too wide
    for one: a band of columns it fills (:data:`WALL_FILL`) top to bottom, no wider than
    ``widest`` (px) -- a cell's wall with a digit's stroke touching it."""
    x, y, w, h = (int(v) for v in box[:4])
    part = labels[y : y + h, x : x + w] == label
    full = np.r_[False, part.mean(axis=0) >= WALL_FILL, False]
    steps = np.flatnonzero(np.diff(full.astype(np.int8)))
    for start, end in zip(steps[::2], steps[1::2], strict=True):
        if end - start <= widest:
            posts[y : y + h, x + start : x + end][part[:, start:end]] = 1


def _walls(
    across: np.ndarray, stats: np.ndarray, uprights: np.ndarray, sides_only: bool = False
) -> list[int]:
    """The uprights (component labels, ``stats`` as OpenCV gives) that are walls: those
    that meet a rule at both ends (a box's side), and those meeting one at one end only that
    stand among others of their height on the same rule (comb teeth). A lone upright standing
    on a rule, one taller than the teeth beside it, or one whose free end faces another rule
    across a gap (strokes standing on the base of a closed box) is a pen stroke. With
    ``sides_only``, only the former."""
    height = across.shape[0]

    def meets(y: int, x: int, w: int) -> bool:
        return bool(across[max(0, y - 3) : min(height, y + 4), x : x + w].any())

    def faces(y: int, x: int, w: int, h: int, down: bool) -> bool:
        # A rule across the free end's column, a gap and at most FACING_REACH heights away.
        reach = FACING_REACH * h
        near, far = (y + BROKEN_WALL, y + reach) if down else (y - reach, y - BROKEN_WALL)
        return bool(across[max(0, int(near)) : max(0, min(height, int(far))), x : x + w].any())

    ends = {}
    walls = []
    for label in uprights:
        x, y, w, h = (int(v) for v in stats[label, :4])
        top, bottom = meets(y, x, w), meets(y + h - 1, x, w)
        if top and bottom:
            walls.append(int(label))
        elif not sides_only and not faces(y + h - 1 if top else y, x, w, h, down=top):
            ends[int(label)] = (x, y if top else y + h, h)
    for label, (x, y, h) in ends.items():
        siblings = [
            other
            for other, (ox, oy, oh) in ends.items()
            if other != label
            and abs(oy - y) <= 3
            and TOOTH_SPACING * h <= abs(ox - x) <= TOOTH_REACH * h
            and abs(oh - h) <= TOOTH_LIKENESS * max(oh, h)
        ]
        if siblings:
            walls.append(label)
    return walls


def _edge_lines(fill: np.ndarray) -> np.ndarray:
    """Indices of the lines along the two ends of a component's box: runs of rows (or
    columns) at either end whose ``fill`` (share of the box's width or height) is high."""
    band = min(MAX_LINE_WIDTH + 2, len(fill) // 4)
    ends = np.r_[0:band, len(fill) - band : len(fill)]
    return ends[fill[ends] >= BOX_SIDE_FILL]


def find_boxes(
    labels: np.ndarray, stats: np.ndarray, long_run: int
) -> tuple[np.ndarray, np.ndarray]:
    """Masks ``(across, upright)`` of the sides of boxes too small for :func:`find_lines`'
    long runs: a one-digit box, an open cell. A component is a box when straight lines run
    along both its walls and its base or top; the digit written into it, touching its
    walls, is part of the same component until they are erased. ``labels`` and ``stats``:
    the page's 8-connected ink components (``cv2.connectedComponentsWithStats``)."""
    across = np.zeros(labels.shape, np.uint8)
    upright = np.zeros(labels.shape, np.uint8)
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    small = (w >= MIN_BOX_SIDE) & (h >= MIN_BOX_SIDE) & (w <= 2 * long_run) & (h <= 2 * long_run)
    small &= (w <= 4 * h) & (h <= 4 * w)
    for label in np.flatnonzero(small[1:]) + 1:
        x, y, bw, bh = stats[label, :4]
        component = labels[y : y + bh, x : x + bw] == label
        rows = _edge_lines(component.mean(axis=1))
        cols = _edge_lines(component.mean(axis=0))
        walls = (cols < bw / 2).any() and (cols >= bw / 2).any()
        if not (walls and rows.size):
            continue
        side = np.zeros_like(component)
        side[rows] = True
        across[y : y + bh, x : x + bw][side & component] = 255
        side[:] = False
        side[:, cols] = True
        upright[y : y + bh, x : x + bw][side & component] = 255
    return across, upright


def add_fringe(
    across: np.ndarray, upright: np.ndarray, faint: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The line masks grown into the faint ink right beside them (:data:`LINE_FRINGE` px): a
    blurred line's fringe binarises into specks outside its long runs, and left on the page
    they hang on the digits that touch the line. Strong ink beside a line stays a stroke."""
    grow = np.ones((2 * LINE_FRINGE + 1, 1), np.uint8)
    across = cv2.bitwise_or(across, cv2.bitwise_and(cv2.dilate(across, grow), faint))
    upright = cv2.bitwise_or(upright, cv2.bitwise_and(cv2.dilate(upright, grow.T), faint))
    return across, upright


def rule_run(across: np.ndarray) -> float:
    """The median height (px) of the vertical runs through a mask of horizontal lines, runs
    taller than :data:`MAX_RULE_RUN` (filled bars, shaded bands) left out; 0 without any."""
    column = (across > 0).T.astype(np.int8)
    edge = np.zeros((column.shape[0], 1), np.int8)
    steps = np.diff(np.hstack([edge, column, edge]), axis=1).ravel()
    runs = np.flatnonzero(steps == -1) - np.flatnonzero(steps == 1)
    runs = runs[runs <= MAX_RULE_RUN]
    return float(np.median(runs)) if runs.size else 0.0


def rule_thickness(across: np.ndarray) -> float:
    """The typical thickness (px) of the rules in a mask of horizontal lines: the lower
    quartile over its pieces of area over width, so that thick pieces (a black header bar,
    the ragged edge of a photo's table) do not count. With the median, forms drawn at twice
    their size read 0.818 instead of 0.773, but photos at their size lost fields to table
    edges read as 1s."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(across, connectivity=8)
    if count < 2:
        return 0.0
    return float(np.percentile(stats[1:, cv2.CC_STAT_AREA] / stats[1:, cv2.CC_STAT_WIDTH], 25))


def darker_than_lines(flat: np.ndarray, binary: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Mask of the ink on ``lines`` that is darker than its line: a stroke written along a
    rule printed lighter than the writing (a dropout-colour form, notebook ruling).

    Each connected line is judged alone (a page may hold black print rules and light ones) by
    its lower quartile of gray, the ink off the lines likewise (the blurred fringes of a thin
    rule or stroke are light, their cores are not): when a line's is :data:`LINE_INK_CONTRAST`
    lighter than the ink's, its pixels darker than halfway between the two are kept.
    """
    off_lines = flat[(binary > 0) & (lines == 0)]
    count, labels = cv2.connectedComponents(lines, connectivity=8)
    if count < 2 or not len(off_lines):
        return np.zeros_like(binary)
    ink_level = float(np.percentile(off_lines, 25))
    on = labels > 0
    label, gray = labels[on], flat[on]
    order = np.lexsort((gray, label))
    starts = np.searchsorted(label[order], np.arange(1, count))
    ends = np.append(starts[1:], len(order))
    levels = np.full(count, -np.inf)
    levels[1:] = gray[order][starts + (ends - starts) // 4]  # each line's lower quartile
    light = levels - ink_level >= LINE_INK_CONTRAST
    keep = np.zeros_like(binary)
    keep[on] = np.where(light[label] & (gray < (levels[label] + ink_level) / 2), 255, 0)
    return keep


def remove_lines(
    binary: np.ndarray, across: np.ndarray, upright: np.ndarray, keep: np.ndarray | None = None
) -> np.ndarray:
    """Erase the lines from ``binary`` but keep the strokes that cross or run along them.

    On a horizontal line, ink that is part of a taller vertical run than any rule is thick
    (:data:`MAX_LINE_WIDTH`, or twice the page's typical rule) belongs to a stroke; likewise
    sideways on a vertical wall. Pixels of ``keep`` (e.g. :func:`darker_than_lines`) stay.
    """
    width = max(MAX_LINE_WIDTH, math.ceil(LINE_WIDTH_OVER_RULE * rule_thickness(across)))
    line_free = np.ones((width + 1, 1), np.uint8)
    stroke_v = cv2.morphologyEx(binary, cv2.MORPH_OPEN, line_free)
    stroke_h = cv2.morphologyEx(binary, cv2.MORPH_OPEN, line_free.T)
    erase = cv2.bitwise_or(
        cv2.bitwise_and(across, cv2.bitwise_not(stroke_v)),
        cv2.bitwise_and(upright, cv2.bitwise_not(stroke_h)),
    )
    if keep is not None:
        erase = cv2.subtract(erase, keep)
    return cv2.subtract(binary, erase)


def clean_page(image: np.ndarray) -> CleanPage:
    """Run the clean-up stages on one page (gray or BGR uint8).

    A page larger than :data:`MAX_PAGE_SIDE` is shrunk to it; a photographed sheet is warped
    to an upright rectangle (or, when it is not a clean quadrilateral, the table around it is
    blanked); then the page is deskewed.
    """
    gray = to_gray(image)
    to_original = np.eye(3)
    scale = MAX_PAGE_SIDE / max(gray.shape)
    if scale < 1:
        shrunk = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, shrunk, interpolation=cv2.INTER_AREA)
        to_original = np.diag([image.shape[1] / shrunk[0], image.shape[0] / shrunk[1], 1.0])
    paper = find_paper(gray)
    # A sheet brighter than the table around it bears dark ink (its grain does not say light).
    flat = flatten_illumination(gray, light_ink=paper is None)
    outline = None
    corners = paper_corners(paper) if paper is not None else None
    if corners is not None:
        homography, size = rectify(corners)
        flat = cv2.warpPerspective(flat, homography, size, flags=cv2.INTER_LINEAR, borderValue=255)
        margin = max(2, round(PAPER_MARGIN * max(size)))  # the sheet's edge and its shadow
        flat[:margin], flat[-margin:], flat[:, :margin], flat[:, -margin:] = 255, 255, 255, 255
        to_original = to_original @ np.linalg.inv(homography)
    elif paper is not None:  # the table around the sheet holds no digits
        flat[paper == 0] = 255
        outline = paper_outline(paper)
    threshold = ink_threshold(flat)
    binary = binarize(flat, threshold)
    angle = estimate_skew(binary if outline is None else binary | outline)
    height, width = flat.shape
    if abs(angle) > 0.2:
        rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        flat = cv2.warpAffine(
            flat, rotation, (width, height), flags=cv2.INTER_LINEAR, borderValue=255
        )
        threshold = ink_threshold(flat)
        binary = binarize(flat, threshold)
        to_original = to_original @ np.vstack([cv2.invertAffineTransform(rotation), [0, 0, 1]])
    across, upright = find_lines(binary)
    if paper is None and min(flat.shape) >= MIN_PHOTO_SIDE:
        # On a scanned page faint ink beside a line is its blur; on a photo it is as often
        # light handwriting in uneven light (with it, photos' field accuracy summed over 7
        # bench runs fell 0.057), and on a strip or a crop a digit's long stroke may be taken
        # for a rule.
        _, faint = cv2.threshold(flat, math.ceil(threshold) - 1, 255, cv2.THRESH_BINARY)
        across, upright = add_fringe(across, upright, cv2.bitwise_and(faint, binary))
    lines = cv2.bitwise_or(across, upright)
    strokes = remove_lines(binary, across, upright, darker_than_lines(flat, binary, lines))
    ink = cv2.bitwise_and(255 - flat, strokes)
    return CleanPage(
        ink=ink, flat=flat, strokes=strokes, lines=lines, walls=upright, to_original=to_original
    )


def without_walls(page: CleanPage) -> np.ndarray:
    """The flattened page with its upright rules (box sides, cell walls, comb teeth) painted
    paper, except within a pixel of a stroke: what the string model reads. A wall touching a
    digit is otherwise read as a 1 beside it ('4823936' in comb cells read '48239316')."""
    near_strokes = cv2.dilate(page.strokes, np.ones((3, 3), np.uint8))
    walls = cv2.bitwise_and(page.walls, cv2.bitwise_not(near_strokes))
    return np.where(walls > 0, np.uint8(255), page.flat)
