"""Train the digit CNN (or the MLP baseline) on MNIST, export it for fast inference.

The only module that imports TensorFlow. Every image goes through
:func:`formreader.normalize.normalize_digit`, the same function inference uses.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from formreader import synth
from formreader.exceptions import DataError, ModelError
from formreader.normalize import CANVAS, NORMALIZATION_VERSION, normalize_batch, normalize_digit

# Quiet TensorFlow's C++ logging; keep oneDNN on (it trains twice as fast on CPU).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger(__name__)

# ---- constants -------------------------------------------------------------------------------
NUM_CLASSES = 10
VALIDATION_SIZE = 5000
BATCH_SIZE = 128
PEAK_LEARNING_RATE = 2e-3
WARMUP_EPOCHS = 1
LABEL_SMOOTHING = 0.0
EARLY_STOP_PATIENCE = 8
# Augmentation that mimics pens and scans: degrees, fraction, fraction, fraction, pixels.
MAX_ROTATION = 12.0
MAX_SCALE = 0.12
MAX_SHEAR = 0.25
MAX_ASPECT = 0.12
MAX_SHIFT = 2.0
THICKNESS_PROBABILITY = 0.4

# Peak learning rate when continuing a trained digit CNN (--from without --data).
CONTINUE_LEARNING_RATE = 3e-4

GATE_EXAMPLES = 60000
GATE_EPOCHS = 10
#: Share of the gate's examples (both classes) written with another pen (thin, thick, faint).
VARIED_STROKES = 0.7

KERAS_NAME = "digits.keras"
GATE_KERAS_NAME = "gate.keras"
GATE_TFLITE_NAME = "gate.tflite"
TFLITE_NAME = "digits.tflite"
CARD_NAME = "model_card.json"


@dataclass
class TrainResult:
    """What a training run produced."""

    out_dir: Path
    val_accuracy: float
    test_accuracy: float
    params: int
    seconds_per_epoch: float


def mnist_path(path: str | os.PathLike | None) -> str | None:
    """The MNIST file: the given path, else ``$FORMREADER_MNIST``, else ``None`` (download)."""
    return str(path) if path else os.environ.get("FORMREADER_MNIST") or None


def load_mnist(path: str | os.PathLike | None = None):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

    Parameters
    ----------
    path : path-like or None
        A local ``mnist.npz`` in Keras' layout. ``None`` tries ``$FORMREADER_MNIST`` and then
        Keras' download (which needs internet).
    """
    path = mnist_path(path)
    if path is None:
        try:
            import keras

            return keras.datasets.mnist.load_data()
        except Exception as exc:  # no network, proxy, ...
            raise DataError(f"could not download MNIST: {exc}") from exc
    try:
        with np.load(path) as data:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read MNIST from {path}: {exc}") from exc


def normalize_mnist(x: np.ndarray) -> np.ndarray:
    """MNIST digits through the one normalisation function (white ink on black)."""
    return normalize_batch(x, ink_is_dark=False)


def continental_forms(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A copy of MNIST digits ``x`` (uint8) with :data:`formreader.synth.CONTINENTAL_SHARE`
    of the 1s and 7s written the continental way (a flagged 1, a crossed 7), normalised again
    like every digit."""
    rng = np.random.default_rng([seed, 17])
    x = x.copy()
    for i in np.flatnonzero(np.isin(y, (1, 7))):
        if rng.random() < synth.CONTINENTAL_SHARE:
            ink = synth.continental(x[i], int(y[i]), rng)
            x[i] = np.round(normalize_digit(ink, ink_is_dark=False) * 255)
    return x


def _conv_block(x, filters: int, kernel: int = 3, strides: int = 1, padding: str = "same"):
    """Convolution (no bias), batch norm, ReLU."""
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def build_model(arch: str = "cnn"):
    """The digit classifier: ``cnn`` (about 287 k parameters) or the ``mlp`` baseline.

    The CNN downsamples with learned 5×5 stride-2 convolutions instead of max pooling
    (28 → 14 → 7, then a valid 3×3 convolution to 5×5).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(CANVAS, CANVAS, 1), name="digit")
    if arch == "mlp":
        x = layers.Flatten()(inputs)
        for width in (512, 256):
            x = layers.Dense(width, activation="relu")(x)
            x = layers.Dropout(0.3)(x)
    elif arch == "cnn":
        x = inputs
        for filters in (32, 64):
            x = _conv_block(x, filters)
            x = _conv_block(x, filters)
            x = _conv_block(x, filters, kernel=5, strides=2)
            x = layers.Dropout(0.25)(x)
        x = _conv_block(x, 112, padding="valid")
        x = layers.Flatten()(x)
        x = layers.Dropout(0.4)(x)
    else:
        raise ValueError(f"unknown architecture {arch!r}: use 'cnn' or 'mlp'")
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"formreader_{arch}")


def augment(images, seed_generator):
    """Random affine warp (rotation, scale, aspect, shear, shift) and stroke thickness change.

    ``images`` is a float batch ``(n, 28, 28, 1)``; runs inside ``tf.data``.
    """
    import tensorflow as tf

    n = tf.shape(images)[0]

    def uniform(limit):
        return seed_generator.uniform([n], -limit, limit)

    angle = uniform(MAX_ROTATION) * (math.pi / 180.0)
    scale = 1.0 + uniform(MAX_SCALE)
    aspect = 1.0 + uniform(MAX_ASPECT)
    shear = uniform(MAX_SHEAR)
    sx, sy = scale * aspect, scale / aspect
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map A = R @ Shear @ S; the transform op wants the inverse (output -> input).
    a00, a01 = cos * sx, (cos * shear - sin) * sy
    a10, a11 = sin * sx, (sin * shear + cos) * sy
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = (CANVAS - 1) / 2.0
    tx, ty = c + uniform(MAX_SHIFT), c + uniform(MAX_SHIFT)
    b0 = c - (i00 * tx + i01 * ty)
    b1 = c - (i10 * tx + i11 * ty)
    zeros = tf.zeros_like(angle)
    transforms = tf.stack([i00, i01, b0, i10, i11, b1, zeros, zeros], axis=1)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=[CANVAS, CANVAS],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    # Thicker or thinner pens: soft grey dilation / erosion on part of the batch.
    kernel = tf.constant([[-0.5, -0.2, -0.5], [-0.2, 0.0, -0.2], [-0.5, -0.2, -0.5]])[..., None]
    thick = tf.nn.dilation2d(warped, kernel, [1, 1, 1, 1], "SAME", "NHWC", [1, 1, 1, 1])
    thin = -tf.nn.dilation2d(-warped, kernel, [1, 1, 1, 1], "SAME", "NHWC", [1, 1, 1, 1])
    choice = seed_generator.uniform([n, 1, 1, 1], 0.0, 1.0)
    half = THICKNESS_PROBABILITY / 2
    out = tf.where(choice < half, thick, tf.where(choice < 2 * half, thin, warped))
    return tf.clip_by_value(out, 0.0, 1.0)


def _dataset(x, y, training: bool, seed: int):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y))
    if training:
        generator = tf.random.Generator.from_seed(seed)
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(BATCH_SIZE).map(lambda a, b: (augment(a, generator), b), num_parallel_calls=1)
    else:
        ds = ds.batch(512)
    return ds.prefetch(2)


def _schedule(epochs: int, steps_per_epoch: int, peak: float = PEAK_LEARNING_RATE):
    """Linear warm-up, then cosine decay to 1 % of the peak."""
    import keras

    total = max(1, epochs * steps_per_epoch)
    warmup = min(total // 2, WARMUP_EPOCHS * steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        decay_steps=total - warmup,
        alpha=0.01,
        warmup_target=peak,
        warmup_steps=warmup,
    )


def export_tflite(model, path: Path) -> None:
    """Write a LiteRT (TFLite) flatbuffer with a dynamic batch dimension."""
    import keras

    spec = keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32")
    model.export(str(path), format="litert", input_signature=[spec], verbose=False)


def save_curves(history: list[dict], path: Path) -> None:
    """Plot accuracy and loss, train vs validation, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(epochs, [row[key] for row in history], label="train")
        ax.plot(epochs, [row[f"val_{key}"] for row in history], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fit(
    model, x, y, *, epochs: int, seed: int, loss, checkpoint: Path, echo, peak: float | None = None
) -> list[dict]:
    """Fit with augmentation, the LR schedule (peak learning rate ``peak``, default
    :data:`PEAK_LEARNING_RATE`), early stopping and best-checkpointing on a validation split
    taken from ``x`` itself. Returns the per-epoch history; the model ends with the best
    weights."""
    import keras

    n_val = max(1, min(VALIDATION_SIZE, len(x) // 10))  # a few user digits: still one
    order = np.random.default_rng(seed).permutation(len(x))
    val_idx, fit_idx = order[:n_val], order[n_val:]
    steps = math.ceil(len(fit_idx) / BATCH_SIZE)
    model.compile(
        optimizer=keras.optimizers.Adam(_schedule(epochs, steps, peak or PEAK_LEARNING_RATE)),
        loss=loss,
        metrics=["accuracy"],
    )
    history: list[dict] = []
    started = time.perf_counter()

    class EpochLine(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            row.pop("learning_rate", None)
            row["seconds"] = round(time.perf_counter() - started, 1)
            history.append(row)
            echo(
                f"epoch {epoch + 1}/{epochs}  loss={row['loss']:.4f} acc={row['accuracy']:.4f}"
                f"  val_loss={row['val_loss']:.4f} val_acc={row['val_accuracy']:.4f}"
                f"  {row['seconds']:.0f}s"
            )

    model.fit(
        _dataset(x[fit_idx], y[fit_idx], True, seed),
        validation_data=_dataset(x[val_idx], y[val_idx], False, seed),
        epochs=epochs,
        verbose=0,
        callbacks=[
            EpochLine(),
            keras.callbacks.ModelCheckpoint(
                checkpoint, monitor="val_accuracy", save_best_only=True
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=EARLY_STOP_PATIENCE, restore_best_weights=True
            ),
        ],
    )
    return history


def model_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Share of the normalised digits ``x`` (``(n, 28, 28)``) a Keras model labels ``y``."""
    return float(np.mean(model.predict(x[..., None], batch_size=512, verbose=0).argmax(1) == y))


def _write_history(history: list[dict], out_dir: Path, prefix: str = "") -> None:
    with open(out_dir / f"{prefix}history.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    save_curves(history, out_dir / f"{prefix}curves.png")


def train(
    out_dir: str | os.PathLike,
    mnist: str | os.PathLike | None = None,
    *,
    arch: str = "cnn",
    epochs: int = 36,
    seed: int = 0,
    limit: int | None = None,
    start_from: str | os.PathLike | None = None,
    continental: bool = False,
    echo=log.info,
) -> TrainResult:
    """Train a digit model on MNIST and write it with its curves, history and model card.

    Parameters
    ----------
    out_dir : path-like
        Folder for ``digits.keras``, ``digits.tflite``, ``history.csv``, ``curves.png`` and
        ``model_card.json``; created if missing.
    mnist : path-like or None
        Local ``mnist.npz``; see :func:`load_mnist`.
    arch : {'cnn', 'mlp'}
    epochs : int
        Maximum epochs; early stopping may end sooner.
    seed : int
    limit : int or None
        Train on only the first ``limit`` training images (for tests and quick trials).
    start_from : path-like or None
        Continue training this model folder's digit CNN (``arch`` is then ignored) at the
        lower peak rate :data:`CONTINUE_LEARNING_RATE`.
    continental : bool
        Write a share of the 1s and 7s the continental way (:func:`continental_forms`), for
        writers who flag their 1s and cross their 7s.
    echo : callable
        Receives one progress line per epoch.
    """
    import keras

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    if continental:
        x_train = continental_forms(x_train, y_train, seed)
    x_train, x_test = normalize_mnist(x_train), normalize_mnist(x_test)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)
    keras_path = out_dir / KERAS_NAME
    peak = None
    if start_from:
        source = Path(start_from) / KERAS_NAME
        try:
            model = keras.models.load_model(source, safe_mode=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot continue from {source}: {exc}") from None
        arch, peak = "cnn", CONTINUE_LEARNING_RATE
    else:
        model = build_model(arch)
    started = time.perf_counter()
    history = _fit(
        model,
        x_train,
        one_hot[y_train],
        epochs=epochs,
        seed=seed,
        checkpoint=keras_path,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING),
        echo=echo,
        peak=peak,
    )
    seconds_per_epoch = (time.perf_counter() - started) / max(1, len(history))
    model = keras.models.load_model(keras_path, safe_mode=True)
    val_accuracy = max(row["val_accuracy"] for row in history)
    test_accuracy = model_accuracy(model, x_test, y_test)
    export_tflite(model, out_dir / TFLITE_NAME)
    _write_history(history, out_dir)
    n_val = min(VALIDATION_SIZE, len(x_train) // 10)
    card = {
        "name": model.name,
        "architecture": arch,
        "parameters": int(model.count_params()),
        "data": {
            "source": mnist_path(mnist) or "keras.datasets.mnist",
            "train_images": int(len(x_train) - n_val),
            "validation_images": int(n_val),
            "validation_split": "random part of the MNIST training set",
        },
        "augmentation": {
            "rotation_degrees": MAX_ROTATION,
            "scale": MAX_SCALE,
            "aspect": MAX_ASPECT,
            "shear": MAX_SHEAR,
            "shift_pixels": MAX_SHIFT,
            "thickness_probability": THICKNESS_PROBABILITY,
            "continental_share": synth.CONTINENTAL_SHARE if continental else 0.0,
        },
        "continued_from": str(start_from) if start_from else None,
        "epochs_run": len(history),
        "epochs_max": epochs,
        "seed": seed,
        "seconds_per_epoch": round(seconds_per_epoch, 1),
        "validation_accuracy": round(val_accuracy, 5),
        "mnist_test_accuracy": round(test_accuracy, 5),
        "normalization_version": NORMALIZATION_VERSION,
        "files": {"keras": KERAS_NAME, "tflite": TFLITE_NAME},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _update_card(out_dir, card)
    log.info("wrote %s", out_dir)
    return TrainResult(out_dir, val_accuracy, test_accuracy, card["parameters"], seconds_per_epoch)


def _update_card(out_dir: Path, fields: dict) -> None:
    """Merge ``fields`` into the folder's model card (the gate keeps its own section)."""
    path = out_dir / CARD_NAME
    card = json.loads(path.read_text()) if path.is_file() else {}
    card.update(fields)
    path.write_text(json.dumps(card, indent=2) + "\n")


def build_gate_model():
    """A small CNN: probability that a normalised crop is one handwritten digit."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(CANVAS, CANVAS, 1), name="crop")
    x = inputs
    for filters in (16, 32):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(2, activation="softmax", name="is_digit")(x)
    return keras.Model(inputs, outputs, name="formreader_gate")


def train_gate(
    out_dir: str | os.PathLike,
    mnist: str | os.PathLike | None = None,
    *,
    epochs: int = GATE_EPOCHS,
    seed: int = 0,
    limit: int | None = None,
    echo=log.info,
) -> TrainResult:
    """Train the reject check (one handwritten digit vs print, rules, specks, slices, pairs).

    Writes ``gate.keras``, ``gate.tflite``, ``gate_history.csv``, ``gate_curves.png`` and a
    ``gate`` section in the folder's model card.
    """
    import keras

    from formreader.nondigits import nondigit_examples, vary_stroke

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist)
    n = min(limit or GATE_EXAMPLES, len(x_train))
    rng = np.random.default_rng([seed, 1])
    positives = [image.astype(np.float32) / 255 for image in x_train[:n]]
    negatives = nondigit_examples(x_train, y_train, n, seed)
    positives, negatives = (
        normalize_batch(
            [vary_stroke(ink, rng) if rng.random() < VARIED_STROKES else ink for ink in inks],
            ink_is_dark=False,
        )
        for inks in (positives, negatives)
    )
    x = np.concatenate([positives, negatives])
    y = np.zeros((2 * n, 2), np.float32)
    y[:n, 1] = 1.0
    y[n:, 0] = 1.0
    model = build_gate_model()
    history = _fit(
        model,
        x,
        y,
        epochs=epochs,
        seed=seed,
        checkpoint=out_dir / GATE_KERAS_NAME,
        loss="categorical_crossentropy",
        echo=echo,
    )
    model = keras.models.load_model(out_dir / GATE_KERAS_NAME, safe_mode=True)
    export_tflite(model, out_dir / GATE_TFLITE_NAME)
    _write_history(history, out_dir, prefix="gate_")
    test_x = np.concatenate(
        [
            normalize_mnist(x_test[:2000]),
            normalize_batch(nondigit_examples(x_test, y_test, 2000, seed + 1), ink_is_dark=False),
        ]
    )
    test_y = np.repeat([1, 0], 2000)
    test_accuracy = model_accuracy(model, test_x, test_y)
    val_accuracy = max(row["val_accuracy"] for row in history)
    _update_card(
        out_dir,
        {
            "gate": {
                "task": "one handwritten digit vs print, rules, specks, slices and pairs",
                "parameters": int(model.count_params()),
                "examples": 2 * n,
                "epochs_run": len(history),
                "validation_accuracy": round(val_accuracy, 5),
                "test_accuracy": round(test_accuracy, 5),
                "file": GATE_TFLITE_NAME,
            }
        },
    )
    return TrainResult(
        out_dir,
        val_accuracy,
        test_accuracy,
        int(model.count_params()),
        history[-1]["seconds"] / len(history),
    )
