"""Debug overlays: the fields found on a page, boxed and labelled with the text read."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OK_COLOUR, REVIEW_COLOUR = (40, 160, 40), (0, 120, 255)


def draw_overlay(image: np.ndarray, readings, review_below: float) -> np.ndarray:
    """A BGR copy of ``image`` with each reading's box and text drawn on it."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    scale = max(0.5, max(canvas.shape[:2]) / 1600)
    for index, reading in enumerate(readings, start=1):
        x, y, w, h = reading.box
        ok = reading.confidence >= review_below and not reading.doubt
        colour = OK_COLOUR if ok else REVIEW_COLOUR
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, max(1, round(2 * scale)))
        label = f"{index}: {reading.text} ({reading.confidence:.2f})"
        cv2.putText(
            canvas,
            label,
            (x, max(12, y - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * scale,
            colour,
            max(1, round(1.5 * scale)),
            cv2.LINE_AA,
        )
    return canvas


def save_overlay(path: Path, image: np.ndarray, readings, review_below: float) -> None:
    """Write the overlay PNG (any path, non-ASCII included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", draw_overlay(image, readings, review_below))
    if ok:
        path.write_bytes(data.tobytes())
