"""Evaluate a digit model on MNIST's test set: per-class recall, confusion matrix, accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formreader.classify import DigitClassifier
from formreader.exceptions import DataError
from formreader.normalize import normalize_batch

EVAL_BATCH = 500


@dataclass
class Evaluation:
    """Results of :func:`evaluate`; ``confusion[true, predicted]``."""

    confusion: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def recall(self) -> np.ndarray:
        return np.diag(self.confusion) / np.maximum(self.confusion.sum(axis=1), 1)

    def report(self) -> str:
        """Recall per class, the confusion matrix and, last, ``accuracy=<float>``."""
        lines = ["digit  recall  count"]
        for digit, (recall, count) in enumerate(
            zip(self.recall, self.confusion.sum(axis=1), strict=True)
        ):
            lines.append(f"{digit:>5}  {recall:.4f}  {count:>5}")
        lines.append("confusion matrix (rows: true digit, columns: predicted)")
        lines.append("     " + "".join(f"{d:>6}" for d in range(10)))
        for digit, row in enumerate(self.confusion):
            lines.append(f"{digit:>5}" + "".join(f"{v:>6}" for v in row))
        lines.append(f"accuracy={self.accuracy:.4f}")
        return "\n".join(lines)


def predict_mnist_style(classifier: DigitClassifier, images: np.ndarray) -> np.ndarray:
    """Predicted labels for MNIST-style images (white on black), normalised as in training."""
    labels = []
    for start in range(0, len(images), EVAL_BATCH):
        batch = normalize_batch(images[start : start + EVAL_BATCH], ink_is_dark=False)
        labels.append(classifier.predict(batch).argmax(axis=1))
    return np.concatenate(labels)


def evaluate(mnist: str | Path, model_dir: str | Path | None = None) -> Evaluation:
    """Evaluate the model in ``model_dir`` (default: bundled) on the test split of ``mnist``."""
    try:
        with np.load(mnist) as data:
            images, truth = data["x_test"], data["y_test"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read MNIST test data from {mnist}: {exc}") from exc
    predicted = predict_mnist_style(DigitClassifier(model_dir), images)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (truth.astype(int), predicted), 1)
    return Evaluation(confusion)


def plot_confusion(evaluation: Evaluation, path: str | Path) -> None:
    """Save the confusion matrix as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(np.log1p(evaluation.confusion), cmap="viridis")
    for (row, col), value in np.ndenumerate(evaluation.confusion):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=7, color="white")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_title(f"accuracy {evaluation.accuracy:.4f}")
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
