"""Find input files and load their pages as arrays (stage 1 of the pipeline).

Images are decoded with Pillow, which reads the header first: a page larger than the pixel
limit is refused before any pixel is decoded (decompression bombs). PDF pages are rendered with
pypdfium2. Every page comes out as a uint8 gray or BGR array, upright (EXIF orientation
applied), transparency laid on white paper.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from formreader.exceptions import InputFileError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
PDF_SUFFIX = ".pdf"
INPUT_SUFFIXES = (*IMAGE_SUFFIXES, PDF_SUFFIX)
#: Pages larger than this are refused before they are decoded (decompression bombs). Pillow
#: refuses images above about 179 million pixels whatever this says.
MAX_PIXELS = 100_000_000
#: Pages with a side shorter than this hold no readable digit.
MIN_SIDE = 8
#: The EXIF tag that says how a photo is turned.
ORIENTATION = 0x0112
#: Resolution PDF pages are rendered at.
PDF_DPI = 200


def find_inputs(inputs: list[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Expand files and folders (recursively) into ``(path, display name)`` pairs.

    Files given directly are kept in the given order with the name as given; files found in a
    folder are sorted and named relative to that folder (prefixed by the folder as given).
    Hidden files and folders (names starting with ``.``) are skipped. Missing paths, and
    folders found inside a folder whose names look like images (``x.png/``), are kept so that
    they end up as error rows.
    """
    found: list[tuple[Path, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in INPUT_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found.extend((p, str(Path(item) / p.relative_to(path))) for p in files)
        else:
            found.append((path, str(item)))
    return found


def _check_size(width: int, height: int, name: str, max_pixels: int, hint: str = "") -> None:
    if width * height > max_pixels:
        raise InputFileError(
            f"{name}: image too large ({width}x{height} pixels, the limit is {max_pixels:,})",
            hint=hint or "raise --max-pixels if the file is trusted, or scan at a lower resolution",
        )
    if min(width, height) < MIN_SIDE:
        raise InputFileError(
            f"{name}: image too small ({width}x{height} pixels) to hold a readable digit",
            hint="scan at 200-300 dpi",
        )


def _to_array(frame) -> np.ndarray:
    """A decoded Pillow frame as uint8 gray or BGR; transparency laid on white paper."""
    from PIL import Image

    mode = frame.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        pixels = np.asarray(frame, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or pixels.max() > 255 else 255.0
        if mode == "F":
            low, high = float(pixels.min()), float(pixels.max())
            pixels, top = pixels - low, max(high - low, 1e-9)
        return np.clip(pixels * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    if mode == "1":
        return np.asarray(frame.convert("L"))
    if mode == "L":
        return np.asarray(frame)
    if "A" in mode or "a" in mode or (mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(paper, rgba)
    # One copy out of Pillow, flipped to BGR in place: a page holds few copies of itself.
    pixels = np.array(frame if mode == "RGB" else frame.convert("RGB"))
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR, dst=pixels)


def _reason(exc: Exception) -> str:
    """What a decoder said, with the kind of error when its message alone says little."""
    return str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"


def _image_pages(data: bytes, name: str, max_pixels: int) -> Iterator[np.ndarray]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings (we check), corrupt EXIF, ...
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        limit = 2 * Image.MAX_IMAGE_PIXELS
        raise InputFileError(
            f"{name}: image too large (over {limit:,} pixels), refused before decoding",
            hint="split or downscale the file; this may be a decompression bomb",
        ) from None
    except UnidentifiedImageError:
        raise InputFileError(f"{name}: not a readable image (unknown format or damaged)") from None
    except Exception as exc:  # Pillow raises many kinds on malformed headers
        raise InputFileError(f"{name}: damaged or truncated image ({_reason(exc)})") from None
    with image:
        frames = getattr(image, "n_frames", 1)
        for index in range(frames):
            try:
                image.seek(index)
                _check_size(*image.size, name, max_pixels)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    turned = image.getexif().get(ORIENTATION, 1) not in (0, 1)
                    page = _to_array(ImageOps.exif_transpose(image) if turned else image)
            except InputFileError:
                raise
            except Exception as exc:  # Pillow raises many kinds on malformed data
                where = f" (page {index + 1})" if index else ""
                message = f"{name}: damaged or truncated image{where} ({_reason(exc)})"
                raise InputFileError(message) from None
            if index == frames - 1:
                image.close()  # Pillow's copy of the pixels is not needed while the page is read
            yield page


def _pdf_pages(data: bytes, name: str, max_pixels: int, dpi: int) -> Iterator[np.ndarray]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise InputFileError(
                f"{name}: the PDF is encrypted (password protected)",
                hint="save an unprotected copy of the PDF and scan that",
            ) from None
        raise InputFileError(f"{name}: not a readable PDF (damaged or not a PDF)") from None
    try:
        if len(pdf) == 0:
            raise InputFileError(f"{name}: the PDF has no pages")
        scale = dpi / 72.0
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = (round(side * scale) for side in page.get_size())
            _check_size(width, height, name, max_pixels, hint="lower --dpi or raise --max-pixels")
            try:
                pixels = page.render(scale=scale).to_numpy()  # BGR
            except pdfium.PdfiumError as exc:
                message = f"{name}: page {index + 1} cannot be rendered ({exc})"
                raise InputFileError(message) from None
            yield np.ascontiguousarray(pixels[:, :, :3])
    finally:
        pdf.close()


def decode_pages(
    data: bytes, name: str = "image", *, max_pixels: int = MAX_PIXELS, dpi: int = PDF_DPI
) -> Iterator[np.ndarray]:
    """Decode a file's bytes into its pages, one at a time (uint8 gray or BGR arrays).

    PDF pages are rendered at ``dpi``; images and TIFF pages are decoded as stored.

    Raises
    ------
    InputFileError
        For empty, undecodable, encrypted, too small or oversized data; raised when the bad
        page is reached, so the pages before it are read.
    """
    if not data:
        raise InputFileError(f"{name}: the file is empty (0 bytes)")
    if data[:5] == b"%PDF-":
        yield from _pdf_pages(data, name, max_pixels, dpi)
    else:
        yield from _image_pages(data, name, max_pixels)


def iter_pages(
    path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS, dpi: int = PDF_DPI
) -> Iterator[np.ndarray]:
    """Read an image or PDF file (any path, non-ASCII included) page by page.

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
    yield from decode_pages(data, str(path), max_pixels=max_pixels, dpi=dpi)


def load_pages(path: str | os.PathLike, **options) -> list[np.ndarray]:
    """All pages of a file as a list; see :func:`iter_pages`."""
    return list(iter_pages(path, **options))


def load_image(path: str | os.PathLike, **options) -> np.ndarray:
    """The first page of a file; see :func:`iter_pages`."""
    return next(iter_pages(path, **options))
