"""The digit CNN next to the MLP baseline: parameters, accuracy, speed, training curves.

    python bench/compare.py --mnist ../shared/data/mnist.npz --cvl ../shared/data/cvl/valid

``--cnn DIR`` and ``--mlp DIR`` are model folders from ``formreader train`` (``--arch cnn`` /
``--arch mlp``); the CNN defaults to the bundled model (its curves are in models/bundled/), and
without ``--mlp`` an MLP is trained first (``--epochs``, a couple of minutes) into
``runs/compare-mlp``. Both run through LiteRT as ``scan`` runs them. Prints a table and writes
``--plot`` (validation accuracy and loss per epoch of both).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from formreader.classify import LiteModel, bundled_model_dir
from formreader.io import load_image
from formreader.normalize import normalize_batch
from formreader.train import CARD_NAME, TFLITE_NAME, load_mnist, normalize_mnist, train

REPO = Path(__file__).resolve().parents[1]


def digits_per_second(model: LiteModel, digits: np.ndarray, batch: int) -> float:
    """Normalised digits classified per second in batches of ``batch`` (after a warm-up).

    A model's tensors only grow: time small batches on a model not yet given larger ones."""
    model(digits[:batch])
    started = time.perf_counter()
    for start in range(0, len(digits), batch):
        model(digits[start : start + batch])
    return len(digits) / (time.perf_counter() - started)


def history(folder: Path) -> list[dict]:
    """Per-epoch history of a model folder (the bundled model's is kept in models/bundled/)."""
    bundled = folder.resolve() == bundled_model_dir().resolve()
    path = (REPO / "models" / "bundled" if bundled else folder) / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def plot(curves: dict[str, list[dict]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in curves.items():
        epochs = [row["epoch"] for row in rows]
        axes[0].plot(epochs, [row["val_accuracy"] for row in rows], label=name)
        axes[1].plot(epochs, [row["val_loss"] for row in rows], label=name)
    for ax, title in zip(axes, ("validation accuracy", "validation loss"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.legend()
    axes[0].set_ylim(0.97, 1.0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--cvl", help="CVL folder with digit sub-folders (optional)")
    parser.add_argument("--cnn", help="CNN model folder (default: bundled)")
    parser.add_argument("--mlp", help="MLP model folder (default: train one)")
    parser.add_argument("--epochs", type=int, default=10, help="MLP epochs when training one")
    parser.add_argument("--plot", default="compare.png")
    args = parser.parse_args()
    mlp = Path(args.mlp) if args.mlp else REPO / "runs" / "compare-mlp"
    if not (mlp / TFLITE_NAME).is_file():
        print(f"training the MLP ({args.epochs} epochs) into {mlp} ...", flush=True)
        train(mlp, args.mnist, arch="mlp", epochs=args.epochs, echo=print)
    folders = {"cnn": Path(args.cnn) if args.cnn else bundled_model_dir(), "mlp": mlp}
    _, (x_test, y_test) = load_mnist(args.mnist)
    digits = normalize_mnist(x_test)
    cvl = None
    if args.cvl:
        paths = [(p, d) for d in range(10) for p in sorted((Path(args.cvl) / str(d)).glob("*.png"))]
        cvl = (normalize_batch([load_image(p) for p, _ in paths]), np.array([d for _, d in paths]))
    header = ["model", "parameters", "MNIST test", "CVL valid", "digits/s one by one", "batch 64"]
    print(" | ".join(header))
    for name, folder in folders.items():
        model = LiteModel(folder / TFLITE_NAME)
        card = json.loads((folder / CARD_NAME).read_text())
        mnist_accuracy = np.mean(model(digits).argmax(1) == y_test)
        cvl_accuracy = f"{np.mean(model(cvl[0]).argmax(1) == cvl[1]):.4f}" if cvl else "-"
        row = [
            name,
            f"{card['parameters']:,}",
            f"{mnist_accuracy:.4f}",
            cvl_accuracy,
            f"{digits_per_second(LiteModel(folder / TFLITE_NAME), digits[:2000], 1):,.0f}",
            f"{digits_per_second(model, digits, 64):,.0f}",
        ]
        print(" | ".join(row))
    plot({name: history(folder) for name, folder in folders.items()}, args.plot)
    print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
