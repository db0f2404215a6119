"""Form templates: named field zones on a reference image of the form.

A page is registered to the reference (ORB features, RANSAC homography), warped into the
reference's frame, and each named zone (with a margin, so digits that stick out of their box
still belong to it) is read on its own. ``propose_fields`` finds boxes, combs and underlines on
a reference for ``formreader template init``.

Template file (JSON)::

    {"reference": "blank_form.png",
     "fields": [{"name": "amount", "box": [x, y, w, h], "length": 6, "pattern": "^[0-9]{6}$"},
                {"name": "phone", "box": [x, y, w, h]}]}
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from formreader.exceptions import BlankImageError, FormreaderError, TemplateError
from formreader.io import load_image
from formreader.preprocess import binarize, flatten_illumination, to_gray

log = logging.getLogger(__name__)

#: Images are shrunk to this longer side to find and match features (fast, and enough).
FEATURE_SIDE = 1400
FEATURES = 5000
#: Lowe's ratio test: a match counts when clearly better than the second best.
MATCH_RATIO = 0.75
#: Registration needs this many matches agreeing on one homography ...
MIN_INLIERS = 30
#: ... making up at least this share of the matches that passed the ratio test.
MIN_INLIER_SHARE = 0.25
#: RANSAC tolerance in pixels at feature scale.
RANSAC_PIXELS = 4.0
#: A registered page may be scaled by at most this factor (either way) against the reference.
MAX_SCALE_CHANGE = 3.0
#: Each zone is read with this margin around it, as a share of the zone's height.
ZONE_MARGIN = 0.25


@dataclass
class TemplateField:
    """One named zone: ``box`` is ``(x, y, w, h)`` in the reference's pixels."""

    name: str
    box: tuple[int, int, int, int]
    length: int | None = None
    pattern: str | None = None

    def problems(self, text: str) -> str:
        """What is wrong with ``text`` for this field (empty when it passes its checks)."""
        found = []
        if self.length is not None and len(text) != self.length:
            found.append(f"expected {self.length} digits, read {len(text)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            found.append(f"{text or 'nothing'} does not match {self.pattern}")
        return "; ".join(found)


@dataclass
class Template:
    """A reference image (gray) and its named fields."""

    reference: np.ndarray
    fields: list[TemplateField]
    path: str = ""
    _features: tuple | None = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        # OpenCV keypoints do not pickle; each worker process finds them again.
        return {**self.__dict__, "_features": None}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def features(self) -> tuple:
        if self._features is None:
            self._features = _features(self.reference)
        return self._features


def _field(entry, number: int, shape) -> TemplateField:
    where = f"field {number}"
    if not isinstance(entry, dict):
        raise TemplateError(f"{where} is not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TemplateError(f"{where} has no name")
    box = entry.get("box")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) for v in box)):
        raise TemplateError(f"field {name!r}: box must be [x, y, w, h] in whole pixels")
    x, y, w, h = box
    height, width = shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise TemplateError(f"field {name!r}: box {box} is not inside the {width}x{height} image")
    length, pattern = entry.get("length"), entry.get("pattern")
    if length is not None and (not isinstance(length, int) or length < 1):
        raise TemplateError(f"field {name!r}: length must be a positive whole number")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            message = f"field {name!r}: pattern {pattern!r} is not valid ({exc})"
            raise TemplateError(message) from None
    return TemplateField(name.strip(), (x, y, w, h), length, pattern)


def load_template(path: str | os.PathLike) -> Template:
    """Read and check a template file.

    Raises
    ------
    TemplateError
        When the file, its reference image or a field is missing or malformed.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise TemplateError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or "reference" not in spec or "fields" not in spec:
        raise TemplateError(f"{path}: needs 'reference' and 'fields'")
    try:
        reference = to_gray(load_image(path.parent / str(spec["reference"])))
    except FormreaderError as exc:
        raise TemplateError(f"{path}: reference image: {exc}") from None
    if not isinstance(spec["fields"], list) or not spec["fields"]:
        raise TemplateError(f"{path}: 'fields' must be a non-empty list")
    fields = [_field(entry, n, reference.shape) for n, entry in enumerate(spec["fields"], 1)]
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TemplateError(f"{path}: field names must be unique, repeated: {duplicates}")
    return Template(reference, fields, str(path))


def save_template(path: str | os.PathLike, reference_path, fields: list[TemplateField]) -> None:
    """Write a template file; the reference is stored relative to the file's folder."""
    path = Path(path)
    relative = os.path.relpath(Path(reference_path).resolve(), path.resolve().parent)
    entries = []
    for f in fields:
        entry = {"name": f.name, "box": list(f.box)}
        entry.update({k: v for k, v in (("length", f.length), ("pattern", f.pattern)) if v})
        entries.append(entry)
    text = json.dumps({"reference": relative, "fields": entries}, indent=2)
    path.write_text(text + "\n", encoding="utf-8")


# ---- registration ----------------------------------------------------------------------------


def _features(gray: np.ndarray):
    """ORB keypoint positions (full-size pixels) and descriptors of a gray image."""
    scale = min(1.0, FEATURE_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = flatten_illumination(small)
    keypoints, descriptors = cv2.ORB_create(FEATURES).detectAndCompute(small, None)
    points = np.float32([k.pt for k in keypoints]).reshape(-1, 2) / scale
    return points, descriptors, scale


def register(page: np.ndarray, template: Template) -> np.ndarray:
    """The homography mapping ``page`` pixels onto the template's reference.

    Raises
    ------
    RegistrationError
        When the page does not match the reference well enough (another form, a blank page,
        too much of the form cut off).
    """
    page_points, page_desc, scale = _features(to_gray(page))
    ref_points, ref_desc, _ = template.features()
    good = []
    if page_desc is not None and ref_desc is not None and len(ref_desc) >= 2:
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(page_desc, ref_desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < MATCH_RATIO * p[1].distance]
    inliers, matrix = 0, None
    if len(good) >= 4:
        src = page_points[[m.queryIdx for m in good]]
        dst = ref_points[[m.trainIdx for m in good]]
        matrix, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PIXELS / scale)
        inliers = int(mask.sum()) if mask is not None else 0
    if matrix is None or inliers < max(MIN_INLIERS, MIN_INLIER_SHARE * len(good)):
        raise RegistrationError(
            f"the page does not match the template ({inliers} of {len(good)} matching"
            " features agree)"
        )
    height, width = template.reference.shape
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]]).reshape(-1, 1, 2)
    on_page = cv2.perspectiveTransform(corners, np.linalg.inv(matrix)).reshape(-1, 2)
    area_ratio = cv2.contourArea(on_page) / float(width * height)
    if not cv2.isContourConvex(on_page) or not (
        MAX_SCALE_CHANGE**-2 <= area_ratio <= MAX_SCALE_CHANGE**2
    ):
        raise RegistrationError("the page matches the template only in a distorted way")
    log.info("registered: %d of %d matches agree", inliers, len(good))
    return matrix


class RegistrationError(FormreaderError):
    """A page could not be matched to the template's reference."""

    hint = "check that the page is this form; --debug-dir shows where its fields were read"


def _bounding_box(points: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def read_form(page: np.ndarray, template: Template, read_image) -> list:
    """Register ``page`` and read each field zone with ``read_image(crop)``.

    Returns
    -------
    list of (TemplateField, FieldReading or None)
        In template order; ``None`` where the zone holds no digits. Reading boxes are in the
        page's own pixels.
    """
    matrix = register(page, template)
    height, width = template.reference.shape
    warped = cv2.warpPerspective(
        page, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    to_page = np.linalg.inv(matrix)
    results = []
    for zone in template.fields:
        x, y, w, h = zone.box
        margin = round(ZONE_MARGIN * h)
        x0, y0 = max(0, x - margin), max(0, y - margin)
        x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
        try:
            reading = read_image(warped[y0:y1, x0:x1])
        except BlankImageError:
            results.append((zone, None))
            continue
        rx, ry, rw, rh = reading.box
        corners = np.float32([[rx, ry], [rx + rw, ry], [rx + rw, ry + rh], [rx, ry + rh]])
        corners += np.float32([x0, y0])
        mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), to_page).reshape(-1, 2)
        reading.box = _bounding_box(mapped)
        results.append((zone, reading))
    return results


# ---- proposing a template --------------------------------------------------------------------


def propose_fields(reference: np.ndarray) -> list[TemplateField]:
    """Field zones a reference image suggests, named ``field_1``, ... in reading order.

    Closed boxes (a rectangle, with or without comb teeth inside) become their own zone; open
    lines (an underline, a comb of teeth on a base line) become a zone above the line as tall
    as the form's boxes (or a fifteenth of the page when it has none).
    """
    ink = binarize(flatten_illumination(to_gray(reference)))
    height, width = ink.shape
    run = max(30, width // 40) | 1  # odd kernels: an opening with an even one shifts by 1 px
    across = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    wall = max(10, height // 150) | 1
    upright = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((wall, 1), np.uint8))
    lines = cv2.bitwise_or(across, upright)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    closed, open_lines = [], []
    for index in range(1, count):
        x, y, w, h = (int(v) for v in stats[index, :4])
        if w < run or w * h > 0.5 * width * height:
            continue  # lone strokes, page frames
        top = across[y : y + max(3, h // 10), x : x + w].any(axis=0).mean()
        bottom = across[y + h - max(3, h // 10) : y + h, x : x + w].any(axis=0).mean()
        if h >= 2 * wall and top > 0.8 and bottom > 0.8:
            closed.append((x, y, w, h))
        elif bottom > 0.8:
            open_lines.append((x, y, w, h))
    typical = int(np.median([b[3] for b in closed])) if closed else max(24, height // 15)
    boxes = list(closed)
    for x, y, w, h in open_lines:
        top = max(0, y + h - typical)
        boxes.append((x, top, w, y + h - top))
    rows = sorted(boxes, key=lambda b: b[1] + b[3] / 2)
    ordered, row = [], []
    for box in rows:  # group into lines of boxes whose vertical centres are close
        if row and box[1] + box[3] / 2 - (row[-1][1] + row[-1][3] / 2) > typical / 2:
            ordered += sorted(row)
            row = []
        row.append(box)
    ordered += sorted(row)
    return [TemplateField(f"field_{n}", box) for n, box in enumerate(ordered, start=1)]
