"""Accuracy of a digit model on real non-MNIST handwriting (CVL single digits).

    python bench/cvl_accuracy.py --cvl ../shared/data/cvl/valid [--model DIR]

Each PNG (dark ink on light paper) goes through the same normalisation as every other path.
Prints accuracy per digit and overall; judges normalisation and augmentation on new hands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from formreader.classify import DigitClassifier
from formreader.io import load_image
from formreader.normalize import normalize_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cvl", required=True, help="folder with digit sub-folders 0..9")
    parser.add_argument("--model", help="model folder (default: bundled)")
    args = parser.parse_args()
    images, labels = [], []
    for digit in range(10):
        for path in sorted((Path(args.cvl) / str(digit)).glob("*.png")):
            images.append(load_image(path))
            labels.append(digit)
    labels = np.array(labels)
    predicted = DigitClassifier(args.model).predict(normalize_batch(images)).argmax(axis=1)
    for digit in range(10):
        mask = labels == digit
        print(f"digit {digit}: {np.mean(predicted[mask] == digit):.4f} ({mask.sum()} images)")
    print(f"accuracy={np.mean(predicted == labels):.4f} on {len(labels)} images")


if __name__ == "__main__":
    main()
