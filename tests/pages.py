"""Pages of each kind at an everyday difficulty, composed from MNIST test digits.

The benchmark (``bench/scan_accuracy.py``) measures accuracy on ``formreader.synth``'s hard,
varied pages; the end-to-end tests here need pages whose every field a user would expect to be
read, so they are drawn with the same primitives at moderate settings: printed labels with
digits in them beside the fields, underlines and boxes, blue ink, a small skew, noise.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader import synth
from formreader.nondigits import font_files, render_text

BLUE = np.array([150, 60, 30], np.float32)  # BGR ballpoint


def _stamp(page: np.ndarray, ink: np.ndarray, x: int, y: int, colour) -> tuple:
    h, w = ink.shape
    region = page[y : y + h, x : x + w].astype(np.float32)
    alpha = ink[..., None] if page.ndim == 3 else ink
    page[y : y + h, x : x + w] = (region * (1 - alpha) + alpha * colour).astype(np.uint8)
    rows, cols = np.flatnonzero(ink.max(1) > 0.5), np.flatnonzero(ink.max(0) > 0.5)
    return x + cols[0], y + rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


def _rotate(page: np.ndarray, boxes: list, degrees: float):
    """Rotate the page about its centre; boxes follow (bounding boxes of their corners)."""
    h, w = page.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    rotated = cv2.warpAffine(page, matrix, (w, h), borderValue=(255, 255, 255))
    out = []
    for x, y, bw, bh in boxes:
        corners = np.array([[x, y, 1], [x + bw, y, 1], [x, y + bh, 1], [x + bw, y + bh, 1]])
        mapped = corners @ matrix.T
        x0, y0 = mapped.min(0)
        x1, y1 = mapped.max(0)
        out.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return rotated, out


def form_page(pool: synth.DigitPool, seed: int, texts=("4075", "31", "982614")):
    """A scanned form: three labelled fields (underline, box, plain), printed digits around."""
    rng = np.random.default_rng(seed)
    page = np.full((1100, 1040, 3), 250, np.uint8)
    font = font_files()[0]
    title = render_text("Order form 2024, page 1 of 2", font, 34)
    _stamp(page, title, 60, 50, np.zeros(3))
    boxes = []
    for i, text in enumerate(texts):
        top = 220 + 260 * i
        label = render_text(f"{i + 1}. Amount (EUR) ref. {17 + i}:", font, 24)
        _stamp(page, label, 60, top + 30, np.zeros(3))
        ink, _ = synth.render_digits(pool, text, rng, height=70, thickness=1, gap=10)
        x = 480
        boxes.append(_stamp(page, ink, x, top, BLUE))
        if i == 0:
            cv2.line(
                page, (x - 20, top + ink.shape[0] + 4), (1000, top + ink.shape[0] + 4), (0, 0, 0), 2
            )
        elif i == 1:
            cv2.rectangle(
                page,
                (x - 25, top - 20),
                (x + ink.shape[1] + 40, top + ink.shape[0] + 18),
                (0, 0, 0),
                2,
            )
    page, boxes = _rotate(page, boxes, 1.5)
    noise = rng.normal(0, 6, page.shape)
    page = np.clip(page + noise, 0, 255).astype(np.uint8)
    return page, list(zip(texts, boxes, strict=True))


def photo_page(pool: synth.DigitPool, seed: int):
    """The form photographed: mild perspective, uneven light, JPEG."""
    page, fields = form_page(pool, seed, texts=("5236", "70", "18493"))
    h, w = page.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[30, 20], [w - 10, 45], [w - 35, h - 15], [15, h - 40]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    photo = cv2.warpPerspective(page, matrix, (w, h), borderValue=(60, 60, 60))
    light = np.linspace(1.0, 0.7, w)[None, :, None]
    photo = (photo * light).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 80])
    photo = cv2.imdecode(data, cv2.IMREAD_COLOR)
    out = []
    for text, (x, y, bw, bh) in fields:
        corners = np.float32([[[x, y]], [[x + bw, y]], [[x, y + bh]], [[x + bw, y + bh]]])
        mapped = cv2.perspectiveTransform(corners, matrix)[:, 0]
        x0, y0 = mapped.min(0)
        x1, y1 = mapped.max(0)
        out.append((text, (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))
    return photo, out


def strip_page(pool: synth.DigitPool, seed: int, text: str = "730419"):
    """A captcha-like strip: six digits close together, a thin strike-through, speckles."""
    rng = np.random.default_rng(seed)
    ink, _ = synth.render_digits(pool, text, rng, height=60, thickness=1, gap=6)
    h, w = ink.shape
    page = np.full((h + 60, w + 60), 235, np.uint8)
    box = _stamp(page, ink, 30, 30, 40.0)
    cv2.line(page, (10, h // 2 + 40), (w + 50, h // 2 + 20), 60, 2)
    specks = rng.integers(0, page.size, 60)
    page.flat[specks] = 90
    return page, [(text, box)]


def single_page(pool: synth.DigitPool, seed: int, digit: str = "6"):
    """One digit on paper with faint ruling."""
    rng = np.random.default_rng(seed)
    ink, _ = synth.render_digits(pool, digit, rng, height=90, thickness=1)
    page = np.full((260, 240), 245, np.uint8)
    for y in range(20, 260, 40):
        cv2.line(page, (0, y), (239, y), 215, 1)
    box = _stamp(page, ink, 80, 70, 30.0)
    return page, [(digit, box)]


#: Small print full of the letters and digits a digit reader takes for 1s.
ONES_IN_PRINT = (
    "Form 1-I    Rev. 1/11    Ref. 11    Part II    Vol. III",
    "Box 1    Line 11    Item I    Sheet 1 of 1    Lot 111",
    "Copy 1    Page 1    Annex II    Code I-1",
)


def print_heavy_page(pool: synth.DigitPool, seed: int, print_px: int):
    """Lines of small print full of I, l and 1, and two handwritten fields 2-3 times as tall
    as the print (about 48 px), the second in a heavy pen."""
    rng = np.random.default_rng(seed)
    page = np.full((900, 1000, 3), 250, np.uint8)
    font = font_files()[0]
    for i, line in enumerate(ONES_IN_PRINT):
        _stamp(page, render_text(line, font, print_px), 40, 40 + 40 * i, np.zeros(3))
    fields = []
    for i, (text, thickness) in enumerate((("4075", 1), ("38", 2))):
        ink, _ = synth.render_digits(pool, text, rng, height=48, thickness=thickness, gap=8)
        fields.append((text, _stamp(page, ink, 420, 300 + 200 * i, BLUE)))
    return page, fields


def _boxes_after_labels(pool, seed: int, rows, faces, print_px: int, label_dy: int):
    """Each ``(label, text)`` of ``rows`` as a printed label in its face of ``faces``, ``print_px``
    tall, and right after it the handwritten ``text`` in a box, one row below the other."""
    rng = np.random.default_rng(seed)
    page = np.full((700, 900, 3), 250, np.uint8)
    fonts = [next(f for f in font_files() if f.name == name) for name in faces]
    fields = []
    for i, (label, text) in enumerate(rows):
        y = 80 + 200 * i
        ink = render_text(label, fonts[i % len(fonts)], print_px)
        label_box = _stamp(page, ink, 60, y + label_dy, np.zeros(3))
        x = label_box[0] + label_box[2] + 12
        ink, _ = synth.render_digits(pool, text, rng, height=56, thickness=1, gap=10)
        box = _stamp(page, ink, x + 10, y, BLUE)
        cv2.rectangle(page, (x, y - 10), (x + ink.shape[1] + 20, y + ink.shape[0] + 10), 0, 2)
        fields.append((text, box))
    return page, fields


def labelled_fields_page(pool: synth.DigitPool, seed: int):
    """Labels of capitals made of straight strokes ("PIN:", "NIL", "HIT") in an oblique sans,
    print about 0.55 times as tall as the handwriting, each right before its handwritten field
    in a box."""
    rows = (("PIN:", "979"), ("NIL", "4071"), ("HIT", "58"))
    return _boxes_after_labels(pool, seed, rows, ("DejaVuSans-Oblique.ttf",), 42, 25)


def currency_fields_page(pool: synth.DigitPool, seed: int):
    """Amount boxes each with a printed currency sign right before it ("Total $", "Fee $",
    "Rent £"; print almost as tall as the handwriting), in three faces."""
    rows = (("Total $", "8"), ("Fee $", "4"), ("Rent £", "7"))
    faces = ("DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "STIXGeneral.ttf")
    return _boxes_after_labels(pool, seed, rows, faces, 50, 5)


def boxed_single_digit_page(pool: synth.DigitPool, zero: np.ndarray):
    """A four-digit field on an underline and, in a box below it, one round 0 (``zero``, an
    MNIST image) that the gate finds only 0.4 digit-like."""
    rng = np.random.default_rng(0)
    page = np.full((500, 900, 3), 250, np.uint8)
    font = font_files()[0]
    _stamp(page, render_text("Account no.", font, 26), 60, 100, np.zeros(3))
    ink, _ = synth.render_digits(pool, "4175", rng, height=56, thickness=1, gap=10)
    fields = [("4175", _stamp(page, ink, 300, 70, BLUE))]
    cv2.line(page, (290, 70 + ink.shape[0] + 3), (700, 70 + ink.shape[0] + 3), 0, 2)
    _stamp(page, render_text("Copies", font, 26), 60, 300, np.zeros(3))
    others = [pool.images[pool.labels == d][0] for d in range(1, 10)]
    only_zero = synth.DigitPool(np.stack([zero, *others]), np.arange(10))
    ink, _ = synth.render_digits(only_zero, "0", rng, height=56, thickness=1)
    fields.append(("0", _stamp(page, ink, 300, 270, BLUE)))
    cv2.rectangle(page, (280, 255), (300 + ink.shape[1] + 20, 270 + ink.shape[0] + 15), 0, 2)
    return page, fields
