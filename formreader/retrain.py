"""Fine-tune the digit CNN on the user's own digits (``formreader train --data``).

The user's data is either digit folders ``0/ … 9/`` (the layout ``scan --export-crops``
writes) or a CSV ``file,label`` of images whose label is a whole digit string; such strings
are cut by the scan pipeline and used only where it finds as many digits as the label has.
Every image goes through :func:`formreader.normalize.normalize_digit`, as at inference.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from formreader.exceptions import DataError, FormreaderError
from formreader.io import IMAGE_SUFFIXES, load_image, load_pages
from formreader.normalize import NORMALIZATION_VERSION, normalize_digit

log = logging.getLogger(__name__)

# ---- constants -------------------------------------------------------------------------------
#: Share of the user's digits held out to measure the gain (never trained on).
HOLDOUT = 0.2
#: MNIST training digits mixed in per user digit, so MNIST is not forgotten.
REPLAY_RATIO = 2.0
FINETUNE_LEARNING_RATE = 5e-4
FINETUNE_EPOCHS = 4
SCRATCH_EPOCHS = 20
_HINT = "give digit folders 0/ ... 9/ (as `scan --export-crops` writes) or a CSV file,label"


@dataclass
class UserDigits:
    """Normalised user digits ``(n, 28, 28)``, their labels and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    strings_total: int = 0
    strings_used: int = 0


def load_digit_folders(root: Path) -> UserDigits:
    """Every image in ``root/0`` … ``root/9``, normalised; other folders are ignored."""
    images, labels = [], []
    for digit in range(10):
        folder = root / str(digit)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            images.append(_normalized(path))
            labels.append(digit)
    if not images:
        raise DataError(f"{root}: no labelled digits found in folders 0/ ... 9/", hint=_HINT)
    return UserDigits(np.stack(images), np.array(labels), str(root))


def _normalized(path: Path) -> np.ndarray:
    try:
        return normalize_digit(load_image(path))
    except FormreaderError as exc:
        raise DataError(f"{path}: {exc}", hint="remove or fix this file") from exc


def load_string_labels(csv_path: Path, model_dir=None) -> UserDigits:
    """Digits of the strings listed in ``csv_path`` (``file,label``, paths relative to it),
    cut by the scan pipeline; strings cut into the wrong number of digits are left out."""
    from formreader.pipeline import Readers, read_page

    readers = Readers.load(model_dir, "digits")
    images, labels, total, used = [], [], 0, 0
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise DataError(f"{csv_path}: expected a header file,label and rows", hint=_HINT)
    for line, row in enumerate(rows, start=2):
        label = (row["label"] or "").strip()
        if not label.isdigit():
            raise DataError(f"{csv_path}:{line}: label {label!r} is not a digit string", _HINT)
        path = csv_path.parent / row["file"]
        try:
            pages = load_pages(path)
        except FormreaderError as exc:
            raise DataError(f"{csv_path}:{line}: {exc}", hint="fix the path or the file") from exc
        total += 1
        pieces = [p for reading in read_page(pages[0], readers) for p in reading.pieces]
        if len(pieces) == len(label):
            images += [p.image for p in pieces]
            labels += [int(c) for c in label]
            used += 1
    if not images:
        raise DataError(
            f"{csv_path}: none of the {total} strings was cut into as many digits as its label",
            hint=_HINT,
        )
    return UserDigits(np.stack(images), np.array(labels), str(csv_path), total, used)


def load_user_digits(data: str | os.PathLike, model_dir=None) -> UserDigits:
    """Digit folders or a CSV of string labels (see the module docstring)."""
    data = Path(data)
    if data.is_dir():
        return load_digit_folders(data)
    if data.is_file() and data.suffix.lower() == ".csv":
        return load_string_labels(data, model_dir)
    raise DataError(f"{data}: neither a folder of digit folders nor a .csv file", hint=_HINT)


def split_holdout(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, held_out)``: :data:`HOLDOUT` of each digit's examples held out."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for digit in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(HOLDOUT * len(index)))
        held.append(index[:cut])
        train.append(index[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


@dataclass
class RetrainResult:
    """Accuracy before and after, on the held-out user digits and on MNIST test."""

    out_dir: Path
    user_before: float
    user_after: float
    mnist_before: float | None
    mnist_after: float | None
    train_digits: int
    held_out_digits: int


def retrain(
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    mnist: str | os.PathLike | None = None,
    *,
    start_from: str | os.PathLike | None = None,
    use_mnist: bool = True,
    epochs: int | None = None,
    seed: int = 0,
    echo=log.info,
) -> RetrainResult:
    """Fine-tune the digit CNN on the user's digits, with MNIST replay, and write a model folder.

    Parameters
    ----------
    data : path-like
        Digit folders or a CSV ``file,label`` of digit strings.
    out_dir : path-like
        Gets ``digits.keras``, ``digits.tflite``, ``history.csv``, ``curves.png`` and
        ``model_card.json``; ``scan --model`` and ``read --model`` use it (with the bundled
        gate and string model).
    start_from : path-like or None
        Model folder to start from (``None``: the bundled model).
    use_mnist : bool
        ``False`` trains a new CNN on the user's digits only (no MNIST at all).
    """
    import keras

    from formreader.classify import bundled_model_dir
    from formreader.train import (
        CARD_NAME,
        KERAS_NAME,
        TFLITE_NAME,
        _fit,
        _write_history,
        build_model,
        export_tflite,
        load_mnist,
        model_accuracy,
        normalize_mnist,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    user = load_user_digits(data, start_from)
    if user.strings_total:
        echo(f"{user.strings_used} of {user.strings_total} strings cut into their label's digits")
    train_idx, held_idx = split_holdout(user.labels, seed)
    if len(train_idx) == 0 or len(held_idx) == 0:
        raise DataError(f"{data}: too few digits ({len(user.labels)}) to train and hold out")
    x_user, y_user = user.images[train_idx], user.labels[train_idx]
    x_held, y_held = user.images[held_idx], user.labels[held_idx]
    echo(f"{len(x_user)} digits to train on, {len(x_held)} held out")

    mnist_test = None
    if use_mnist:
        (x_train, y_train), (x_test, y_test) = load_mnist(mnist)
        mnist_test = (normalize_mnist(x_test), y_test)
    base_dir = Path(start_from) if start_from else bundled_model_dir()

    model = keras.models.load_model(base_dir / KERAS_NAME, safe_mode=True)
    user_before = model_accuracy(model, x_held, y_held)
    mnist_before = model_accuracy(model, *mnist_test) if mnist_test else None
    echo(f"before: held-out user digits {user_before:.4f}" + _mnist_note(mnist_before))
    if use_mnist:
        replay = np.random.default_rng(seed).choice(
            len(x_train), int(REPLAY_RATIO * len(x_user)), replace=False
        )
        x_fit = np.concatenate([x_user, normalize_mnist(x_train[replay])])
        y_fit = np.concatenate([y_user, y_train[replay]])
        epochs = epochs or FINETUNE_EPOCHS
        peak = FINETUNE_LEARNING_RATE
    else:
        model = build_model("cnn")
        x_fit, y_fit = x_user, y_user
        epochs = epochs or SCRATCH_EPOCHS
        peak = None
    started = time.perf_counter()
    history = _fit(
        model,
        x_fit,
        np.eye(10, dtype=np.float32)[y_fit],
        epochs=epochs,
        seed=seed,
        loss=keras.losses.CategoricalCrossentropy(),
        checkpoint=out_dir / KERAS_NAME,
        echo=echo,
        peak=peak,
    )
    model = keras.models.load_model(out_dir / KERAS_NAME, safe_mode=True)
    user_after = model_accuracy(model, x_held, y_held)
    mnist_after = model_accuracy(model, *mnist_test) if mnist_test else None
    echo(f"after:  held-out user digits {user_after:.4f}" + _mnist_note(mnist_after))
    export_tflite(model, out_dir / TFLITE_NAME)
    _write_history(history, out_dir)
    card = {
        "name": model.name,
        "parameters": int(model.count_params()),
        "fine_tuned_from": str(base_dir) if use_mnist else None,
        "data": {
            "user_data": user.source,
            "user_digits_trained": int(len(x_user)),
            "user_digits_held_out": int(len(x_held)),
            "strings_used": f"{user.strings_used}/{user.strings_total}"
            if user.strings_total
            else None,
            "mnist_replay_digits": int(len(x_fit) - len(x_user)),
        },
        "epochs_run": len(history),
        "seconds": round(time.perf_counter() - started, 1),
        "held_out_user_accuracy": {"before": round(user_before, 5), "after": round(user_after, 5)},
        "mnist_test_accuracy": round(mnist_after, 5) if mnist_after is not None else None,
        "mnist_test_accuracy_before": round(mnist_before, 5) if mnist_before else None,
        "normalization_version": NORMALIZATION_VERSION,
        "files": {"keras": KERAS_NAME, "tflite": TFLITE_NAME},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
    return RetrainResult(
        out_dir,
        user_before,
        user_after,
        mnist_before,
        mnist_after,
        len(x_user),
        len(x_held),
    )


def _mnist_note(accuracy: float | None) -> str:
    return "" if accuracy is None else f", MNIST test {accuracy:.4f}"
