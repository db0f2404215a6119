"""Regenerate the sample pages in this folder and their expected values.

    python samples/make_samples.py --mnist ../shared/data/mnist.npz

Every page is drawn by ``formreader.synth`` from MNIST *test* digits with a fixed seed, so the
samples never show the model a digit it was trained on. ``expected.csv`` lists the handwritten
fields of each page in reading order. (The forms and the photo were drawn by an earlier
version of the generator, which has changed their layout since: rerunning the script redraws
them differently, with the expected values to match.)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from formreader import synth

HERE = Path(__file__).resolve().parent
#: (file name, kind, seed)
SAMPLES = [
    ("form_1.jpg", "form", 101),
    ("form_2.jpg", "form", 102),
    ("photo_1.jpg", "photo", 103),
    ("strip_1.png", "strip", 104),
    ("strip_2.png", "strip", 105),
    ("single_1.png", "single", 106),
    ("single_2.png", "single", 107),
    ("amount_1.png", "amount", 109),
    ("amount_2.png", "amount", 118),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    args = parser.parse_args()
    pool = synth.DigitPool.from_npz(args.mnist, "test")
    with open(HERE / "expected.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "field", "text", "x", "y", "w", "h"])
        for name, kind, seed in SAMPLES:
            page = synth.make_page(kind, pool, np.random.default_rng(seed))
            params = [cv2.IMWRITE_JPEG_QUALITY, 88] if name.endswith(".jpg") else []
            cv2.imwrite(str(HERE / name), page.image, params)
            for index, fld in enumerate(page.fields, start=1):
                writer.writerow([name, index, fld.text, *fld.box])


if __name__ == "__main__":
    main()
