"""Train the string model: a CNN that looks along a whole digit string, 1-D convolutions and CTC.

The model reads a field or strip without cutting it into digits. It is trained on synthetic
strings of MNIST *training* digits (:func:`formreader.synth.make_string`: 1-10 digits, touching
and overlapping, slanted, thick and thin pens, rules, boxes, comb cells, strike-throughs,
specks, textured and coloured paper, both polarities; every :data:`AMOUNT_EVERY`-th a cheque
amount, :func:`formreader.synth.make_amount`), each put through
:func:`formreader.normalize.normalize_strip`, the function inference uses.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from formreader import synth
from formreader.classify import BLANK, MAX_DIGITS, ctc_decode
from formreader.exceptions import ModelError
from formreader.normalize import NORMALIZATION_VERSION, STRIP_HEIGHT, STRIP_WIDTH, normalize_strip
from formreader.train import (
    TrainResult,
    _schedule,
    _update_card,
    _write_history,
    continental_forms,
    export_tflite,
    load_mnist,
    mnist_path,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger(__name__)

# ---- constants -------------------------------------------------------------------------------
STRING_SAMPLES = 40_000
STRING_VALIDATION = 2_000
STRING_BATCH = 64
STRING_LEARNING_RATE = 2e-3
# Peak rate when continuing a trained string model: restarting at 1e-3 undid a stage's gains
# for its first epoch (validation exact 0.8185 -> 0.7785 on 2026-12-04).
STRING_CONTINUE_RATE = 5e-4
STRING_PATIENCE = 4
STRING_KERAS_NAME = "strings.keras"
#: Every this many synthetic strings one is a cheque amount (:func:`formreader.synth.make_amount`):
#: separators, closing dashes and currency labels the model must not read as digits.
AMOUNT_EVERY = 8
#: Generated pages whose fields the pipeline cut are read as these kinds, in turn.
PAGE_KINDS = ("form", "photo", "amount")
#: A strip the pipeline cut is labelled with the true field whose box it overlaps this much
#: (intersection over union); others (fields joined, split or missed) are left out.
PAGE_MATCH = 0.6
STRING_TFLITE_NAME = "strings.tflite"
_CHUNK = 500
#: With ``page_hands``, this share of the synthetic strings is written with those digits too:
#: in 2026-12-07's stage it read strings of other writers (CVL valid) 0.547 -> 0.599.
HAND_STRING_SHARE = 0.4


def _make_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    """Worker: ``count`` normalised synthetic strings and their padded labels."""
    images, labels, seed, start, count = args
    pool = synth.DigitPool(images, labels)
    x = np.zeros((count, STRIP_HEIGHT, STRIP_WIDTH), np.uint8)
    y = np.full((count, MAX_DIGITS), -1, np.int32)
    for i in range(count):
        make = synth.make_amount if (start + i) % AMOUNT_EVERY == 0 else synth.make_string
        page = make(pool, np.random.default_rng([seed, start + i]))
        text = page.fields[0].text
        x[i] = np.round(normalize_strip(page.image) * 255)
        y[i, : len(text)] = [int(c) for c in text]
    return x, y


def synthetic_strings(
    digits: np.ndarray, labels: np.ndarray, n: int, seed: int, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``n`` normalised strings (uint8 ``(n, 32, 256)``) and labels (``(n, 10)``, -1 pads).

    String ``i`` depends only on ``(seed, i)``, whatever the number of workers.
    """
    return _in_chunks(_make_chunk, digits, labels, n, seed, _CHUNK, workers)


def _in_chunks(worker, digits, labels, n: int, seed: int, size: int, workers: int):
    """``worker``'s images and labels for items ``0 .. n - 1`` made ``size`` at a time,
    concatenated in order."""
    jobs = [(digits, labels, seed, start, min(size, n - start)) for start in range(0, n, size)]
    if workers <= 1:
        parts = [worker(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as executor:
            parts = list(executor.map(worker, jobs))
    empty = np.zeros((0, STRIP_HEIGHT, STRIP_WIDTH), np.uint8), np.zeros((0, MAX_DIGITS), np.int32)
    parts = [empty, *parts]  # none when n is 0
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _shuffled_together(first, second, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two ``(images, labels)`` sets as one, in a random order of ``seed``."""
    order = np.random.default_rng(seed).permutation(len(first[0]) + len(second[0]))
    images = np.concatenate([first[0], second[0]])[order]
    return images, np.concatenate([first[1], second[1]])[order]


def _iou(a, b) -> float:
    shared = synth.box_intersection(a, b)
    return shared / max(1, a[2] * a[3] + b[2] * b[3] - shared)


def matched_readings(page: synth.Page, readers) -> Iterator[tuple[object, synth.Field]]:
    """The fields :func:`formreader.pipeline.read_page` reads on a generated page, each with
    the true field its box matches (:data:`PAGE_MATCH`); the others are left out."""
    from formreader.pipeline import read_page

    for reading in read_page(page.image, readers):
        truth = max(page.fields, key=lambda f: _iou(f.box, reading.box), default=None)
        if truth is not None and _iou(truth.box, reading.box) >= PAGE_MATCH:
            yield reading, truth


def _page_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    """Worker: the strips the pipeline hands the string model on ``count`` generated pages,
    labelled with the true fields they match, and padded labels."""
    from formreader.pipeline import Readers

    images, labels, seed, start, count = args
    pool = synth.DigitPool(images, labels)
    readers = Readers.load(reader="both")
    strips, texts = [], []
    for i in range(start, start + count):
        kind = PAGE_KINDS[i % len(PAGE_KINDS)]
        page = synth.make_page(kind, pool, np.random.default_rng([seed, i]))
        for reading, truth in matched_readings(page, readers):
            if reading.strip is not None:
                strips.append(np.round(reading.strip * 255).astype(np.uint8))
                texts.append(truth.text)
    x = np.zeros((len(strips), STRIP_HEIGHT, STRIP_WIDTH), np.uint8)
    y = np.full((len(strips), MAX_DIGITS), -1, np.int32)
    for k, (strip, text) in enumerate(zip(strips, texts, strict=True)):
        x[k] = strip
        y[k, : len(text)] = [int(c) for c in text]
    return x, y


def page_strings(
    digits: np.ndarray, labels: np.ndarray, pages: int, seed: int, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Strips as the pipeline cuts them, with their true digits: ``pages`` generated pages
    (:data:`PAGE_KINDS` in turn, written with ``digits``) read by :func:`read_page` with the
    bundled models; each strip the string model read whose box matches one true field
    (:data:`PAGE_MATCH`) is kept -- with the rule remnants, cut-off strokes and neighbours'
    ink the clean-up leaves in real fields. Returns uint8 ``(n, 32, 256)`` and ``(n, 10)``
    labels (-1 pads); page ``i`` depends only on ``(seed, i)``."""
    return _in_chunks(_page_chunk, digits, labels, pages, seed, _CHUNK // 10, workers)


def build_string_model():
    """CNN over the strip (height pooled away, 64 steps along it), dilated 1-D convs, softmax.

    Output ``(batch, 64, 11)``: per step the probability of each digit and of the CTC blank
    (index 10).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(STRIP_HEIGHT, STRIP_WIDTH, 1), name="strip")
    x = inputs
    for filters, pool in ((16, (2, 2)), (32, (2, 2)), (64, (2, 1)), (96, (2, 1))):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool)(x)
    # (2, 64, 96) -> 64 steps of 192 features.
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((STRIP_WIDTH // 4, (STRIP_HEIGHT // 16) * 96))(x)
    x = layers.Dense(128, activation="relu")(x)
    for dilation in (1, 2, 4):
        y = layers.Conv1D(128, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
        y = layers.BatchNormalization(momentum=0.9)(y)
        y = layers.ReLU()(y)
        x = layers.Add()([x, y])
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(BLANK + 1, activation="softmax", name="steps")(x)
    return keras.Model(inputs, outputs, name="formreader_strings")


def ctc_loss(y_true, y_pred):
    """CTC loss of padded labels (-1 after the last digit) against per-step probabilities."""
    import tensorflow as tf

    labels = tf.cast(y_true, tf.int32)
    label_length = tf.reduce_sum(tf.cast(labels >= 0, tf.int32), axis=1)
    steps = tf.fill([tf.shape(y_pred)[0]], tf.shape(y_pred)[1])
    return tf.nn.ctc_loss(
        tf.maximum(labels, 0),
        tf.math.log(y_pred + 1e-7),
        label_length,
        steps,
        logits_time_major=False,
        blank_index=BLANK,
    )


def exact_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of strings whose greedy CTC reading equals the label exactly."""
    right = 0
    for steps, label in zip(probabilities, labels, strict=True):
        text, _ = ctc_decode(steps)
        right += text == "".join(str(d) for d in label if d >= 0)
    return right / max(1, len(labels))


def train_strings(
    out_dir: str | os.PathLike,
    mnist: str | os.PathLike | None = None,
    *,
    epochs: int = 8,
    samples: int = STRING_SAMPLES,
    seed: int = 0,
    workers: int | None = None,
    start_from: str | os.PathLike | None = None,
    continental: bool = False,
    pages: int = 0,
    page_hands: str | os.PathLike | None = None,
    echo=log.info,
) -> TrainResult:
    """Train the string model on synthetic strings of MNIST training digits.

    Writes ``strings.keras``, ``strings.tflite``, ``strings_history.csv``,
    ``strings_curves.png`` and a ``strings`` section in the folder's model card. The generated
    strings are cached in ``synthetic_strings.npz`` in ``out_dir`` and reused by a run with the
    same ``samples``, ``seed`` and options (without ``page_hands``, string ``i`` depends only
    on ``(seed, i)``, so the first strings of a larger set are those of a smaller one). With
    ``start_from`` (a model folder) training continues from its string model, at the lower
    peak ``STRING_CONTINUE_RATE``.
    With ``continental`` a share of the training pool's 1s and 7s is written the
    continental-European way (:func:`formreader.train.continental_forms`); the test strings
    keep MNIST's own. With ``pages``, the strips the pipeline cuts from that many generated
    pages (:func:`page_strings`) are trained on too, a tenth of them validating; with
    ``page_hands`` (digit folders ``0`` ... ``9``, e.g. your own crops) half of those pages and
    :data:`HAND_STRING_SHARE` of the synthetic strings are written with these digits instead
    of MNIST's.
    """
    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist)
    meta = [str(v) for v in (samples, seed, continental, synth.GENERATOR_VERSION, pages)]
    meta.append(str(Path(page_hands).resolve()) if page_hands else "")
    cache = out_dir / "synthetic_strings.npz"
    n_val = min(STRING_VALIDATION, samples // 10)
    cached = None
    if cache.is_file():
        with np.load(cache) as data:
            if data["meta"].tolist() == meta:
                cached = [data[k] for k in ("x", "y", "x_test", "y_test", "x_pages", "y_pages")]
    if cached:
        x, y, x_test_s, y_test_s, x_pages, y_pages = cached
    else:
        started = time.perf_counter()
        workers = workers or os.cpu_count() or 1
        if continental:
            x_train = continental_forms(x_train, y_train, seed)
        hands = synth.DigitPool.from_folder(page_hands) if page_hands else None
        mine = round(samples * HAND_STRING_SHARE) if hands else 0
        x, y = synthetic_strings(x_train, y_train, samples - mine, seed, workers)
        x_test_s, y_test_s = synthetic_strings(x_test, y_test, n_val, seed + 1, workers)
        mine_pages = pages // 2 if hands else 0
        x_pages, y_pages = page_strings(x_train, y_train, pages - mine_pages, seed + 2, workers)
        if hands:  # mixed, so that the validating share has both
            x_mine, y_mine = synthetic_strings(hands.images, hands.labels, mine, seed + 4, workers)
            x, y = _shuffled_together((x, y), (x_mine, y_mine), seed)
            x_mine, y_mine = page_strings(hands.images, hands.labels, mine_pages, seed + 3, workers)
            x_pages, y_pages = _shuffled_together((x_pages, y_pages), (x_mine, y_mine), seed)
        np.savez(
            cache,
            x=x,
            y=y,
            x_test=x_test_s,
            y_test=y_test_s,
            x_pages=x_pages,
            y_pages=y_pages,
            meta=meta,
        )
        echo(
            f"made {samples + n_val} synthetic strings and {len(x_pages)} strips of {pages}"
            f" pages in {time.perf_counter() - started:.0f}s"
        )

    n_page_val = len(x_pages) // 10
    x_fit = np.concatenate([x[n_val:], x_pages[n_page_val:]])
    y_fit = np.concatenate([y[n_val:], y_pages[n_page_val:]])
    x_val = np.concatenate([x[:n_val], x_pages[:n_page_val]]).astype(np.float32)[..., None] / 255
    y_val = np.concatenate([y[:n_val], y_pages[:n_page_val]])
    x_seen = x_fit[:n_val].astype(np.float32)[..., None] / 255

    def scale(images, labels):
        return tf.cast(images, tf.float32)[..., None] / 255.0, labels

    data = (
        tf.data.Dataset.from_tensor_slices((x_fit, y_fit))
        .shuffle(len(x_fit), seed=seed)
        .batch(STRING_BATCH)
        .map(scale)
        .prefetch(2)
    )
    steps = math.ceil(len(x_fit) / STRING_BATCH)
    peak = STRING_LEARNING_RATE
    if start_from:
        source = Path(start_from) / STRING_KERAS_NAME
        try:
            model = keras.models.load_model(source, compile=False, safe_mode=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot continue from {source}: {exc}") from None
        peak = STRING_CONTINUE_RATE
    else:
        model = build_string_model()
    model.compile(optimizer=keras.optimizers.Adam(_schedule(epochs, steps, peak)), loss=ctc_loss)
    keras_path = out_dir / STRING_KERAS_NAME
    history: list[dict] = []
    best, stale = -1.0, 0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        logs = model.fit(data, epochs=1, verbose=0).history
        val_prob = model.predict(x_val, batch_size=256, verbose=0)
        val_loss = float(np.mean(ctc_loss(y_val, val_prob)))
        val_accuracy = exact_accuracy(val_prob, y_val)
        seen = model.predict(x_seen, batch_size=256, verbose=0)
        row = {
            "epoch": epoch,
            "loss": float(logs["loss"][-1]),
            "val_loss": val_loss,
            "accuracy": exact_accuracy(seen, y_fit[:n_val]),
            "val_accuracy": val_accuracy,
            "seconds": round(time.perf_counter() - started, 1),
        }
        history.append(row)
        echo(
            f"epoch {epoch}/{epochs}  loss={row['loss']:.4f} exact={row['accuracy']:.4f}"
            f"  val_loss={val_loss:.4f} val_exact={val_accuracy:.4f}  {row['seconds']:.0f}s"
        )
        if val_accuracy > best:
            best, stale = val_accuracy, 0
            model.save(keras_path)
        else:
            stale += 1
            if stale >= STRING_PATIENCE:
                break
    model = keras.models.load_model(keras_path, compile=False, safe_mode=True)
    export_tflite(model, out_dir / STRING_TFLITE_NAME)
    _write_history(history, out_dir, prefix="strings_")
    test_accuracy = exact_accuracy(
        model.predict(x_test_s.astype(np.float32)[..., None] / 255, batch_size=256, verbose=0),
        y_test_s,
    )
    params = int(model.count_params())
    seconds_per_epoch = (time.perf_counter() - started) / len(history)
    _update_card(
        out_dir,
        {
            "strings": {
                "task": "whole digit strings (1-10 digits), CTC greedy decoding",
                "parameters": params,
                "input": [STRIP_HEIGHT, STRIP_WIDTH],
                "data": {
                    "source": mnist_path(mnist) or "keras.datasets.mnist",
                    "train_strings": int(len(x_fit)),
                    "validation_strings": int(len(x_val)),
                    "generator": "formreader.synth.make_string on MNIST training digits",
                    "continental_share": synth.CONTINENTAL_SHARE if continental else 0.0,
                    "pages": pages,
                    "page_strips": int(len(x_pages) - n_page_val),
                    "page_kinds": list(PAGE_KINDS) if pages else [],
                    "page_hands": str(page_hands) if page_hands else None,
                    "hand_string_share": HAND_STRING_SHARE if page_hands else 0.0,
                },
                "epochs_run": len(history),
                "continued_from": str(start_from) if start_from else None,
                "peak_learning_rate": peak,
                "seconds_per_epoch": round(seconds_per_epoch, 1),
                "validation_exact": round(best, 5),
                "test_exact_on_mnist_test_digits": round(test_accuracy, 5),
                "normalization_version": NORMALIZATION_VERSION,
                "file": STRING_TFLITE_NAME,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        },
    )
    log.info("wrote %s", out_dir)
    return TrainResult(out_dir, best, test_accuracy, params, seconds_per_epoch)
