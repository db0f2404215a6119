"""Synthetic test pages of handwritten digits, with ground truth.

Handwriting is made of MNIST-style digits drawn from a :class:`DigitPool` that the caller
builds (benchmarks pass MNIST *test* digits, string training passes *training* digits), scaled
up smoothly so the strokes look like pen ink. Four kinds of page are made:

``form``
    An A4-like scan with printed text in real fonts (which holds printed digits that are not
    ground truth) and 3-8 handwritten fields on underlines, in boxes or in comb cells, then
    skew, blur, noise, specks, uneven lighting and sometimes JPEG.
``photo``
    A smaller form with 2-5 fields photographed on a table: perspective, strong uneven
    lighting, shadows, colour cast, blur, sensor noise and JPEG.
``strip``
    A captcha-like row of 4-8 digits, often touching or overlapping, with strike-through
    lines, speckles, rotation, textured backgrounds and sometimes inverted polarity.
``single``
    One digit on paper (sometimes ruled or squared), or white on black like MNIST.

and, outside :data:`KINDS` (the benchmark's default), ``amount``: a cheque's courtesy amount
with separators, dashes and fences among the digits (:func:`make_amount`).

Every :class:`Field` box is the bounding box of the handwritten ink (ink level above one half
before the scan or photo effects), carried through all geometric transforms of the page.
Everything is drawn from the ``numpy.random.Generator`` passed in, so pages are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from skimage.morphology import skeletonize

from formreader.nondigits import font_files, load_font, render_text

KINDS = ("form", "photo", "strip", "single")

#: Ink level (0..1) above which a pixel counts as handwriting for the ground-truth boxes.
INK_LEVEL = 0.5
#: Stroke width of an upscaled MNIST digit as a fraction of its ink height (measured median).
_MNIST_STROKE = 0.12
# Share of the 1s and 7s written the continental way by `train --continental`: the bundled
# CNN continued 3 epochs with it read CVL valid 0.935 -> 0.946-0.951 (its 1s 0.76 ->
# 0.87-0.91) for MNIST test 0.9972 -> 0.996 (2026-12-05), below the 0.997 the bundled CNN must
# reach, so not bundled. A gate trained with them took printed serif 1s and l's for digits
# (spurious digits per form page, 7 runs summed, 1.55 -> 2.56).
CONTINENTAL_SHARE = 0.4
#: Neighbouring digits overlap by at most this share of the narrower one's width.
MAX_OVERLAP = 0.5
#: Raised whenever the same seed starts drawing other pages or strings (caches compare it).
GENERATOR_VERSION = 3

_TITLES = (
    "Application Form",
    "Customer Registration",
    "Meter Reading Card",
    "Order Form",
    "Annual Survey",
    "Tax Return",
    "Delivery Note",
    "Membership Application",
    "Exam Answer Sheet",
    "Inventory Count Sheet",
    "Patient Intake Form",
    "Insurance Claim",
    "Change of Address",
    "Time Sheet",
)
_LABELS = (
    "Account no.",
    "Customer ID",
    "Telephone",
    "Tel. (0)",
    "Postal code",
    "Amount (EUR)",
    "Invoice no.",
    "Quantity",
    "Meter reading (kWh)",
    "Room",
    "PIN",
    "Policy number",
    "Year of birth",
    "Date",
    "Student no.",
    "Order no.",
    "Item code",
    "Hours worked",
    "Mobile +44",
    "Reference",
    "Batch",
    "Score",
    "House no.",
    "Bank code",
    "Total",
)
_NOTES = (
    "Please write clearly using a black or blue pen, one digit per box.",
    "Fields {a} to {b} are mandatory. Return by {d:02d}.{m:02d}.{y} to PO Box {n}.",
    "For help call 0800 {n} {k} (Mon-Fri, 9-17 h).",
    "Do not write in the shaded area. Office use only: batch {n}/{k}.",
    "See note {a} on page {b}. Amounts in EUR, 2 decimals.",
)
_SECTIONS = ("Personal details", "Contact", "Payment", "Readings", "Items", "Office use")


@dataclass
class Field:
    """One handwritten field: its digits and the bounding box of its ink on the page.

    Attributes
    ----------
    text : str
        The handwritten digits, e.g. ``"40721"``.
    box : tuple of int
        ``(x, y, w, h)`` of the handwritten ink's bounding box in the final page pixels.
    """

    text: str
    box: tuple[int, int, int, int]


def box_intersection(a, b) -> int:
    """Area (px) shared by boxes ``a`` and ``b`` (``x, y, w, h``): how a field found is
    matched to a true :class:`Field`."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


@dataclass
class Page:
    """A synthetic page and its ground truth.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    image : ndarray
        uint8, ``HxW`` gray or ``HxWx3`` BGR.
    fields : list of Field
        In reading order: top-to-bottom rows, left-to-right within a row.
    """

    kind: str
    image: np.ndarray
    fields: list[Field] = field(default_factory=list)


class DigitPool:
    """MNIST-style digits by label, for drawing random handwritten digits.

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Digits, white ink on black.
    labels : ndarray of shape (n,)
        Their labels 0-9; every label must occur.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        images = np.asarray(images)
        labels = np.asarray(labels).astype(np.int64).ravel()
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError(f"expected (n, h, w) images and n labels, got {images.shape}")
        self.images = images.astype(np.uint8, copy=False)
        self.labels = labels
        self._by_label = [np.flatnonzero(labels == d) for d in range(10)]
        missing = [d for d in range(10) if self._by_label[d].size == 0]
        if missing:
            raise ValueError(f"no images for digit(s) {missing}")

    @classmethod
    def from_npz(cls, path, split: str = "test") -> DigitPool:
        """Load one split (``"test"`` or ``"train"``) of an MNIST ``.npz`` file."""
        if split not in ("test", "train"):
            raise ValueError(f"split must be 'test' or 'train', got {split!r}")
        with np.load(path) as data:
            return cls(data[f"x_{split}"], data[f"y_{split}"])

    @classmethod
    def from_folder(cls, path) -> DigitPool:
        """Load digit images from sub-folders ``0`` … ``9`` (e.g. CVL: dark ink on light paper).

        The folders are read as ``train --data`` reads them
        (:func:`formreader.retrain.load_digit_folders`: MNIST style, 28x28) and the strokes
        are widened by one pixel: thin pens come out of the 28-px canvas fainter and thinner
        than MNIST's, and the generator sets the pen width itself.
        """
        from formreader.retrain import load_digit_folders

        digits = load_digit_folders(Path(path))
        pen = np.ones((2, 2), np.uint8)
        wide = [cv2.dilate(np.round(d * 255).astype(np.uint8), pen) for d in digits.images]
        return cls(np.stack(wide), digits.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def sample(self, digit: int, rng: np.random.Generator) -> np.ndarray:
        """Return a random image of ``digit`` (a copy, uint8, white on black)."""
        index = self._by_label[int(digit)]
        return self.images[index[rng.integers(index.size)]].copy()


def continental(image: np.ndarray, digit: int, rng: np.random.Generator) -> np.ndarray:
    """Write a 1 or a 7 the continental-European way: a 1 with a long flag, a 7 crossed.

    MNIST's American 1 is a bare stem and its 7 has no bar; European writers give the 1 a
    long flag (read as a 7 by an MNIST model: 148 of CVL valid's 700 ones) and often cross
    the 7's stem. The flag runs from the stem's top down to the left, a third to nearly half
    as long as the digit is tall and steeper than a 7's top (35-65 degrees); the bar crosses
    the stem a little below its middle. Other digits are returned unchanged. ``image`` is a
    28x28-style uint8 digit, white on black.
    """
    if digit not in (1, 7):
        return image.copy()
    ys, xs = np.nonzero(image > 127)
    if ys.size < 8:
        return image.copy()
    top, bottom = ys.min(), ys.max()
    height = bottom - top + 1
    skeleton = _skeleton((image > 127).astype(np.uint8))
    pen = max(1, int(round(ys.size / max(1, np.count_nonzero(skeleton)))))
    scale = 4  # draw at 4x for anti-aliased sub-pixel lines
    big = np.zeros((image.shape[0] * scale, image.shape[1] * scale), np.uint8)
    if digit == 1:
        x0 = xs[ys <= top + 1].mean()
        length = height * rng.uniform(0.3, 0.45)
        angle = np.radians(rng.uniform(35, 65))  # flatter flags are an MNIST 7's short top
        start = (x0, top + 0.5)
        end = (x0 - length * np.cos(angle), top + 0.5 + length * np.sin(angle))
    else:
        row = int(round(top + height * rng.uniform(0.5, 0.65)))
        x0 = xs[np.abs(ys - row) <= 1].mean()
        half = height * rng.uniform(0.18, 0.28)
        tilt = half * rng.uniform(-0.15, 0.15)
        start = (x0 - half, row + tilt)
        end = (x0 + half, row - tilt)
    points = [tuple(int(round(v * scale)) for v in p) for p in (start, end)]
    cv2.line(big, points[0], points[1], 255, pen * scale, cv2.LINE_AA)
    stroke = cv2.resize(big, image.shape[::-1], interpolation=cv2.INTER_AREA)
    return np.maximum(image, stroke)


# --------------------------------------------------------------------------- handwriting


def _ink_bbox(ink: np.ndarray, level: float = INK_LEVEL) -> tuple[int, int, int, int]:
    """Return ``(x, y, w, h)`` of the pixels above ``level`` (zeros when there are none)."""
    x, y, w, h = cv2.boundingRect((ink > level).astype(np.uint8))
    return int(x), int(y), int(w), int(h)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """Morphological (Lantuejoul) skeleton of a binary uint8 mask, as a 0/1 uint8 mask."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    skeleton = np.zeros_like(mask)
    while mask.any():
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cross)
        skeleton |= mask & (1 - opened)
        mask = cv2.erode(mask, cross)
    return skeleton


def _glyph(digit: np.ndarray, height: float, slant: float, thickness: float) -> np.ndarray:
    """Upscale one MNIST digit to pen-like ink about ``height`` px tall.

    The digit is cropped, sheared and scaled in one cubic warp, smoothed and thresholded, and
    its outline is moved by ``thickness`` px along a signed distance field (fractional widths
    work, for both thicker and thinner strokes). Returns float32 ink in [0, 1].
    """
    gray = digit.astype(np.float32) / 255.0
    x, y, w, h = _ink_bbox(gray, 0.45)
    if w == 0:
        return np.zeros((max(1, int(height)), max(1, int(height * 0.5))), np.float32)
    crop = gray[max(y - 2, 0) : y + h + 2, max(x - 2, 0) : x + w + 2]
    f = min(height / h, 1.3 * height / w)  # very flat digits are not blown up sideways
    pad = abs(thickness) + 3.0
    rows, cols = crop.shape
    affine = np.array([[f, -slant * f, 0.0], [0.0, f, 0.0]])
    corners = np.array([[0, 0, 1], [cols, 0, 1], [0, rows, 1], [cols, rows, 1]], float)
    moved = corners @ affine.T
    affine[:, 2] = pad - moved.min(axis=0)
    size = np.ceil(moved.max(axis=0) - moved.min(axis=0) + 2 * pad).astype(int)
    big = cv2.warpAffine(crop, affine, (int(size[0]), int(size[1])), flags=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 0.3 * f + 0.3)
    mask = (big > 0.45).astype(np.uint8)
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 5)
    signed = np.where(mask > 0, inside - 0.5, 0.5 - outside)
    # Near the outline, a sub-pixel distance from the smooth image gives clean edges.
    dx, dy = (cv2.Sobel(big, -1, *order, scale=0.125) for order in ((1, 0), (0, 1)))
    slope = cv2.magnitude(dx, dy)
    near = np.clip((big - 0.45) / (slope + 1e-3), -1.5, 1.5)
    signed = np.where(np.abs(signed) < 1.5, near, signed) + thickness
    if thickness < 0:
        # Thinning must not break thin strokes: keep a pen line along the stroke centres.
        # Skeleton points much shallower than their neighbourhood are corner spurs: drop them.
        deep = inside >= 0.6 * cv2.dilate(inside, np.ones((5, 5), np.uint8))
        centre = 1 - (_skeleton(mask) & deep)
        pen = max(1.0, 0.02 * height) - cv2.distanceTransform(centre, cv2.DIST_L2, 5)
        signed = np.maximum(signed, pen)
    ink = np.clip(signed + 0.5, 0.0, 1.0).astype(np.float32)
    return cv2.GaussianBlur(ink, (0, 0), 0.6)


def render_digits(
    pool: DigitPool,
    text: str,
    rng: np.random.Generator,
    *,
    height: float,
    thickness: float = 0,
    gap: float | Sequence[float] | None = None,
    slant: float = 0.0,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Render a handwritten digit string as an ink image.

    Parameters
    ----------
    pool : DigitPool
        Source of the digit shapes.
    text : str
        Digits to write.
    rng : numpy.random.Generator
        Randomness (digit choice, size and position jitter).
    height : float
        Ink height of each digit in px, varied by +-10 % per digit; vertical jitter +-4 %.
    thickness : float
        Px added to each side of the strokes (> 0 thicker, < 0 thinner) at the final scale.
    gap : float, sequence of float or None
        Px between the ink boxes of neighbouring digits (negative: touching/overlapping, by
        at most :data:`MAX_OVERLAP` of the narrower digit's width); a sequence gives one gap
        per pair; ``None`` draws a natural spacing.
    slant : float
        Horizontal shear (0.2 leans the tops right by 20 % of the height), +-0.04 per digit.

    Returns
    -------
    ink : ndarray, float32
        Tightly cropped ink in [0, 1] (ink 1, background 0).
    boxes : list of tuple of int
        ``(x, y, w, h)`` of each digit's ink (level above 0.5) in ``ink``.
    """
    if not text or not text.isdigit():
        raise ValueError(f"text must be a non-empty string of digits, got {text!r}")
    if gap is None:
        gaps = rng.uniform(0.05, 0.35, len(text) - 1) * height
    elif np.ndim(gap) == 0:
        gaps = np.full(len(text) - 1, float(gap))
    else:
        gaps = np.asarray(gap, float)
        if gaps.shape != (len(text) - 1,):
            raise ValueError(f"need {len(text) - 1} gaps for {len(text)} digits")
    glyphs, boxes, bottoms, origins = [], [], [], []
    for char in text:
        size = height * rng.uniform(0.9, 1.1)
        ink = _glyph(pool.sample(int(char), rng), size, slant + rng.normal(0, 0.04), thickness)
        glyphs.append(ink)
        boxes.append(_ink_bbox(ink))
        bottoms.append(height * rng.uniform(-0.04, 0.04))
    left = 0.0
    for i, ((bx, by, bw, bh), bottom) in enumerate(zip(boxes, bottoms, strict=True)):
        origins.append((int(round(left)) - bx, int(round(bottom)) - (by + bh)))
        if i < len(gaps):
            # A digit may overlap its neighbour, but not hide under it: a 1 drawn inside an
            # 8 is unreadable for anyone.
            left += bw + max(gaps[i], -MAX_OVERLAP * min(bw, boxes[i + 1][2]))
    x0 = min(ox for ox, _ in origins)
    y0 = min(oy for _, oy in origins)
    x1 = max(ox + g.shape[1] for (ox, _), g in zip(origins, glyphs, strict=True))
    y1 = max(oy + g.shape[0] for (_, oy), g in zip(origins, glyphs, strict=True))
    canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
    for (ox, oy), ink in zip(origins, glyphs, strict=True):
        part = canvas[oy - y0 : oy - y0 + ink.shape[0], ox - x0 : ox - x0 + ink.shape[1]]
        np.maximum(part, ink, out=part)
    cx, cy, cw, ch = _ink_bbox(canvas, 0.01)
    canvas = canvas[cy : cy + ch, cx : cx + cw].copy()
    shifted = [
        (ox - x0 - cx + bx, oy - y0 - cy + by, bw, bh)
        for (ox, oy), (bx, by, bw, bh) in zip(origins, boxes, strict=True)
    ]
    return canvas, shifted


def _random_text(rng: np.random.Generator, low: int, high: int) -> str:
    """Return a uniformly random digit string of ``low`` to ``high`` digits."""
    return "".join(str(d) for d in rng.integers(0, 10, rng.integers(low, high + 1)))


def _pen_thickness(rng: np.random.Generator, height: float, px_per_mm: float) -> float:
    """Thickness for :func:`render_digits` that gives a 0.3-0.9 mm pen at ``px_per_mm``."""
    natural = _MNIST_STROKE * height
    pen = rng.uniform(0.3, 0.9) * px_per_mm
    return float(np.clip((pen - natural) / 2, -0.3 * natural, 0.25 * natural))


def _pen_colour(rng: np.random.Generator) -> np.ndarray:
    """Return a BGR pen colour: blue ballpoint, black, blue-black or pencil-gray."""
    kind = rng.choice(4, p=[0.45, 0.35, 0.12, 0.08])
    base = ((150, 50, 20), (35, 35, 35), (95, 45, 35), (95, 95, 95))[kind]
    spread = (30, 20, 15) if kind == 0 else (12, 12, 12)
    return np.clip(np.array(base) + rng.uniform(-1, 1, 3) * spread, 0, 255)


def _stamp(canvas: np.ndarray, ink: np.ndarray, x: int, y: int) -> None:
    """Max-combine ``ink`` into ``canvas`` with its top-left at ``(x, y)``, clipping."""
    h, w = ink.shape
    cy0, cx0 = max(y, 0), max(x, 0)
    cy1, cx1 = min(y + h, canvas.shape[0]), min(x + w, canvas.shape[1])
    if cy1 <= cy0 or cx1 <= cx0:
        return
    part = canvas[cy0:cy1, cx0:cx1]
    np.maximum(part, ink[cy0 - y : cy1 - y, cx0 - x : cx1 - x], out=part)


def _ink_points(ink: np.ndarray, x: int, y: int) -> np.ndarray:
    """Outline points (page coordinates, float32 Nx2) of the ink above :data:`INK_LEVEL`."""
    contours, _ = cv2.findContours(
        (ink > INK_LEVEL).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    points = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float32)
    return points + np.array([x, y], np.float32)


def _box_of(points: np.ndarray, transform: np.ndarray, shape) -> tuple[int, int, int, int]:
    """Bounding box of ``points`` mapped by a 3x3 ``transform``, clipped to the image."""
    moved = cv2.perspectiveTransform(points.reshape(-1, 1, 2), transform).reshape(-1, 2)
    x0, y0 = np.clip(np.round(moved.min(axis=0)), 0, [shape[1] - 1, shape[0] - 1])
    x1, y1 = np.clip(np.round(moved.max(axis=0)), 0, [shape[1] - 1, shape[0] - 1])
    return int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)


def _blend_ink(image: np.ndarray, ink: np.ndarray, x: int, y: int, colour, rng) -> None:
    """Darken ``image`` (BGR uint8, in place) with pen ``ink`` like ink soaking into paper."""
    h, w = ink.shape
    region = image[y : y + h, x : x + w]
    ink = ink[: region.shape[0], : region.shape[1]]
    # Ballpoint ink is uneven: modulate its strength with a smooth random field.
    small = rng.uniform(0.0, 1.0, (max(2, h // 6), max(2, w // 6))).astype(np.float32)
    texture = cv2.resize(small, (ink.shape[1], ink.shape[0]), interpolation=cv2.INTER_CUBIC)
    alpha = ink * rng.uniform(0.85, 1.0) * (1.0 - rng.uniform(0.0, 0.2) * texture)
    tint = 1.0 - np.asarray(colour, np.float32) / 255.0
    factor = 1.0 - alpha[:, :, None] * tint
    region[:] = np.clip(region * factor, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- printed form


def _label(rng: np.random.Generator, index: int) -> str:
    """A printed field label, usually holding printed digits (not ground truth)."""
    name = str(rng.choice(_LABELS))
    prefix = rng.choice(
        [f"{index}. ", f"{index}) ", f"Q{index} ", f"{rng.integers(1, 9)}.{index} ", ""],
        p=[0.35, 0.15, 0.1, 0.15, 0.25],
    )
    suffix = rng.choice(
        [
            "",
            ":",
            f" ({rng.integers(2, 11)} digits)",
            f" 20{rng.integers(10, 30)}",
            f" (e.g. {_random_text(rng, 2, 4)})",
            f" [{rng.integers(1, 99)}]",
        ],
        p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.1],
    )
    return f"{prefix}{name}{suffix}"


def _note(rng: np.random.Generator) -> str:
    """A printed instruction line with printed digits in it."""
    return str(rng.choice(_NOTES)).format(
        a=rng.integers(1, 5),
        b=rng.integers(5, 12),
        d=rng.integers(1, 29),
        m=rng.integers(1, 13),
        y=rng.integers(2019, 2031),
        n=rng.integers(100, 9999),
        k=rng.integers(10, 999),
    )


@dataclass
class _Slot:
    """A handwritten field laid out around its own origin, before placement on the page."""

    text: str
    width: int
    height: int
    shapes: list  # printed shapes: ("line"|"rect", x0, y0, x1, y1) relative to the slot
    ink: np.ndarray
    ink_x: int
    ink_y: int


def _underline_slot(text, ink, rng, h, line_w, dotted) -> _Slot:
    """Digits written on a printed underline that may cross the bottom of the digits."""
    ih, iw = ink.shape
    lead, tail = int(h * rng.uniform(0.05, 0.6)), int(h * rng.uniform(0.3, 3.0))
    line_y = ih + int(h * rng.uniform(-0.2, 0.25))
    width = lead + iw + tail
    if dotted:
        step = max(4, int(h * rng.uniform(0.1, 0.25)))
        dash = max(1, int(step * rng.uniform(0.15, 0.6)))
        shapes = [("line", x, line_y, x + dash, line_y) for x in range(0, width, step)]
    else:
        shapes = [("line", 0, line_y, width, line_y)]
    return _Slot(text, width, max(ih, line_y + line_w) + 1, shapes, ink, lead, 0)


def _box_slot(text, ink, rng, h) -> _Slot:
    """Digits inside one printed rectangle; the ink may touch or cross its edges."""
    ih, iw = ink.shape
    left, right = (int(h * v) for v in rng.uniform(-0.05, 0.45, 2))
    top, bottom = (int(h * v) for v in rng.uniform(-0.05, 0.3, 2))
    x0, y0 = max(0, -left), max(0, -top)
    rect = ("rect", x0, y0, x0 + left + iw + right, y0 + top + ih + bottom)
    width = max(rect[3], x0 + left + iw) + 1
    height = max(rect[4], y0 + top + ih) + 1
    return _Slot(text, width, height, [rect], ink, x0 + left, y0 + top)


def _comb_slot(pool, text, rng, h, style) -> _Slot:
    """One digit per cell: teeth rising from a base line, or a full grid of cells."""
    cells = min(12, len(text) + (0 if rng.random() < 0.6 else int(rng.integers(1, 4))))
    cw, ch = int(h * rng.uniform(0.8, 1.3)), int(h * rng.uniform(1.1, 1.5))
    first = 0 if rng.random() < 0.75 else cells - len(text)
    slant = style["slant"]
    canvas = np.zeros((ch + h, cells * cw + h), np.float32)  # h/2 margin on all sides
    m = h // 2
    for i, char in enumerate(text):
        ink, _ = render_digits(
            pool,
            char,
            rng,
            height=min(h * rng.uniform(0.85, 1.05), ch * 0.98),
            thickness=style["thickness"],
            slant=slant,
        )
        if ink.shape[1] > 0.95 * cw:  # people squeeze wide digits into the cell
            factor = 0.95 * cw / ink.shape[1]
            ink = cv2.resize(ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        dh, dw = ink.shape
        room = max(0.0, (cw - dw) / 2)
        x = m + (first + i) * cw + (cw - dw) / 2 + rng.uniform(-1.15, 1.15) * room
        y = m + ch - dh - rng.uniform(-0.08, 0.2) * h
        _stamp(canvas, ink, int(round(x)), int(round(y)))
    ys, xs = np.nonzero(canvas > 0.01)
    x0, y0 = min(xs.min(), m), min(ys.min(), m)
    ink = canvas[y0 : max(ys.max() + 1, m + ch + 1), x0 : max(xs.max() + 1, m + cells * cw + 1)]
    ox, oy = m - x0, m - y0
    if style["grid"]:
        shapes = [("rect", ox, oy, ox + cells * cw, oy + ch)]
        shapes += [("line", ox + k * cw, oy, ox + k * cw, oy + ch) for k in range(1, cells)]
    else:
        tooth = int(ch * rng.uniform(0.25, 0.6))
        shapes = [("line", ox, oy + ch, ox + cells * cw, oy + ch)]
        shapes += [
            ("line", ox + k * cw, oy + ch - tooth, ox + k * cw, oy + ch) for k in range(cells + 1)
        ]
    return _Slot(text, ink.shape[1], ink.shape[0], shapes, ink.copy(), 0, 0)


def _make_slot(pool, text: str, rng, h: float, px_per_mm: float, writer: dict, line_w: int):
    """Write ``text`` in a random kind of field, with the writer's habits and a random pen."""
    h = int(h)
    style = {
        "thickness": _pen_thickness(rng, h, px_per_mm),
        "slant": writer["slant"] + rng.normal(0, 0.04),
        "grid": rng.random() < 0.5,
    }
    kind = rng.choice(["underline", "dotted", "box", "comb"], p=[0.3, 0.1, 0.25, 0.35])
    if kind == "comb":
        return _comb_slot(pool, text, rng, h, style)
    gaps = h * (writer["spacing"] + rng.normal(0, 0.06, len(text) - 1))
    ink, _ = render_digits(
        pool, text, rng, height=h, thickness=style["thickness"], gap=gaps, slant=style["slant"]
    )
    if kind == "box":
        return _box_slot(text, ink, rng, h)
    return _underline_slot(text, ink, rng, h, line_w, kind == "dotted")


def _paper_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """RGB paper: white, off-white, yellowish, sometimes a light coloured form."""
    base = rng.uniform(232, 255)
    if rng.random() < 0.1:
        tint = rng.uniform(0, 25, 3)
        tint[rng.integers(3)] = 0
    else:
        tint = np.array([0.0, rng.uniform(0, 5), rng.uniform(0, 14)])
    return tuple(int(v) for v in np.clip(base - tint, 0, 255))


def _draw_shapes(draw, shapes, x: int, y: int, colour, width: int) -> None:
    """Draw a slot's printed lines and rectangles at page offset ``(x, y)``."""
    for kind, x0, y0, x1, y1 in shapes:
        box = (x + x0, y + y0, x + x1, y + y1)
        if kind == "rect":
            draw.rectangle(box, outline=colour, width=width)
        else:
            draw.line(box, fill=colour, width=width)


@dataclass
class _Print:
    """Printing style of one form: where and how its printed matter is drawn."""

    draw: ImageDraw.ImageDraw
    width: int
    height: int
    margin: int
    text_px: float
    body: Path
    heading: Path
    black: tuple[int, int, int]
    paper: tuple[int, int, int]

    def text(self, xy, text: str, size: float, heading: bool = False, fill=None) -> None:
        """Draw ``text`` with its top-left at ``xy``."""
        font = load_font(self.heading if heading else self.body, size)
        self.draw.text(xy, text, font=font, fill=self.black if fill is None else fill)

    def length(self, text: str, size: float, heading: bool = False) -> float:
        """Width in px of ``text`` as :meth:`text` would draw it."""
        return self.draw.textlength(
            text, font=load_font(self.heading if heading else self.body, size)
        )


def _draw_header(style: _Print, rng, scale: float, line_w: int) -> int:
    """Draw title (sometimes white on a dark bar), form codes and notes; return the next y."""
    margin, text_px, width = style.margin, style.text_px, style.width
    y = int(margin * rng.uniform(0.5, 0.9))
    title = f"{rng.choice(_TITLES)}" + rng.choice(["", f" {rng.integers(2015, 2031)}"])
    title += rng.choice(["", f" No. {rng.integers(1, 999)}"])
    size = scale * rng.uniform(34, 56)
    size = min(size, size * (width - 2 * margin) / style.length(title, size, True))
    tw = style.length(title, size, True)
    tx = margin if rng.random() < 0.5 else int((width - tw) / 2)
    if rng.random() < 0.2:
        style.draw.rectangle(
            (margin // 2, y - 6, width - margin // 2, y + 1.25 * size + 6), fill=style.black
        )
        style.text((tx, y), title, size, True, style.paper)
    else:
        style.text((tx, y), title, size, True)
    y += int(1.25 * size + text_px * 0.6)
    codes = f"Form {rng.integers(1, 99)}-{chr(65 + rng.integers(26))}"
    codes += f"    Rev. {rng.integers(1, 13):02d}/{rng.integers(2010, 2031)}"
    codes += f"    Ref. No. {_random_text(rng, 5, 8)}"
    style.text((margin, y), codes, text_px * 0.8)
    y += int(text_px * 1.5)
    for _ in range(rng.integers(0, 1 + min(2, int(style.height / (30 * text_px))))):
        style.text((margin, y), _note(rng), text_px * 0.8)
        y += int(text_px * 1.3)
    if rng.random() < 0.6:
        style.draw.line((margin, y, width - margin, y), fill=style.black, width=line_w)
    return y + int(text_px * rng.uniform(1.0, 2.0))


def _draw_footer(style: _Print, rng) -> int:
    """Draw the printed page number and form code; return the lowest y fields may use."""
    foot = int(style.height - style.margin * 0.6 - style.text_px)
    page_no = rng.choice(
        [f"Page {rng.integers(1, 4)} of {rng.integers(4, 9)}", f"- {rng.integers(1, 20)} -"]
    )
    style.text((int(style.width * 0.45), foot), str(page_no), style.text_px * 0.8)
    if rng.random() < 0.7:
        code = f"F{_random_text(rng, 3, 5)}/{rng.integers(1, 9)}"
        style.text((style.margin, foot), code, style.text_px * 0.8)
    return int(foot - style.text_px * 1.5)


@dataclass
class _Row:
    """A row of labelled fields; ``items`` holds (slot, label, x, label width, label above)."""

    gap: float
    height: int
    right: int
    section: str | None
    items: list = field(default_factory=list)


def _layout(pool, rng, style: _Print, space: float, n_fields, h_range, scale: float, line_w: int):
    """Write the fields and pack them into rows that fit in ``space`` px of height.

    ``n_fields`` = (least, wanted); digit heights are capped so that the least number of
    fields fit even one per row. Returns the rows and the unused height.
    """
    min_fields, n_fields = n_fields
    text_px, margin = style.text_px, style.margin
    avail = style.width - 2 * margin
    h_hi = min(h_range[1], (space / min_fields - 5.5 * text_px) / 1.8)
    h_lo = min(h_range[0], h_hi)
    px_per_mm = 150 * scale / 25.4
    writer = {"slant": rng.normal(0.05, 0.12), "spacing": rng.uniform(0.02, 0.35)}
    rows: list[_Row] = []
    used, count = 0.0, 0
    for _ in range(3 * n_fields):
        if count == n_fields:
            break
        text = _random_text(rng, 1, 10)
        h = min(rng.uniform(h_lo, h_hi), avail / (1.4 * len(text) + 1.2))
        slot = _make_slot(pool, text, rng, h, px_per_mm, writer, line_w)
        label = _label(rng, count + 1)
        lw = int(style.length(label, text_px)) + int(text_px * rng.uniform(0.5, 1.5))
        if slot.width > avail:
            continue
        above = lw + slot.width > avail or rng.random() < 0.35
        bw = max(lw, slot.width) if above else lw + slot.width
        bh = slot.height + (int(text_px * 1.4) if above else 0)
        x = rows[-1].right + int(text_px * rng.uniform(1.5, 4)) if rows else style.width
        if x + bw <= style.width - margin and rng.random() < 0.5:
            grow = max(0, bh - rows[-1].height)
            if used + grow > space:
                continue
            row = rows[-1]
        else:
            section = None
            if rng.random() < 0.15:
                section = f"{rng.integers(1, 9)}  {rng.choice(_SECTIONS)}"
            row = _Row(text_px * rng.uniform(0.8, 2.0), 0, 0, section)
            x = margin
            grow = row.gap + bh + (2 * text_px if section else 0)
            if used + grow > space:
                continue
            rows.append(row)
        used += grow
        row.height, row.right = max(row.height, bh), x + bw
        row.items.append((slot, label, x, lw, above))
        count += 1
    return rows, space - used


def _compose_form(pool, rng, size, scale: float, n_fields: tuple[int, int], h_range):
    """Lay out and draw a clean form page.

    Parameters
    ----------
    size : tuple of int
        ``(width, height)`` of the page in px.
    scale : float
        Size of the printed matter relative to an A4 page at 150 dpi.
    n_fields : tuple of int
        Least and most handwritten fields; the least always fit.
    h_range : tuple of float
        Range of the digit ink height in px (capped to fit the page).

    Returns
    -------
    image : ndarray
        BGR uint8 page.
    fields : list of (str, ndarray)
        Text and ink outline points in page coordinates, in reading order.
    paper : tuple of int
        The BGR paper colour.
    """
    width, height = size
    paper = _paper_colour(rng)
    page = Image.new("RGB", (width, height), paper)
    fonts = font_files()
    body, heading = (fonts[i] for i in rng.choice(len(fonts), 2))
    style = _Print(
        draw=ImageDraw.Draw(page),
        width=width,
        height=height,
        margin=int(width * rng.uniform(0.06, 0.1)),
        text_px=scale * rng.uniform(20, 30),
        body=body,
        heading=heading,
        black=(int(rng.uniform(0, 60)),) * 3,
        paper=paper,
    )
    line_w = max(1, int(round(scale * rng.uniform(1.0, 2.6))))
    top = _draw_header(style, rng, scale, line_w)
    bottom = _draw_footer(style, rng)
    wanted = (n_fields[0], int(rng.integers(n_fields[0], n_fields[1] + 1)))
    rows, leftover = _layout(pool, rng, style, bottom - top, wanted, h_range, scale, line_w)
    line_colour = style.black
    if rng.random() < 0.2:  # printed in a light "dropout" colour
        line_colour = tuple(int(v) for v in rng.uniform(90, 230, 3))
    # Spread the spare height over the gaps between rows (some stays at the bottom).
    shares = rng.dirichlet(np.ones(len(rows) + 1)) * leftover * rng.uniform(0.3, 1.0)
    jobs = []
    y = float(top)
    for row, share in zip(rows, shares[:-1], strict=True):
        y += row.gap + share
        if row.section:
            style.text((style.margin, int(y)), row.section, style.text_px * 1.1, True)
            y += 2 * style.text_px
        for slot, label, x, lw, above in row.items:
            if above:
                style.text((x, int(y)), label, style.text_px)
                sx, sy = x, int(y + style.text_px * 1.4)
            else:
                ly = y + max(0, slot.height - style.text_px * 1.2)  # bottom-aligned
                style.text((x, int(ly)), label, style.text_px)
                sx, sy = x + lw, int(y)
            _draw_shapes(style.draw, slot.shapes, sx, sy, line_colour, line_w)
            jobs.append((slot, sx + slot.ink_x, sy + slot.ink_y))
        y += row.height

    image = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
    pen = _pen_colour(rng)
    fields = []
    for slot, x, y in jobs:
        colour = np.clip(pen + rng.normal(0, 6, 3), 0, 255)
        _blend_ink(image, slot.ink, x, y, colour, rng)
        fields.append((slot.text, _ink_points(slot.ink, x, y)))
    return image, fields, paper[::-1]


# --------------------------------------------------------------------------- degradations


def _smooth_field(rng, shape, cells: int = 4) -> np.ndarray:
    """A smooth random float32 field in [0, 1] of ``shape`` (from a coarse grid)."""
    coarse = rng.uniform(0, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _ramp(rng, shape, low: float) -> np.ndarray:
    """A linear illumination ramp from ``low`` to 1 along a random direction (float32)."""
    h, w = shape
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx / max(w - 1, 1) * math.cos(angle) + yy / max(h - 1, 1) * math.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return low + (1 - low) * t


def _upscaled(small: np.ndarray, shape) -> np.ndarray:
    """Resize a coarse float map to ``shape`` (linear)."""
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round-trip at ``quality``."""
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def _finish(image: np.ndarray, light, sigma: float, rng, shift: float = 0.0) -> np.ndarray:
    """Light and noise a uint8 image.

    Multiplies by ``light`` (float map, HxW or HxWx3, any positive values), then adds
    ``shift`` plus triangular noise of about ``sigma`` gray levels (the same in all channels,
    like luminance noise). Works in saturating uint8 arithmetic, which is fast on big pages.
    """
    colour = image.ndim == 3
    peak = max(float(light.max()), 1e-3)
    gain = cv2.convertScaleAbs(light, alpha=255 / peak)
    if colour and gain.ndim == 2:
        gain = cv2.merge([gain] * 3)
    out = cv2.multiply(image, gain, scale=peak / 255)
    half = max(1, int(round(sigma * 0.87)))  # two uniforms in [-a, a]: sd = a * sqrt(2/3)
    noise = rng.integers(-half, half + 1, image.shape[:2], dtype=np.int16)
    noise += rng.integers(-half, half + 1, image.shape[:2], dtype=np.int16) + int(round(shift))
    return cv2.add(out, cv2.merge([noise] * 3) if colour else noise, dtype=cv2.CV_8U)


def _specks(image: np.ndarray, rng, count: int, radius: float, colours) -> None:
    """Scatter small dots (dust, toner, dropouts) of random ``colours`` onto ``image``."""
    h, w = image.shape[:2]
    for _ in range(count):
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        colour = colours[rng.integers(len(colours))]
        cv2.circle(image, centre, int(rng.uniform(0, radius + 1)), colour, -1, cv2.LINE_AA)


def _scan(image: np.ndarray, paper, rng) -> tuple[np.ndarray, np.ndarray]:
    """Apply flatbed-scanner effects; return the scan and its 3x3 geometric transform."""
    h, w = image.shape[:2]
    if rng.random() < 0.35:
        dark, light = int(rng.uniform(0, 70)), int(rng.uniform(200, 255))
        _specks(image, rng, int(rng.integers(10, 300)), 2, [(dark,) * 3, (light,) * 3])
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-3, 3), 1.0)
    border = paper if rng.random() < 0.6 else (int(rng.uniform(80, 200)),) * 3
    image = cv2.warpAffine(
        image, rotation, (w, h), flags=cv2.INTER_LINEAR, borderValue=tuple(int(v) for v in border)
    )
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.1))
    light = _upscaled(_ramp(rng, (16, 16), rng.uniform(0.86, 1.0)), (h, w))
    image = _finish(image, light, rng.uniform(1.5, 7), rng)
    if rng.random() < 0.15:
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.5:
        image = _jpeg(image, rng.integers(55, 96))
    return image, np.vstack([rotation, [0, 0, 1]])


def _table(rng, shape) -> np.ndarray:
    """A darker background for photos: wood grain, a plain desk or cloth (BGR uint8)."""
    h, w = shape
    kind = rng.integers(3)
    base = (
        np.array([40, 75, 120]) * rng.uniform(0.6, 1.4),
        np.full(3, rng.uniform(30, 110)),
        rng.uniform(20, 120, 3),
    )[kind]
    if kind == 0:
        grain = rng.normal(0, 1, (max(2, h // 6), 6)).astype(np.float32)
        if rng.random() < 0.5:
            grain = grain.T
        texture = 1 + 0.25 * np.tanh(_upscaled(grain, shape))
    else:
        texture = 1 + 0.15 * (_smooth_field(rng, shape, 8) - 0.5)
    return np.clip(texture[:, :, None] * base, 0, 255).astype(np.uint8)


def _light_map(rng, shape) -> np.ndarray:
    """Uneven photo lighting at 1/8 scale: ramp, vignette, soft shadow band, glare."""
    h, w = max(2, shape[0] // 8), max(2, shape[1] // 8)
    light = _ramp(rng, (h, w), rng.uniform(0.45, 0.85))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.6:
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        light *= 1 - rng.uniform(0.1, 0.35) * r2 / 2
    if rng.random() < 0.45:
        angle = rng.uniform(0, math.pi)
        d = (xx - rng.uniform(0, w)) * math.cos(angle) + (yy - rng.uniform(0, h)) * math.sin(angle)
        half = rng.uniform(0.05, 0.2) * max(h, w)
        band = cv2.GaussianBlur((np.abs(d) < half).astype(np.float32), (0, 0), half * 0.3 + 1)
        light *= 1 - rng.uniform(0.2, 0.45) * band
    if rng.random() < 0.2:
        gx, gy, s = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.2) * max(h, w)
        light += rng.uniform(0.1, 0.35) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * s * s))
    return _upscaled(light, shape)


def _photo_frame(rng, page_size) -> tuple[tuple[int, int], np.ndarray]:
    """Choose a photo size and where the page corners land in it.

    The page is scaled to fill 70-92 % of the frame, turned by up to 6 degrees, its far edge
    shortened (keystone) and each corner moved by 2-8 % of the page size.

    Returns
    -------
    size : tuple of int
        ``(width, height)`` of the photo.
    quad : ndarray of shape (4, 2), float32
        Page corners (top-left, top-right, bottom-right, bottom-left) in the photo.
    """
    pw, ph = page_size
    long_side = rng.uniform(1000, 1600)
    aspect = rng.choice([4 / 3, 16 / 9])
    portrait = (ph >= pw) == (rng.random() < 0.9)
    ow, oh = (long_side / aspect, long_side) if portrait else (long_side, long_side / aspect)
    frame = np.array([int(ow), int(oh)])
    k = rng.uniform(0.7, 0.92) * min(frame[0] / pw, frame[1] / ph)
    dims = k * np.array([pw, ph])
    centre = frame / 2 + rng.uniform(-1, 1, 2) * (frame - dims) / 3
    quad = (np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]]) - [pw / 2, ph / 2]) * k
    quad[:2, 0] *= 1 - rng.uniform(0, 0.12)  # keystone: the far edge looks shorter
    angle = math.radians(rng.uniform(-6, 6))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    quad = quad @ turn.T + centre
    direction = rng.uniform(0, 2 * math.pi, 4)
    jitter = rng.uniform(0.02, 0.08, (4, 1)) * dims
    quad += jitter * np.stack([np.cos(direction), np.sin(direction)], axis=1)
    quad = np.clip(quad, 2, frame - 3).astype(np.float32)
    return (int(frame[0]), int(frame[1])), quad


def _photograph(page: np.ndarray, size, quad: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Photograph ``page`` lying on a table with its corners at ``quad``.

    Returns the BGR photo of ``size`` = ``(width, height)`` and the page-to-photo homography.
    """
    ph, pw = page.shape[:2]
    ow, oh = size
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    homography = cv2.getPerspectiveTransform(src, quad)

    photo = _table(rng, (oh, ow))
    shadow = np.zeros((oh // 4, ow // 4), np.float32)
    offset = rng.uniform(3, 25, 2) * rng.choice([-1, 1], 2)
    cv2.fillConvexPoly(shadow, ((quad + offset) / 4).astype(np.int32), 1.0)
    shadow = 1 - rng.uniform(0.3, 0.6) * cv2.GaussianBlur(shadow, (0, 0), 4)
    photo = _finish(photo, _upscaled(shadow, (oh, ow)), 0, rng)
    cv2.warpPerspective(
        page,
        homography,
        (ow, oh),
        dst=photo,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    )
    if rng.random() < 0.3:  # hand shake: a short line kernel
        length = int(rng.integers(3, 8))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0
        centre = (length / 2 - 0.5, length / 2 - 0.5)
        kernel = cv2.warpAffine(
            kernel, cv2.getRotationMatrix2D(centre, rng.uniform(0, 180), 1), (length, length)
        )
        photo = cv2.filter2D(photo, -1, kernel / max(float(kernel.sum()), 1e-6))
    else:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.4, 1.3))
    warm = rng.uniform(-1, 1)  # colour temperature: blue for cool light, red for warm
    cast = np.array([1 - 0.12 * warm, 1 + rng.uniform(-0.03, 0.03), 1 + 0.12 * warm])
    cast *= rng.uniform(0.85, 1.1)
    light = _light_map(rng, (oh, ow))[:, :, None] * cast.astype(np.float32)
    photo = _finish(photo, light, rng.uniform(2, 7), rng, rng.uniform(0, 12))
    return _jpeg(photo, rng.integers(50, 86)), homography


# --------------------------------------------------------------------------- page kinds


def make_form(pool: DigitPool, rng: np.random.Generator) -> Page:
    """A scanned A4-like form with 3-8 handwritten fields among printed text."""
    scale = rng.uniform(0.8, 1.6)
    size = (int(1240 * scale), int(1754 * scale))
    heights = (max(28, 32 * scale), min(110, 65 * scale))
    image, fields, paper = _compose_form(pool, rng, size, scale, (3, 8), heights)
    image, transform = _scan(image, paper, rng)
    return Page("form", image, [Field(t, _box_of(p, transform, image.shape)) for t, p in fields])


def make_photo(pool: DigitPool, rng: np.random.Generator) -> Page:
    """A phone photo of a small form with 2-5 fields lying on a table."""
    long_side = rng.uniform(1100, 1500)
    ratio = rng.choice([1.414, 1.294, 0.707, rng.uniform(0.6, 0.8)])  # height / width
    width = int(long_side / ratio if ratio > 1 else long_side)
    size = (width, int(width * ratio))
    frame, quad = _photo_frame(rng, size)
    # Digit heights chosen so that the digits are 30-80 px tall in the photo.
    k = math.sqrt(cv2.contourArea(quad) / (size[0] * size[1]))
    scale = min(size) / 1240 * rng.uniform(1.1, 1.6)
    image, fields, _ = _compose_form(pool, rng, size, scale, (2, 5), (30 / k, 80 / k))
    image, homography = _photograph(image, frame, quad, rng)
    return Page("photo", image, [Field(t, _box_of(p, homography, image.shape)) for t, p in fields])


def _background(rng, shape, dark: bool, colour: bool) -> np.ndarray:
    """Plain, lightly textured or colour-noise background (float32 HxWx3, 0..255)."""
    level = rng.uniform(0, 70) if dark else rng.uniform(200, 255)
    base = np.full(3, level) + (rng.uniform(-25, 25, 3) if colour else 0)
    out = np.empty((*shape, 3), np.float32)
    out[:] = base
    style = rng.integers(3)
    if style == 1:
        out += (rng.uniform(8, 30) * (_smooth_field(rng, shape, 6) - 0.5))[:, :, None]
    elif style == 2:
        noise = rng.normal(0, rng.uniform(5, 20), (*shape, 3 if colour else 1))
        out += cv2.GaussianBlur(noise.astype(np.float32), (0, 0), 0.8).reshape(*shape, -1)
    return out


def _strike(rng, shape, band, width: int) -> np.ndarray:
    """A thin straight or curved line across ``band`` = (x0, y0, x1, y1) (float32 mask)."""
    mask = np.zeros(shape, np.uint8)
    x0, y0, x1, y1 = band
    xs = np.linspace(x0 - rng.uniform(0, 0.2) * (x1 - x0), x1 + rng.uniform(0, 0.2) * (x1 - x0))
    slope = math.tan(math.radians(rng.uniform(-20, 20)))
    ys = rng.uniform(y0 + 0.2 * (y1 - y0), y1 - 0.2 * (y1 - y0)) + slope * (xs - xs.mean())
    if rng.random() < 0.5:
        period = rng.uniform(0.5, 2.0) * (x1 - x0)
        ys += (
            rng.uniform(0.05, 0.25)
            * (y1 - y0)
            * np.sin(2 * math.pi * xs / period + rng.uniform(0, 6.3))
        )
    points = np.stack([xs, ys], axis=1).round().astype(np.int32)
    cv2.polylines(mask, [points], False, 255, width, cv2.LINE_AA)
    return mask.astype(np.float32) / 255


def _compose_ink(background: np.ndarray, layers, rng) -> np.ndarray:
    """Alpha-composite ``(alpha, BGR colour)`` ink layers over a float ``background``.

    Returns the BGR uint8 image.
    """
    out = background
    for alpha, colour in layers:
        a = alpha[:, :, None] * rng.uniform(0.85, 1.0)
        out = out * (1 - a) + np.asarray(colour, np.float32) * a
    return np.clip(out, 0, 255).astype(np.uint8)


def _ink_colour(rng, dark_ink: bool, colour: bool) -> np.ndarray:
    """BGR ink colour: dark on light paper (pen, or any dark colour), or light on dark."""
    if not dark_ink:
        return np.full(3, rng.uniform(185, 255)) + (rng.uniform(-30, 0, 3) if colour else 0)
    if colour and rng.random() < 0.5:
        return rng.uniform(0, 130, 3)
    return _pen_colour(rng) if colour else np.full(3, rng.uniform(0, 90))


def _develop(image, light, colour: bool, rng, blur: float, noise: float, quality: int):
    """Blur, light, noise up to ``noise``, gray (unless ``colour``) and, a third of the time,
    JPEG of quality 50 to ``quality``: the last steps of strips and singles."""
    image = cv2.GaussianBlur(image, (0, 0), blur)
    image = _finish(image, light, rng.uniform(1, noise), rng)
    if not colour:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if rng.random() < 0.3:
        image = _jpeg(image, rng.integers(50, quality))
    return image


def make_strip(pool: DigitPool, rng: np.random.Generator) -> Page:
    """A captcha-like strip of 4-8 digits with overlaps, strike-throughs and speckles."""
    return _strip(pool, rng, _random_text(rng, 4, 8), h=rng.uniform(28, 75), frames=False)


def make_string(pool: DigitPool, rng: np.random.Generator, lengths=(1, 10)) -> Page:
    """A training or benchmark sample for the string model: one field of 1-10 digits.

    Like :func:`make_strip`, and a third of the time written on an underline, in a box or in
    comb cells, or on ruled paper; digit heights 16-90 px.
    """
    text = _random_text(rng, *lengths)
    return _strip(pool, rng, text, h=rng.uniform(16, 90), frames=rng.random() < 0.35)


def make_dotted(pool: DigitPool, rng: np.random.Generator) -> Page:
    """A dotted captcha: 4-6 digits drawn as dots along their strokes, in colour.

    Dots of one size (radius 2-3 px) lie 7-10 px apart along each digit's skeleton (digits
    112 px tall); no digit path or string model is trained on such strips.
    """
    text = _random_text(rng, 4, 6)
    spacing, radius = rng.uniform(7, 10), int(rng.integers(2, 4))
    glyphs = []
    for char in text:
        big = cv2.resize(pool.sample(int(char), rng), None, fx=4, fy=4)
        ink = np.zeros_like(big)
        dots: list[tuple[int, int]] = []
        for y, x in zip(*np.nonzero(skeletonize(big > 127)), strict=True):
            if all((y - a) ** 2 + (x - b) ** 2 >= spacing**2 for a, b in dots):
                dots.append((y, x))
                cv2.circle(ink, (int(x), int(y)), radius, 255, -1, cv2.LINE_AA)
        cols = np.flatnonzero(ink.any(axis=0))
        glyphs.append(ink[:, cols[0] - 2 : cols[-1] + 3])
    ink = np.pad(np.concatenate(glyphs, axis=1), 10).astype(np.float32) / 255
    paper = rng.uniform(190, 255, 3).astype(np.float32)
    colour = rng.uniform(0, 110, 3).astype(np.float32)
    image = paper * (1 - ink[..., None]) + colour * ink[..., None]
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    box = _box_of(_ink_points(ink, 0, 0), np.eye(3), image.shape)
    return Page("strip", image, [Field(text, box)])


def _frame(rng, shape, band, boxes, width: int) -> np.ndarray:
    """Underline, box, comb cells or ruling around the ink in ``band`` (float32 mask)."""
    mask = np.zeros(shape, np.uint8)
    x0, y0, x1, y1 = band
    pad = int((y1 - y0) * rng.uniform(0.05, 0.3))
    left, top, right, bottom = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    style = rng.integers(4)
    if style == 0:
        cv2.line(mask, (left, bottom), (right, bottom), 255, width)
    elif style in (1, 2):
        cv2.rectangle(mask, (left, top), (right, bottom), 255, width)
        if style == 2:
            for (ax, _, aw, _), (bx, _, _, _) in zip(boxes, boxes[1:], strict=False):
                wall = x0 + (ax + aw + bx) // 2
                cv2.line(mask, (wall, top), (wall, bottom), 255, width)
    else:
        step = (y1 - y0) * rng.uniform(0.5, 1.2)
        for y in np.arange(rng.uniform(0, step), shape[0], step):
            cv2.line(mask, (0, int(y)), (shape[1], int(y)), 255, max(1, width // 2))
    return mask.astype(np.float32) / 255


def _strip(pool: DigitPool, rng: np.random.Generator, text: str, h: float, frames: bool) -> Page:
    touching = rng.uniform(0.3, 0.5)
    gaps = np.where(
        rng.random(len(text) - 1) < touching,
        -rng.uniform(0.0, 0.3, len(text) - 1) * h,
        rng.uniform(0.02, 0.35, len(text) - 1) * h,
    )
    thickness = rng.uniform(-0.25, 0.3) * _MNIST_STROKE * h
    ink, boxes = render_digits(
        pool, text, rng, height=h, thickness=thickness, gap=gaps, slant=rng.uniform(-0.35, 0.35)
    )
    mx, my = (int(h * v) for v in rng.uniform(0.15, 0.7, 2))
    canvas = np.zeros((ink.shape[0] + 2 * my, ink.shape[1] + 2 * mx), np.float32)
    canvas[my : my + ink.shape[0], mx : mx + ink.shape[1]] = ink
    extra = np.zeros_like(canvas)
    band = (mx, my, mx + ink.shape[1], my + ink.shape[0])
    if frames:
        width = max(1, int(round(h * rng.uniform(0.02, 0.06))))
        np.maximum(extra, _frame(rng, canvas.shape, band, boxes, width), out=extra)
    strikes = rng.choice([0, 1, 2, 3], p=[0.15, 0.5, 0.25, 0.1] if not frames else [0.7, 0.3, 0, 0])
    for _ in range(strikes):
        width = max(1, int(round(h * rng.uniform(0.02, 0.07))))
        np.maximum(extra, _strike(rng, canvas.shape, band, width), out=extra)
    dots = (extra * 255).astype(np.uint8)
    _specks(dots, rng, int(canvas.size * rng.uniform(0, 0.004)), max(1, h / 40), [255])
    extra = dots.astype(np.float32) / 255

    canvas, extra = _turned(rng.uniform(-5, 5), canvas, extra)
    nh, nw = canvas.shape

    dark_ink = rng.random() < 0.8
    colour = rng.random() < 0.5
    digit_colour = _ink_colour(rng, dark_ink, colour)
    line_colour = digit_colour if rng.random() < 0.6 else _ink_colour(rng, dark_ink, colour)
    image = _compose_ink(
        _background(rng, (nh, nw), not dark_ink, colour),
        [(canvas, digit_colour), (extra, line_colour)],
        rng,
    )
    blur = rng.uniform(0.3, 0.9)
    image = _develop(image, np.ones((nh, nw), np.float32), colour, rng, blur, 10, 90)
    points = _ink_points(canvas, 0, 0)
    return Page("strip", image, [Field(text, _box_of(points, np.eye(3), image.shape))])


def _turned(angle: float, *layers: np.ndarray) -> list[np.ndarray]:
    """Rotate same-sized float layers by ``angle`` degrees on a canvas grown to hold them."""
    ch, cw = layers[0].shape
    turn = cv2.getRotationMatrix2D((cw / 2, ch / 2), angle, 1.0)
    c, s = abs(turn[0, 0]), abs(turn[0, 1])
    nw, nh = int(cw * c + ch * s) + 1, int(cw * s + ch * c) + 1
    turn[:, 2] += [(nw - cw) / 2, (nh - ch) / 2]
    return [cv2.warpAffine(layer, turn, (nw, nh), flags=cv2.INTER_LINEAR) for layer in layers]


# --------------------------------------------------------------------------- cheque amounts

#: Printed currency labels left of a cheque's amount box (not ground truth).
_CURRENCIES = ("$", "€", "EUR", "Fr.", "£", "No.", "CHF", "Kč")


def _mark(mask: np.ndarray, char: str, x: float, top: float, base: float, pen: int, rng) -> float:
    """Draw one handwritten non-digit mark (``. , ' - — = / * #``) with its left edge at
    ``x`` on a uint8 ``mask``, between the digits' ``top`` and ``base`` line; return its
    right edge."""
    h = base - top

    def line(*points):
        xy = np.array(points, np.float64) + rng.normal(0, 0.02 * h, (len(points), 2))
        cv2.polylines(mask, [xy.round().astype(np.int32)], False, 255, pen, cv2.LINE_AA)

    if char == ".":
        r = max(1.0, pen * rng.uniform(0.5, 0.9))
        y = base - r + rng.uniform(-0.05, 0.03) * h
        cv2.circle(mask, (int(round(x + r)), int(round(y))), int(round(r)), 255, -1, cv2.LINE_AA)
        return x + 2 * r
    if char in ",'":
        w = h * rng.uniform(0.06, 0.14)
        y0 = base - 0.05 * h if char == "," else top + rng.uniform(-0.05, 0.1) * h
        line((x + w, y0), (x + 0.6 * w, y0 + 0.12 * h), (x, y0 + 0.25 * h))
        return x + w
    if char in "-—=":
        w = h * (rng.uniform(0.25, 0.5) if char != "—" else rng.uniform(0.6, 1.3))
        y = top + h * rng.uniform(0.4, 0.65 if char != "—" else 0.95)
        tilt = rng.uniform(-0.08, 0.08) * w
        line((x, y + tilt), (x + w, y - tilt))
        if char == "=":
            step = h * rng.uniform(0.15, 0.25)
            line((x, y + step + tilt), (x + w, y + step - tilt))
        return x + w
    if char == "/":
        w = h * rng.uniform(0.25, 0.4)
        line((x, base + 0.05 * h), (x + w, top + 0.15 * h))
        return x + w
    w = h * rng.uniform(0.3, 0.45)  # "*" and "#"
    cx, cy = x + w / 2, top + h * rng.uniform(0.3, 0.5)
    if char == "*":
        for angle in (90, 30, 150):
            dx, dy = math.cos(math.radians(angle)) * w / 2, math.sin(math.radians(angle)) * w / 2
            line((cx - dx, cy - dy), (cx + dx, cy + dy))
    else:
        for k in (-1, 1):
            line((cx + k * w / 4 + 0.1 * w, cy - w / 2), (cx + k * w / 4 - 0.1 * w, cy + w / 2))
            line((cx - w / 2, cy + k * w / 4), (cx + w / 2, cy + k * w / 4))
    return x + w


def _amount_marks(rng, n: int) -> tuple[str, dict[int, str], str]:
    """Where the marks of an amount of ``n`` digits go: before, after digit ``i``, after.

    Thousands separators (``. , '`` or a wider space), a decimal comma before two cents, the
    dash that closes an amount without cents (``,-``, ``.—``, ``=``, ``/-``) and the stars,
    hashes or long dashes that fence an amount in.
    """
    between: dict[int, str] = {}
    cents = rng.random() < 0.25
    whole = n - 2 if cents and n >= 3 else n
    if whole >= 4 and rng.random() < 0.6:
        sep = str(rng.choice([".", ",", "'", " "]))
        for i in range(whole - 4, -1, -3):
            between[i] = sep
    if whole < n:
        between[whole - 1] = str(rng.choice([",", "."]))
    end = "" if whole < n else str(rng.choice(["", ",-", ".-", ",--", "=", "/-", ".—", "—"]))
    fence = str(rng.choice(["", "*", "#", "=", "—"], p=[0.7, 0.08, 0.07, 0.05, 0.1]))
    return fence if fence != "—" else "", between, end + fence


def _guilloche(rng, shape) -> np.ndarray:
    """The fine wavy security lines printed behind a cheque's amount (float32 mask)."""
    mask = np.zeros(shape, np.uint8)
    period = rng.uniform(0.2, 0.8) * shape[0]
    amplitude = rng.uniform(0.05, 0.3) * shape[0]
    xs = np.arange(0, shape[1], 2, dtype=np.float64)
    for y in np.arange(rng.uniform(0, 6), shape[0], rng.uniform(3, 8)):
        ys = y + amplitude * np.sin(2 * math.pi * xs / period + y / shape[0] * rng.uniform(2, 6))
        points = np.stack([xs, ys], axis=1).round().astype(np.int32)
        cv2.polylines(mask, [points], False, 255, 1, cv2.LINE_AA)
    return mask.astype(np.float32) / 255


def make_amount(pool: DigitPool, rng: np.random.Generator) -> Page:
    """A cheque's courtesy amount: 1-8 digits with the marks people write among them.

    Thousands separators, a decimal comma, closing dashes and fences (:func:`_amount_marks`)
    are drawn with the digits' pen; the ground truth is the digits alone. Often in a box with
    a printed currency label left of it, on wavy security print, in dark ink on light paper.
    """
    text = _random_text(rng, 1, 8)
    h = rng.uniform(20, 80)
    lead, between, end = _amount_marks(rng, len(text))
    room = {" ": 0.35, ".": 0.12, ",": 0.15, "'": 0.12}
    gaps = [
        (room[between[i]] + rng.uniform(0.1, 0.3)) * h
        if i in between
        else rng.uniform(-0.1, 0.3) * h
        for i in range(len(text) - 1)
    ]
    thickness = rng.uniform(-0.25, 0.3) * _MNIST_STROKE * h
    ink, boxes = render_digits(
        pool, text, rng, height=h, thickness=thickness, gap=gaps, slant=rng.uniform(-0.3, 0.3)
    )
    pad = int(2.5 * h)
    ink = np.pad(ink, pad)
    boxes = [(x + pad, y + pad, w, bh) for x, y, w, bh in boxes]
    top = float(np.median([y for _, y, _, _ in boxes]))
    base = float(np.median([y + bh for _, y, _, bh in boxes]))
    pen = max(1, int(round(_MNIST_STROKE * h + 2 * thickness)))
    marks = np.zeros(ink.shape, np.uint8)
    for i, sep in between.items():
        if sep != " ":
            x, _, w, _ = boxes[i]
            _mark(marks, sep, x + w + rng.uniform(0.03, 0.1) * h, top, base, pen, rng)
    x = boxes[-1][0] + boxes[-1][2]
    for char in end:
        x = _mark(marks, char, x + rng.uniform(0.05, 0.25) * h, top, base, pen, rng)
    if lead:
        right = boxes[0][0] - rng.uniform(0.1, 0.3) * h
        probe = np.zeros_like(marks)
        width = _mark(probe, lead, 0.0, top, base, pen, np.random.default_rng(0))
        _mark(marks, lead, right - width, top, base, pen, rng)
    ink = np.maximum(ink, cv2.GaussianBlur(marks.astype(np.float32) / 255, (0, 0), 0.5))
    x0, y0, w0, h0 = _ink_bbox(ink, 0.01)
    ink = ink[y0 : y0 + h0, x0 : x0 + w0]

    mx, my = int(h * rng.uniform(0.2, 0.8)), int(h * rng.uniform(0.15, 0.5))
    label = None
    if rng.random() < 0.5:
        font = font_files()[int(rng.integers(len(font_files())))]
        label = render_text(str(rng.choice(_CURRENCIES)), font, int(h * rng.uniform(0.4, 0.8)))
    left = mx + (label.shape[1] + int(h * rng.uniform(0.3, 0.8)) if label is not None else 0)
    canvas = np.zeros((ink.shape[0] + 2 * my, left + ink.shape[1] + mx), np.float32)
    canvas[my : my + ink.shape[0], left : left + ink.shape[1]] = ink
    extra = np.zeros_like(canvas)
    box_left = left - int(0.6 * mx)
    if rng.random() < 0.6:
        width = max(1, int(round(h * rng.uniform(0.02, 0.05))))
        corner = (box_left, int(my * 0.4))
        far = (canvas.shape[1] - int(0.4 * mx), canvas.shape[0] - int(my * 0.4))
        cv2.rectangle(extra, corner, far, 1.0, width)
    if label is not None:
        y = (canvas.shape[0] - label.shape[0]) // 2
        x = max(0, box_left - label.shape[1] - int(0.2 * mx))
        _stamp(extra, label[:, : canvas.shape[1] - x], x, y)
    security = _guilloche(rng, canvas.shape) if rng.random() < 0.4 else np.zeros_like(canvas)
    canvas, extra, security = _turned(rng.uniform(-3, 3), canvas, extra, security)
    nh, nw = canvas.shape

    colour = rng.random() < 0.5
    background = _background(rng, (nh, nw), False, colour)
    shade = background[0, 0] - rng.uniform(25, 70)
    image = _compose_ink(
        background,
        [(security, shade), (canvas, _ink_colour(rng, True, colour)), (extra, (30, 30, 30))],
        rng,
    )
    blur = rng.uniform(0.3, 0.8)
    image = _develop(image, np.ones((nh, nw), np.float32), colour, rng, blur, 8, 90)
    points = _ink_points(canvas, 0, 0)
    return Page("amount", image, [Field(text, _box_of(points, np.eye(3), image.shape))])


def _ruling(rng, shape, h: float) -> np.ndarray:
    """Faint notebook ruling or squared grid as a float32 mask (empty a third of the time)."""
    mask = np.zeros(shape, np.uint8)
    style = rng.integers(3)
    if style == 0:
        return mask.astype(np.float32)
    step = h * (rng.uniform(0.6, 1.3) if style == 1 else rng.uniform(0.3, 0.7))
    width = max(1, int(round(h * rng.uniform(0.005, 0.018))))
    for y in np.arange(rng.uniform(0, step), shape[0], step):
        cv2.line(mask, (0, int(y)), (shape[1], int(y)), 255, width, cv2.LINE_AA)
    if style == 2:
        for x in np.arange(rng.uniform(0, step), shape[1], step):
            cv2.line(mask, (int(x), 0), (int(x), shape[0]), 255, width, cv2.LINE_AA)
    return mask.astype(np.float32) / 255


def make_single(pool: DigitPool, rng: np.random.Generator) -> Page:
    """One handwritten digit on paper (sometimes ruled), or white on black like MNIST."""
    text = str(rng.integers(10))
    h = rng.uniform(40, 150)
    mnist_like = rng.random() < 0.15
    px_per_mm = rng.uniform(4, 12)
    thickness = (
        rng.uniform(0, 0.25) * _MNIST_STROKE * h
        if mnist_like
        else _pen_thickness(rng, h, px_per_mm)
    )
    ink, _ = render_digits(
        pool, text, rng, height=h, thickness=thickness, slant=rng.normal(0, 0.15)
    )
    side = h * rng.uniform(1.5, 4.0)
    ch = int(max(side * rng.uniform(0.8, 1.25), ink.shape[0] + 4))
    cw = int(max(side * rng.uniform(0.8, 1.25), ink.shape[1] + 4))
    x = int(rng.integers(2, cw - ink.shape[1] - 1))
    y = int(rng.integers(2, ch - ink.shape[0] - 1))
    canvas = np.zeros((ch, cw), np.float32)
    canvas[y : y + ink.shape[0], x : x + ink.shape[1]] = ink

    colour = not mnist_like and rng.random() < 0.5
    if mnist_like:
        background = _background(rng, (ch, cw), True, False) * rng.uniform(0, 0.4)
        layers = [(canvas, np.full(3, rng.uniform(200, 255)))]
    else:
        background = np.empty((ch, cw, 3), np.float32)
        background[:] = _paper_colour(rng)[::-1]
        ruling = np.array([rng.uniform(150, 230), rng.uniform(120, 200), rng.uniform(80, 200)])
        layers = [(_ruling(rng, (ch, cw), h) * rng.uniform(0.3, 0.7), ruling)]
        layers.append((canvas, _ink_colour(rng, True, colour)))
    image = _compose_ink(background, layers, rng)
    blur = rng.uniform(0.3, 1.2)
    light = _ramp(rng, (ch, cw), 1.0 if mnist_like else rng.uniform(0.75, 1))
    image = _develop(image, light, colour, rng, blur, 8, 95)
    points = _ink_points(canvas, 0, 0)
    return Page("single", image, [Field(text, _box_of(points, np.eye(3), image.shape))])


_MAKERS: dict[str, Callable[[DigitPool, np.random.Generator], Page]] = {
    "form": make_form,
    "photo": make_photo,
    "strip": make_strip,
    "single": make_single,
    "amount": make_amount,
}


def make_page(kind: str, pool: DigitPool, rng: np.random.Generator) -> Page:
    """Make one page of ``kind`` (one of :data:`KINDS` or ``"amount"``)."""
    if kind not in _MAKERS:
        raise ValueError(f"kind must be one of {tuple(_MAKERS)}, got {kind!r}")
    return _MAKERS[kind](pool, rng)


def make_pages(kind: str, n: int, pool: DigitPool, seed: int = 0) -> list[Page]:
    """Make ``n`` pages of ``kind``; page ``i`` depends only on ``(seed, i)``."""
    return [make_page(kind, pool, np.random.default_rng([seed, i])) for i in range(n)]


# --------------------------------------------------------------------------- one form, many copies

#: Kinds of zone on a template form: a closed box, a box with comb teeth, an underline.
ZONE_KINDS = ("box", "comb", "underline")


@dataclass
class Zone:
    """A field zone of a printed form: its kind, box ``(x, y, w, h)`` and digit count."""

    kind: str
    box: tuple[int, int, int, int]
    length: int


@dataclass
class Form:
    """A blank printed form (gray uint8) and its field zones in reading order."""

    image: np.ndarray
    zones: list[Zone]


def blank_form(rng: np.random.Generator, n_fields: int = 4, size=(1100, 1000)) -> Form:
    """A printed form: title, instructions and, per field, a label and a box, comb or line.

    Different ``rng`` states give different forms (words, fonts, layout).
    """
    height, width = size
    image = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(image)
    fonts = [f for f in font_files() if "Display" not in f.name]  # those lack most glyphs
    font = fonts[int(rng.integers(len(fonts)))]
    words = ["Meter", "Order", "Claim", "Delivery", "Account", "Registration", "Payment"]
    title = f"{rng.choice(words)} form {int(rng.integers(100, 999))}-{rng.choice(['A', 'B'])}"
    draw.text((60, 40), title, fill=0, font=load_font(font, 40))
    small = load_font(font, 20)
    for line in range(3):
        text = " ".join(rng.choice(words + ["please", "write", "in", "the", "boxes"], 9))
        draw.text((60, 110 + 28 * line), f"{line + 1}) {text}.", fill=30, font=small)
    zones = []
    top = 230
    step = (height - top - 60) // n_fields
    for index in range(n_fields):
        kind = ZONE_KINDS[int(rng.integers(len(ZONE_KINDS)))] if index else "box"
        length = int(rng.integers(3, 8))
        y = top + index * step + int(rng.integers(0, max(1, step - 130)))
        label = f"{rng.choice(words)} no. {index + 1} ({length} digits)"
        draw.text((60, y + 25), label, fill=0, font=load_font(font, 24))
        x, cell, h = 470, 62, 84
        w = length * cell
        if kind == "box":
            draw.rectangle((x, y, x + w, y + h), outline=0, width=3)
        elif kind == "comb":
            draw.rectangle((x, y, x + w, y + h), outline=0, width=3)
            for k in range(1, length):
                draw.line((x + k * cell, y + h - 25, x + k * cell, y + h), fill=0, width=2)
        else:
            draw.line((x, y + h, x + w, y + h), fill=0, width=3)
        zones.append(Zone(kind, (x, y, w + 1, h + 1), length))
    return Form(np.asarray(image).copy(), zones)


def fill_form(
    form: Form, pool: DigitPool, rng: np.random.Generator, texts: list[str]
) -> np.ndarray:
    """A copy of ``form`` (BGR) with ``texts`` handwritten into its zones in blue or black."""
    page = cv2.cvtColor(form.image, cv2.COLOR_GRAY2BGR)
    colour = _pen_colour(rng)
    for zone, text in zip(form.zones, texts, strict=True):
        x, y, w, h = zone.box
        cell = w / zone.length
        height = h * rng.uniform(0.55, 0.75)
        if zone.kind == "comb":
            for k, digit in enumerate(text):
                ink, _ = render_digits(pool, digit, rng, height=height)
                left = int(x + k * cell + (cell - ink.shape[1]) / 2)
                _blend_ink(page, ink, left, int(y + (h - ink.shape[0]) / 2), colour, rng)
            continue
        ink, _ = render_digits(pool, text, rng, height=height, gap=cell * 0.3)
        if ink.shape[1] > w - 16:  # keep the digits inside their box
            scale = (w - 16) / ink.shape[1]
            ink = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        top = y + h - ink.shape[0] - (4 if zone.kind == "underline" else int((h - height) / 2))
        _blend_ink(page, ink, x + int(rng.integers(4, 12)), int(top), colour, rng)
    return page


def scan_copy(page: np.ndarray, rng: np.random.Generator, photo: bool = False) -> np.ndarray:
    """``page`` as scanned (rotation up to 3 degrees, scale 0.85-1.15, shift, noise) or, with
    ``photo``, as photographed (perspective, uneven light, JPEG)."""
    height, width = page.shape[:2]
    matrix = cv2.getRotationMatrix2D(
        (width / 2, height / 2), rng.uniform(-3, 3), rng.uniform(0.85, 1.15)
    )
    matrix[:, 2] += rng.uniform(-30, 30, 2)
    transform = np.vstack([matrix, [0, 0, 1]])
    if photo:
        src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        dst = (src + rng.uniform(-0.06, 0.06, (4, 2)) * [width, height]).astype(np.float32)
        transform = cv2.getPerspectiveTransform(src, dst) @ transform
    out = cv2.warpPerspective(page, transform, (width, height), borderValue=(235, 235, 235))
    if photo:
        out = np.clip(out * _light_map(rng, out.shape[:2])[..., None], 0, 255).astype(np.uint8)
        out = _jpeg(out, int(rng.integers(70, 90)))
    noise = rng.normal(0, 4, out.shape)
    return np.clip(out + noise, 0, 255).astype(np.uint8)
