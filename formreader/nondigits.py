"""Ink that is not one handwritten digit, to train the reject check of the segmenter.

Printed characters in real fonts (form labels, printed numbers), rule fragments and box
corners, specks, slices of handwritten digits and touching pairs: everything the segmenter may
hand over that must not be read as a digit.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

# No "l", "I", "|" or "/": in print they are bare strokes, the same shape as a handwritten 1.
PRINTED_CHARACTERS = (
    "".join(c for c in string.ascii_letters if c not in "lI")
    + string.digits * 3
    + ".,:;-()#%&*+$€£?!=@"
)
FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "DejaVuSansDisplay.ttf",
    "DejaVuSerifDisplay.ttf",
)
#: :func:`vary_stroke` works on images enlarged to about this many pixels.
STROKE_CANVAS = 56
KINDS = ("printed", "printed", "printed", "rule", "speck", "slice", "pair")


@lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """TrueType fonts shipped with matplotlib (real print faces: sans, serif, mono)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(folder / name for name in FONT_NAMES if (folder / name).is_file())


@lru_cache(maxsize=256)
def load_font(path: Path, size: int):
    """A cached Pillow font of ``size`` px (at least 8)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(path), max(8, int(size)))


def render_text(text: str, font: Path, size: int) -> np.ndarray:
    """Printed ``text`` as ink (float32 0..1, ink = 1), cropped to the ink with no margin."""
    from PIL import Image, ImageDraw

    face = load_font(font, size)
    left, top, right, bottom = face.getbbox(text)
    canvas = Image.new("L", (max(1, right - left + 4), max(1, bottom - top + 4)), 0)
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), text, fill=255, font=face)
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _printed(rng: np.random.Generator) -> np.ndarray:
    fonts = font_files()
    length = 1 if rng.random() < 0.7 else 2
    text = "".join(rng.choice(list(PRINTED_CHARACTERS), size=length))
    ink = render_text(text, fonts[rng.integers(len(fonts))], int(rng.integers(10, 48)))
    if rng.random() < 0.5:  # scanned at low resolution, then blurred
        factor = rng.uniform(0.4, 1.0)
        size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
        small = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
        ink = cv2.resize(small, (ink.shape[1], ink.shape[0]), interpolation=cv2.INTER_LINEAR)
    return ink


def _rule(rng: np.random.Generator) -> np.ndarray:
    size = int(rng.integers(20, 60))
    ink = np.zeros((size, size), np.float32)
    thickness = int(rng.integers(1, 4))
    shape = rng.integers(4)
    a, b = int(rng.integers(0, size // 3)), int(rng.integers(2 * size // 3, size))
    if shape == 0:  # a straight piece, flat enough not to be a 1
        angle = rng.uniform(-0.6, 0.6)
        c = size / 2
        dx, dy = np.cos(angle) * size / 2, np.sin(angle) * size / 2
        cv2.line(ink, (int(c - dx), int(c - dy)), (int(c + dx), int(c + dy)), 1.0, thickness)
    elif shape == 1:  # box corner
        cv2.line(ink, (a, a), (b, a), 1.0, thickness)
        cv2.line(ink, (a, a), (a, b), 1.0, thickness)
    elif shape == 2:  # T junction / comb tooth on its base line
        cv2.line(ink, (0, b), (size - 1, b), 1.0, thickness)
        cv2.line(ink, (size // 2, a), (size // 2, b), 1.0, thickness)
    else:  # a cross
        cv2.line(ink, (0, size // 2), (size - 1, size // 2), 1.0, thickness)
        cv2.line(ink, (size // 2, 0), (size // 2, size - 1), 1.0, thickness)
    return ink


def _speck(rng: np.random.Generator) -> np.ndarray:
    size = int(rng.integers(8, 30))
    ink = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(1, 6))):
        centre = (int(rng.integers(size)), int(rng.integers(size)))
        axes = (int(rng.integers(1, size // 3 + 2)), int(rng.integers(1, size // 3 + 2)))
        cv2.ellipse(ink, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    return ink


def _slice(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A left, right, top or bottom part of a handwritten digit (not a 1, and not 1-like)."""
    while True:
        i = int(rng.integers(len(digits)))
        if labels[i] == 1:
            continue
        ink = digits[i].astype(np.float32) / 255.0
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = ink.shape
        keep = rng.uniform(0.25, 0.55)
        side = rng.integers(4)
        if side == 0:
            part = ink[:, : max(1, int(w * keep))]
        elif side == 1:
            part = ink[:, int(w * (1 - keep)) :]
        elif side == 2:
            part = ink[: max(1, int(h * keep))]
        else:
            part = ink[int(h * (1 - keep)) :]
        if (part > 0.3).sum() >= 8 and part.shape[1] >= 0.5 * part.shape[0]:
            return part


def _pair(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two handwritten digits side by side, touching or overlapping a little."""
    a, b = (digits[int(rng.integers(len(digits)))].astype(np.float32) / 255.0 for _ in range(2))
    shift = int(rng.integers(12, 22))
    ink = np.zeros((28, 28 + shift), np.float32)
    ink[:, :28] = a
    ink[:, shift:] = np.maximum(ink[:, shift:], b)
    return ink


def vary_stroke(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same ink written with a thinner, thicker or fainter pen, or blurred.

    The gate sees both of its classes through this, so that stroke width and softness tell
    it nothing: a thin, faint handwritten 2 is still a digit, a bold printed 3 still print.
    ``ink`` is float32 0..1 (ink = 1); small images are enlarged to about 56 px first, so
    that a one-pixel erosion thins a stroke without deleting it.
    """
    ink = ink.astype(np.float32)
    scale = STROKE_CANVAS / max(ink.shape)
    if scale > 1:
        size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        ink = cv2.resize(ink, size, interpolation=cv2.INTER_LINEAR)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    pen = rng.random()
    if pen < 0.35:
        thin = cv2.erode(ink, kernel, iterations=int(rng.integers(1, 3)))
        if (thin > 0.5).sum() >= 0.25 * (ink > 0.5).sum():
            ink = thin
    elif pen < 0.55:
        ink = cv2.dilate(ink, kernel, iterations=int(rng.integers(1, 3)))
    if rng.random() < 0.5:
        ink = np.power(ink, rng.uniform(0.6, 2.0))
    if rng.random() < 0.3:
        ink = cv2.GaussianBlur(ink, (0, 0), rng.uniform(0.5, 1.2))
    return ink


def nondigit_examples(
    digits: np.ndarray, labels: np.ndarray, n: int, seed: int = 0
) -> list[np.ndarray]:
    """``n`` ink images (float32, ink = 1 on 0) of things that are not one handwritten digit.

    Parameters
    ----------
    digits, labels : ndarray
        MNIST-style handwritten digits (uint8, white on black) to cut slices and pairs from.
    """
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < n:
        kind = KINDS[rng.integers(len(KINDS))]
        if kind == "printed":
            ink = _printed(rng)
        elif kind == "rule":
            ink = _rule(rng)
        elif kind == "speck":
            ink = _speck(rng)
        elif kind == "slice":
            ink = _slice(digits, labels, rng)
        else:
            ink = _pair(digits, rng)
        if (ink > 0.5).sum() >= 3:  # faint dots vanish in print; draw another
            out.append(np.pad(ink, 2))
    return out
