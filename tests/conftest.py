"""Shared fixtures: MNIST test digits (never training digits) and image writing helpers."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST = Path(os.environ.get("FORMREADER_MNIST", REPO.parent / "shared" / "data" / "mnist.npz"))


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    if not MNIST.is_file():
        pytest.skip(f"MNIST not found at {MNIST}; set FORMREADER_MNIST")
    return MNIST


@pytest.fixture(scope="session")
def mnist_test(mnist_path):
    """MNIST test images and labels (uint8 white on black, 28x28)."""
    with np.load(mnist_path) as data:
        return data["x_test"], data["y_test"]


def write_image(path: Path, image: np.ndarray) -> Path:
    """Write a PNG/JPEG to any path (non-ASCII included): encode in memory, write bytes."""
    ok, data = cv2.imencode(path.suffix or ".png", image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def ink_on_paper(
    digits: list[np.ndarray], height: int = 90, gap: int = 25, margin: int = 60
) -> np.ndarray:
    """MNIST digits upscaled to ``height`` px, dark ink on white paper, left to right."""
    scaled = [cv2.resize(d, (height, height), interpolation=cv2.INTER_CUBIC) for d in digits]
    width = 2 * margin + len(scaled) * height + (len(scaled) - 1) * gap
    page = np.full((height + 2 * margin, width), 255, np.uint8)
    for i, digit in enumerate(scaled):
        x = margin + i * (height + gap)
        page[margin : margin + height, x : x + height] = 255 - digit
    return page
