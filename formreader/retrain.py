"""Fine-tune on the user's own data (``formreader train --data``).

The user's data is either digit folders ``0/ … 9/`` (the layout ``scan --export-crops``
writes) or a CSV ``file,label`` of images whose label is a whole digit string. Digit folders
fine-tune the digit CNN. String labels fine-tune the string model on *every* string, and the
digit CNN on the strings the scan pipeline cuts into as many digits as the label has. Every
image goes through :mod:`formreader.normalize`, as at inference.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from formreader.classify import MAX_DIGITS
from formreader.exceptions import BlankImageError, DataError, FormreaderError
from formreader.io import IMAGE_SUFFIXES, load_image
from formreader.normalize import NORMALIZATION_VERSION, normalize_digit

log = logging.getLogger(__name__)

# ---- constants -------------------------------------------------------------------------------
#: Share of the user's digits held out to measure the gain (never trained on).
HOLDOUT = 0.2
#: MNIST training digits mixed in per user digit, so MNIST is not forgotten.
REPLAY_RATIO = 2.0
FINETUNE_LEARNING_RATE = 5e-4
FINETUNE_EPOCHS = 4
STRING_FINETUNE_EPOCHS = 10
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


def read_string_csv(csv_path: Path) -> list[tuple[np.ndarray, str]]:
    """The first page of every image listed in ``csv_path`` (``file,label``, paths relative to
    it) with its digit-string label."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise DataError(f"{csv_path}: expected a header file,label and rows", hint=_HINT)
    strings = []
    for line, row in enumerate(rows, start=2):
        label = (row["label"] or "").strip()
        if not label.isdigit() or len(label) > MAX_DIGITS:
            raise DataError(
                f"{csv_path}:{line}: label {label!r} is not a string of 1-{MAX_DIGITS} digits",
                _HINT,
            )
        try:
            page = load_image(csv_path.parent / row["file"])
        except FormreaderError as exc:
            raise DataError(f"{csv_path}:{line}: {exc}", hint="fix the path or the file") from exc
        strings.append((page, label))
    return strings


def cut_strings(strings: list[tuple[np.ndarray, str]], source: str, model_dir=None) -> UserDigits:
    """Digits of labelled strings, cut by the scan pipeline; strings cut into the wrong number
    of digits are left out."""
    from formreader.pipeline import Readers, read_page

    readers = Readers.load(model_dir, "digits")
    images, labels, used = [], [], 0
    for page, label in strings:
        pieces = [p for reading in read_page(page, readers) for p in reading.pieces]
        if len(pieces) == len(label):
            images += [p.image for p in pieces]
            labels += [int(c) for c in label]
            used += 1
    if not images:
        raise DataError(
            f"{source}: none of the {len(strings)} strings was cut into as many digits as its"
            " label",
            hint=_HINT,
        )
    return UserDigits(np.stack(images), np.array(labels), source, len(strings), used)


def is_string_csv(data: Path) -> bool:
    return data.is_file() and data.suffix.lower() == ".csv"


def load_user_digits(data: str | os.PathLike, model_dir=None) -> UserDigits:
    """Digit folders or a CSV of string labels (see the module docstring)."""
    data = Path(data)
    if data.is_dir():
        return load_digit_folders(data)
    if is_string_csv(data):
        return cut_strings(read_string_csv(data), str(data), model_dir)
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
    user_before: float | None
    user_after: float | None
    mnist_before: float | None
    mnist_after: float | None
    train_digits: int
    held_out_digits: int
    #: The string model's fine-tuning, for string labels.
    strings: StringRetrainResult | None = None


@dataclass
class StringRetrainResult:
    """Exact-string accuracy of the string model on the held-out user strings."""

    before: float
    after: float
    train_strings: int
    held_out_strings: int
    replay_strings: int


def retrain_strings(
    strings: list[tuple[np.ndarray, str]],
    out_dir: Path,
    mnist=None,
    *,
    start_from=None,
    use_mnist: bool = True,
    epochs: int | None = None,
    seed: int = 0,
    echo=log.info,
) -> StringRetrainResult:
    """Fine-tune the string model on *all* the user's labelled strings (minus a held-out
    fifth), with as many synthetic MNIST strings mixed in so it does not forget; write
    ``strings.keras`` and ``strings.tflite`` into ``out_dir``."""
    import keras
    import tensorflow as tf

    from formreader.classify import bundled_model_dir
    from formreader.normalize import STRIP_HEIGHT, STRIP_WIDTH, normalize_strip
    from formreader.train import export_tflite, load_mnist
    from formreader.train_strings import (
        STRING_BATCH,
        STRING_KERAS_NAME,
        STRING_TFLITE_NAME,
        ctc_loss,
        exact_accuracy,
        synthetic_strings,
    )

    strips, texts = [], []
    for image, label in strings:
        try:
            strips.append(np.round(normalize_strip(image) * 255).astype(np.uint8))
        except BlankImageError:
            continue  # no ink to learn from
        texts.append(label)
    if len(strips) < len(strings):
        echo(f"string model: {len(strings) - len(strips)} blank image(s) left out")
    strings = list(zip(strips, texts, strict=True))
    x = np.stack(strips) if strips else np.zeros((0, STRIP_HEIGHT, STRIP_WIDTH), np.uint8)
    y = np.full((len(strips), MAX_DIGITS), -1, np.int32)
    for i, label in enumerate(texts):
        y[i, : len(label)] = [int(c) for c in label]
    order = np.random.default_rng(seed).permutation(len(strings))
    cut = int(round(HOLDOUT * len(strings)))
    held, fit = order[:cut], order[cut:]
    if len(held) == 0 or len(fit) == 0:
        raise DataError(f"too few strings ({len(strings)}) to train and hold out")
    replay = 0
    x_fit, y_fit = x[fit], y[fit]
    if use_mnist:
        (x_train, y_train), _ = load_mnist(mnist)
        x_replay, y_replay = synthetic_strings(x_train, y_train, len(fit), seed + 7)
        x_fit, y_fit = np.concatenate([x_fit, x_replay]), np.concatenate([y_fit, y_replay])
        replay = len(x_replay)
    echo(f"string model: {len(fit)} strings to train on (+{replay} synthetic), {cut} held out")
    base = Path(start_from) if start_from else bundled_model_dir()
    if not (base / STRING_KERAS_NAME).is_file():
        base = bundled_model_dir()
    model = keras.models.load_model(base / STRING_KERAS_NAME, compile=False, safe_mode=True)
    x_held = x[held].astype(np.float32)[..., None] / 255

    def held_exact() -> float:
        return exact_accuracy(model.predict(x_held, batch_size=256, verbose=0), y[held])

    before = held_exact()
    echo(f"string model before: held-out strings exact {before:.4f}")
    model.compile(optimizer=keras.optimizers.Adam(FINETUNE_LEARNING_RATE), loss=ctc_loss)
    data = (
        tf.data.Dataset.from_tensor_slices((x_fit, y_fit))
        .shuffle(len(x_fit), seed=seed)
        .batch(STRING_BATCH)
        .map(lambda a, b: (tf.cast(a, tf.float32)[..., None] / 255.0, b))
    )
    model.fit(data, epochs=epochs or STRING_FINETUNE_EPOCHS, verbose=0)
    after = held_exact()
    echo(f"string model after:  held-out strings exact {after:.4f}")
    model.save(out_dir / STRING_KERAS_NAME)
    export_tflite(model, out_dir / STRING_TFLITE_NAME)
    return StringRetrainResult(before, after, len(fit), cut, replay)


def mnist_replay(n_user: int, n_mnist: int, seed: int) -> np.ndarray:
    """Indices of the MNIST training digits mixed in with ``n_user`` user digits:
    ``REPLAY_RATIO`` per user digit, all of MNIST at most, none twice."""
    count = min(n_mnist, int(REPLAY_RATIO * n_user))
    return np.random.default_rng(seed).choice(n_mnist, count, replace=False)


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
    """Fine-tune the digit CNN (and, for string labels, the string model) on the user's data,
    with MNIST replay, and write a model folder.

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
    base_dir = Path(start_from) if start_from else bundled_model_dir()
    data = Path(data)
    strings = read_string_csv(data) if is_string_csv(data) else None
    string_result = None
    if strings:
        options = {"start_from": start_from, "use_mnist": use_mnist, "seed": seed}
        string_result = retrain_strings(strings, out_dir, mnist, echo=echo, **options)
        try:
            user = cut_strings(strings, str(data), start_from)
        except DataError as exc:
            echo(f"the digit CNN is kept as it was: {exc}")
            for name in (KERAS_NAME, TFLITE_NAME):
                shutil.copyfile(base_dir / name, out_dir / name)
            card = {
                "digits": f"copied from {base_dir}: {exc}",
                "strings": _strings_card(string_result, data),
                "normalization_version": NORMALIZATION_VERSION,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            (out_dir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
            return RetrainResult(out_dir, None, None, None, None, 0, 0, string_result)
        echo(f"{user.strings_used} of {user.strings_total} strings cut into their label's digits")
    else:
        user = load_user_digits(data, start_from)
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

    model = keras.models.load_model(base_dir / KERAS_NAME, safe_mode=True)
    user_before = model_accuracy(model, x_held, y_held)
    mnist_before = model_accuracy(model, *mnist_test) if mnist_test else None
    echo(f"before: held-out user digits {user_before:.4f}" + _mnist_note(mnist_before))
    if use_mnist:
        replay = mnist_replay(len(x_user), len(x_train), seed)
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
    if string_result:
        card["strings"] = _strings_card(string_result, data)
    (out_dir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
    return RetrainResult(
        out_dir,
        user_before,
        user_after,
        mnist_before,
        mnist_after,
        len(x_user),
        len(x_held),
        string_result,
    )


def _strings_card(result: StringRetrainResult, data: Path) -> dict:
    return {
        "fine_tuned_on": str(data),
        "user_strings_trained": result.train_strings,
        "user_strings_held_out": result.held_out_strings,
        "synthetic_replay_strings": result.replay_strings,
        "held_out_exact": {"before": round(result.before, 5), "after": round(result.after, 5)},
        "file": "strings.tflite",
    }


def _mnist_note(accuracy: float | None) -> str:
    return "" if accuracy is None else f", MNIST test {accuracy:.4f}"
