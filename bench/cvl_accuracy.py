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
from formreader.retrain import load_digit_folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cvl", required=True, help="folder with digit sub-folders 0..9")
    parser.add_argument("--model", help="model folder (default: bundled)")
    args = parser.parse_args()
    digits = load_digit_folders(Path(args.cvl))
    labels = digits.labels
    predicted = DigitClassifier(args.model).predict(digits.images).argmax(axis=1)
    for digit in range(10):
        mask = labels == digit
        print(f"digit {digit}: {np.mean(predicted[mask] == digit):.4f} ({mask.sum()} images)")
    print(f"accuracy={np.mean(predicted == labels):.4f} on {len(labels)} images")


if __name__ == "__main__":
    main()
