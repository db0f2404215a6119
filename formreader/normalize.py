"""The one normalisation of a digit image to MNIST style.

Training on user images and every inference path call :func:`normalize_digit`; there is no
other copy. The recipe is MNIST's own: ink bright on black, tight crop, longer side scaled to
20 px keeping the aspect ratio, pasted into 28x28 so that the centre of mass is in the middle.
Whole digit strings for the string model go through :func:`normalize_strip`, which shares the
polarity, speck and crop steps.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.exceptions import BlankImageError

#: Bumped whenever the output of :func:`normalize_digit` changes; stored in model cards.
NORMALIZATION_VERSION = 1
CANVAS = 28
DIGIT_BOX = 20
#: Input size of the string model: ink scaled to this height, padded to this width.
STRIP_HEIGHT = 32
STRIP_WIDTH = 256
#: Ink level (after stretching to [0, 1]) that counts as a stroke when cropping.
INK_THRESHOLD = 0.3
#: Ink blobs smaller than this fraction of the largest blob are dropped as specks.
SPECK_FRACTION = 0.02
#: Ink level (a share of the way from the paper to the darkest ink) that outlines the blobs
#: among which the strokes' own darkest ink is sought (:func:`_stroke_peak`).
FAINT_INK = 0.1
#: Inside a strip's crop, strokes are also found against the strongest ink near them, not
#: the image's strongest alone (thin digits between bold ones, all smeared by a shaken photo,
#: fell apart under :data:`INK_THRESHOLD`): the local peak over a window of this share of the
#: crop's height, never taken below this share of the image's peak (0.5 let a cheque's faint
#: security print in). Found in the whole image, they let faint print beside a form's field
#: widen the crop.
LOCAL_PEAK_WINDOW, LOCAL_PEAK_FLOOR = 0.6, 0.75


def to_gray_float(image: np.ndarray) -> np.ndarray:
    """Return a 2-D float32 image in [0, 1] from a gray, BGR, BGRA, bool or float array."""
    image = np.asarray(image)
    if image.size == 0:
        raise BlankImageError("the image is empty (0 pixels)")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        if image.shape[2] == 4:
            image = image[:, :, :3]
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D gray or 3-D colour image, got shape {image.shape}")
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image.astype(np.float32), 0.0, 1.0)
    raise TypeError(f"unsupported image dtype {image.dtype}")


def ink_map(image: np.ndarray, ink_is_dark: bool | None = None) -> np.ndarray:
    """Return ink strength in [0, 1] (bright ink on black) from any gray or colour image.

    Parameters
    ----------
    image : ndarray
        Gray or colour image, any supported dtype.
    ink_is_dark : bool or None
        ``True`` for dark ink on light paper, ``False`` for light ink on a dark background,
        ``None`` to decide from the image: the paper is the median of the image's border, and
        the ink is whichever extreme (darkest or brightest pixel) lies further from it.
        With the polarity known, the paper is never taken darker (for light ink: brighter)
        than the median of the whole image: a cell cut out of a table has its rules along
        its border.
    """
    gray = to_gray_float(image)
    frame = np.concatenate(
        [gray[:2].ravel(), gray[-2:].ravel(), gray[:, :2].ravel(), gray[:, -2:].ravel()]
    )
    paper = float(np.median(frame))
    if ink_is_dark is None:
        ink_is_dark = paper - float(gray.min()) >= float(gray.max()) - paper
    elif ink_is_dark:
        paper = max(paper, float(np.median(gray)))
    else:
        paper = min(paper, float(np.median(gray)))
    ink = 1.0 - gray if ink_is_dark else gray
    background = 1.0 - paper if ink_is_dark else paper
    peak = _stroke_peak(ink, background)
    if peak - background < 0.1:
        raise BlankImageError("no ink found: the image is blank or has no contrast")
    return np.clip((ink - background) / (peak - background), 0.0, 1.0)


def _stroke_peak(ink: np.ndarray, background: float) -> float:
    """The strongest ink of the strokes: the image's strongest, unless that lies only in specks.

    Blobs of ink at least :data:`FAINT_INK` of the way from the paper to the strongest ink
    that are smaller than :data:`SPECK_FRACTION` of the largest are specks; when the strongest
    ink lies only in them (dark noise dots on a captcha written in light ink, a dark speck
    beside a faint pencil digit), the strokes' own strongest ink is the peak, so that they are
    not taken for paper.
    """
    peak = float(ink.max())
    if peak - background < 0.1:
        return peak
    strokes = _drop_specks(ink >= background + FAINT_INK * (peak - background))
    return float(ink[strokes].max())


def _drop_specks(mask: np.ndarray, min_area: int = 0) -> np.ndarray:
    """``mask`` without its blobs that are tiny next to the largest one (smaller than
    :data:`SPECK_FRACTION` of it, or than ``min_area`` pixels), as a bool mask."""
    mask = mask.astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 2:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, dtype=bool)
    keep[1:] = areas >= max(min_area, SPECK_FRACTION * areas.max())
    return keep[labels]


def _local_strokes(ink: np.ndarray) -> np.ndarray:
    """``ink`` (from :func:`ink_map`) stretched by its local peak (:data:`LOCAL_PEAK_WINDOW`)."""
    side = max(3, int(ink.shape[0] * LOCAL_PEAK_WINDOW)) | 1
    local = cv2.blur(cv2.dilate(ink, np.ones((side, side), np.uint8)), (side, side))
    return np.clip(ink / np.maximum(local, LOCAL_PEAK_FLOOR), 0.0, 1.0).astype(np.float32)


def _ink_crop(image: np.ndarray, ink_is_dark: bool | None, local: bool = False) -> np.ndarray:
    """Ink map of ``image`` without specks, cropped tightly to the strokes; with ``local``
    fainter strokes inside the crop are kept too when they are strong for their
    neighbourhood (:func:`_local_strokes`)."""
    ink = ink_map(image, ink_is_dark)
    strokes = _drop_specks(ink >= INK_THRESHOLD, min_area=2)
    rows = np.flatnonzero(strokes.any(axis=1))
    cols = np.flatnonzero(strokes.any(axis=0))
    if rows.size == 0:
        raise BlankImageError("no ink found: the image is blank or has no contrast")
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    strokes = strokes[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if local:
        strokes |= _drop_specks(_local_strokes(ink) >= INK_THRESHOLD, min_area=2)
    # Keep the soft edges of the strokes, drop everything else (specks, paper texture).
    keep = cv2.dilate(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(keep, ink, 0.0).astype(np.float32)


def _fit_ink(crop: np.ndarray, max_height: int, max_width: int) -> np.ndarray:
    """Scale cropped ink to fit ``max_height`` x ``max_width`` keeping the aspect ratio, peak 1."""
    height, width = crop.shape
    scale = min(max_height / height, max_width / width)
    new_w = min(max_width, max(1, int(round(width * scale))))
    new_h = min(max_height, max(1, int(round(height * scale))))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    glyph = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    return np.clip(glyph / max(float(glyph.max()), 1e-6), 0.0, 1.0)


def normalize_digit(image: np.ndarray, ink_is_dark: bool | None = None) -> np.ndarray:
    """Normalise one digit image to a 28x28 MNIST-style float32 array in [0, 1].

    Parameters
    ----------
    image : ndarray
        The digit, gray or colour, uint8/uint16/float/bool, any size.
    ink_is_dark : bool or None
        Polarity; ``None`` decides it from the image (see :func:`ink_map`).

    Returns
    -------
    ndarray of shape (28, 28), float32
        Ink bright on black, longer side 20 px, centre of mass at the centre.

    Raises
    ------
    BlankImageError
        When the image holds no ink.
    """
    glyph = _fit_ink(_ink_crop(image, ink_is_dark), DIGIT_BOX, DIGIT_BOX)
    new_h, new_w = glyph.shape
    total = float(glyph.sum())
    cy = float((glyph.sum(axis=1) * np.arange(new_h)).sum() / total)
    cx = float((glyph.sum(axis=0) * np.arange(new_w)).sum() / total)
    centre = (CANVAS - 1) / 2
    top = int(np.clip(np.floor(centre - cy + 0.5), 0, CANVAS - new_h))
    left = int(np.clip(np.floor(centre - cx + 0.5), 0, CANVAS - new_w))
    out = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = glyph
    return out


def normalize_batch(images, ink_is_dark: bool | None = None) -> np.ndarray:
    """Normalise a sequence of digit images into an ``(n, 28, 28)`` float32 array."""
    out = [normalize_digit(image, ink_is_dark) for image in images]
    return np.stack(out) if out else np.zeros((0, CANVAS, CANVAS), np.float32)


def normalize_strip(image: np.ndarray, ink_is_dark: bool | None = None) -> np.ndarray:
    """Normalise a digit string (a field or strip) for the string model.

    The same polarity rule, speck removal and crop as :func:`normalize_digit`, but fainter
    strokes inside the crop are kept when they are strong for their neighbourhood
    (:data:`LOCAL_PEAK_WINDOW`); the ink is scaled to :data:`STRIP_HEIGHT` px keeping the
    aspect ratio (shrunk further to fit when it would be wider than :data:`STRIP_WIDTH`),
    centred vertically and left-aligned.

    Returns
    -------
    ndarray of shape (STRIP_HEIGHT, STRIP_WIDTH), float32
        Ink bright on black in [0, 1].

    Raises
    ------
    BlankImageError
        When the image holds no ink.
    """
    glyphs = _fit_ink(_ink_crop(image, ink_is_dark, local=True), STRIP_HEIGHT, STRIP_WIDTH)
    new_h, new_w = glyphs.shape
    out = np.zeros((STRIP_HEIGHT, STRIP_WIDTH), dtype=np.float32)
    top = (STRIP_HEIGHT - new_h) // 2
    out[top : top + new_h, :new_w] = glyphs
    return out


def normalize_strips(images, ink_is_dark: bool | None = None) -> np.ndarray:
    """Normalise a sequence of strip images into an ``(n, STRIP_HEIGHT, STRIP_WIDTH)`` array."""
    out = [normalize_strip(image, ink_is_dark) for image in images]
    return np.stack(out) if out else np.zeros((0, STRIP_HEIGHT, STRIP_WIDTH), np.float32)
