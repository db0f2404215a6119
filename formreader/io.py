"""Find input files and load their pages as arrays (stage 1 of the pipeline)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from formreader.exceptions import InputFileError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Pages larger than this are refused before they are decoded (decompression bombs).
MAX_PIXELS = 100_000_000


def find_inputs(inputs: list[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Expand files and folders (recursively) into ``(path, display name)`` pairs.

    Files given directly are kept in the given order with the name as given; files found in a
    folder are sorted and named relative to that folder (prefixed by the folder as given).
    Missing paths are kept so that they end up as error rows.
    """
    found: list[tuple[Path, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()
            )
            found.extend((p, str(Path(item) / p.relative_to(path))) for p in files)
        else:
            found.append((path, str(item)))
    return found


def decode_image(data: bytes, name: str = "image") -> list[np.ndarray]:
    """Decode image bytes into a list of pages (uint8 gray or BGR arrays).

    Raises
    ------
    InputFileError
        For empty, undecodable or oversized data.
    """
    if not data:
        raise InputFileError(f"{name}: the file is empty (0 bytes)")
    buffer = np.frombuffer(data, dtype=np.uint8)
    ok, pages = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
    if not ok or not pages:
        single = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if single is None:
            raise InputFileError(f"{name}: not a readable image (unknown format or damaged)")
        pages = [single]
    return [_to_uint8(page, name) for page in pages]


def _to_uint8(page: np.ndarray, name: str) -> np.ndarray:
    """Bring a decoded page to uint8 gray or BGR (drop alpha onto white, scale 16-bit)."""
    if page.size == 0 or min(page.shape[:2]) < 1:
        raise InputFileError(f"{name}: the image has no pixels")
    if page.shape[0] * page.shape[1] > MAX_PIXELS:
        raise InputFileError(f"{name}: image too large ({page.shape[1]}x{page.shape[0]} pixels)")
    if page.dtype == np.uint16:
        page = (page / 257).astype(np.uint8)
    elif page.dtype != np.uint8:
        page = cv2.normalize(page, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if page.ndim == 3 and page.shape[2] == 4:
        alpha = page[:, :, 3:4].astype(np.float32) / 255.0
        page = (page[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if page.ndim == 3 and page.shape[2] == 1:
        page = page[:, :, 0]
    return page


def load_pages(path: str | os.PathLike) -> list[np.ndarray]:
    """Read an image file (any path, non-ASCII included) into its pages.

    Raises
    ------
    InputFileError
        With a message naming the file and what is wrong with it.
    """
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not an image file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file", hint="check the path") from None
    except PermissionError:
        raise InputFileError(
            f"{path}: permission denied", hint="check the file's permissions"
        ) from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, str(path))
