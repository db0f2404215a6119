"""formreader: read handwritten digits off scanned forms, photos and digit strips.

``formreader.scan(inputs)`` reads every field of images, PDFs and folders into records;
``formreader.read(image)`` reads one digit or digit string. See :mod:`formreader.api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["FieldReading", "Record", "iter_scan", "read", "scan"]

if TYPE_CHECKING:
    from formreader.api import iter_scan, read, scan
    from formreader.pipeline import FieldReading, Record


def __getattr__(name: str):
    # Loaded on first use, so that `formreader --help` does not import OpenCV.
    if name in ("iter_scan", "read", "scan"):
        from formreader import api

        return getattr(api, name)
    if name in ("FieldReading", "Record"):
        from formreader import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'formreader' has no attribute {name!r}")
