"""Classify normalised digits and read normalised strings with the exported models.

Both run by LiteRT (no TensorFlow): the digit CNN with its reject check (gate) on 28x28 crops,
and the string model (CTC) on whole fields normalised to 32x256.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from formreader.exceptions import ModelError
from formreader.normalize import CANVAS, NORMALIZATION_VERSION, STRIP_HEIGHT, STRIP_WIDTH

log = logging.getLogger(__name__)

TFLITE_NAME = "digits.tflite"
CARD_NAME = "model_card.json"
GATE_NAME = "gate.tflite"
STRINGS_NAME = "strings.tflite"
#: Longest string the string model is trained for, and the index of the CTC blank.
MAX_DIGITS = 10
BLANK = 10
#: Most crops per model call. A call is padded to a power of two up to this, and the tensors
#: only ever grow: reading one image allocates for a few crops, a scan soon for 16. LiteRT's
#: arena grows with the batch: at 64, 650 strip views took a process 103 MiB above its start,
#: at 16 60 MiB (the digit CNN and gate 40 -> 28 MiB), and were read no slower (0.9-1.1 s ->
#: 0.8-0.9 s); bench/speed.py's 1,000-page scan peaked at 657 MiB with 64 (README).
CHUNK = 16
#: The string model reads each strip in several views -- moved 0-3 px along it, and shrunk to
#: SHRINK of its size -- and the text most views read stands: one reading hangs on where the
#: strip's pixels fall on the model's 4 px steps (bench/string_model.py: 0.842 -> 0.870).
SHIFTS = (0, 1, 2, 3)
SHRINK = 0.9


def bundled_model_dir() -> Path:
    """The folder of the model shipped inside the installed package."""
    return Path(str(resources.files("formreader") / "models"))


@contextlib.contextmanager
def _quiet_stderr_fd():
    """Silence C-level stderr (LiteRT prints an XNNPACK INFO line when allocating)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LiteModel:
    """One exported ``.tflite`` model with a dynamic batch dimension, run by LiteRT."""

    def __init__(self, path: Path, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        if not path.is_file():
            raise ModelError(f"no model file {path}")
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load {path}: {exc}") from exc
        details = self._interpreter.get_input_details()[0]
        self._input = details["index"]
        self.image_shape = tuple(int(v) for v in details["shape"][1:3])
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Model output for a float32 batch ``(n, height, width)``.

        Runs in chunks of a fixed size (see :data:`CHUNK`), grown to the next power of two
        when a larger batch comes: allocating tensors costs more than classifying a chunk.
        """
        if batch.shape[1:] != self.image_shape:
            raise ValueError(f"expected images of shape {self.image_shape}, got {batch.shape}")
        wanted = min(CHUNK, 1 << max(0, len(batch) - 1).bit_length())
        if wanted > self._batch:
            self._interpreter.resize_tensor_input(self._input, [wanted, *self.image_shape, 1])
            with _quiet_stderr_fd():
                self._interpreter.allocate_tensors()
            self._batch = wanted
        outputs = []
        for start in range(0, len(batch), self._batch):
            chunk = batch[start : start + self._batch]
            padded = np.zeros((self._batch, *self.image_shape, 1), np.float32)
            padded[: len(chunk), :, :, 0] = chunk
            self._interpreter.set_tensor(self._input, padded)
            self._interpreter.invoke()
            outputs.append(self._interpreter.get_tensor(self._output)[: len(chunk)].copy())
        return np.concatenate(outputs)


class DigitClassifier:
    """The digit model and the reject check (gate) for normalised 28x28 crops.

    Parameters
    ----------
    model_dir : path-like or None
        A folder written by ``formreader train`` (holding ``digits.tflite``); ``None`` for the
        bundled model. A folder without its own ``gate.tflite`` uses the bundled gate.
    threads : int
        LiteRT threads per call.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, threads: int = 1):
        self.model_dir = Path(model_dir) if model_dir else bundled_model_dir()
        card_path = self.model_dir / CARD_NAME
        self.card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        version = self.card.get("normalization_version", NORMALIZATION_VERSION)
        if version != NORMALIZATION_VERSION:
            log.warning(
                "model %s was trained with normalisation v%s, this formreader uses v%s",
                self.model_dir,
                version,
                NORMALIZATION_VERSION,
            )
        self._digits = LiteModel(self.model_dir / TFLITE_NAME, threads)
        gate = self.model_dir / GATE_NAME
        if not gate.is_file():
            gate = bundled_model_dir() / GATE_NAME
        self._gate = LiteModel(gate, threads) if gate.is_file() else None

    @staticmethod
    def _check(digits: np.ndarray) -> np.ndarray:
        digits = np.asarray(digits, dtype=np.float32)
        if digits.ndim != 3 or digits.shape[1:] != (CANVAS, CANVAS):
            raise ValueError(f"expected digits of shape (n, 28, 28), got {digits.shape}")
        return digits

    def predict(self, digits: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of normalised digits, shape ``(n, 10)``."""
        digits = self._check(digits)
        if len(digits) == 0:
            return np.zeros((0, 10), dtype=np.float32)
        return self._digits(digits)

    def digit_likelihood(self, crops: np.ndarray) -> np.ndarray:
        """Probability that each normalised crop is one handwritten digit, shape ``(n,)``.

        All ones when no gate model is installed.
        """
        crops = self._check(crops)
        if self._gate is None or len(crops) == 0:
            return np.ones(len(crops), dtype=np.float32)
        return self._gate(crops)[:, 1]


def ctc_decode(steps: np.ndarray) -> tuple[str, np.ndarray]:
    """Greedy CTC decoding of one string's per-step probabilities ``(steps, 11)``.

    Returns the digits and, per digit, the ten digit classes' probabilities at the step most
    sure of it, ``(digits, 10)``: its confidence and what else it might be.
    """
    best = steps.argmax(axis=1)
    text, surest = [], []
    previous = BLANK
    for step, label in enumerate(best):
        if label != BLANK:
            if label != previous:
                text.append(str(label))
                surest.append(step)
            elif steps[step, label] > steps[surest[-1], label]:
                surest[-1] = step
        previous = label
    return "".join(text), steps[surest, :BLANK].astype(np.float32).reshape(-1, BLANK)


def log_likelihood(steps: np.ndarray, text: str) -> float:
    """Log probability of ``text`` given per-step probabilities ``(views, steps, 11)``,
    summed over all CTC alignments (the forward algorithm), the mean over the views.

    Greedy decoding reads the likeliest step by step, which is not always the likeliest
    text: a digit whose probability is split over two steps with a blank between them.
    """
    steps = np.asarray(steps, np.float64)
    labels = np.full(2 * len(text) + 1, BLANK)
    labels[1::2] = [int(d) for d in text]
    # A digit's state may be reached from two states back unless that is the same digit.
    skip = np.zeros(len(labels), bool)
    skip[2:] = (labels[2:] != BLANK) & (labels[2:] != labels[:-2])
    probabilities = np.maximum(steps[:, :, labels], 1e-12)  # (views, steps, states)
    alpha = np.zeros((len(steps), len(labels)))
    alpha[:, :2] = probabilities[:, 0, :2]
    total = np.zeros(len(steps))
    for t in range(1, steps.shape[1]):
        previous = alpha
        alpha = previous.copy()
        alpha[:, 1:] += previous[:, :-1]
        alpha[:, 2:] += np.where(skip[2:], previous[:, :-2], 0.0)
        alpha *= probabilities[:, t]
        scale = alpha.sum(axis=1, keepdims=True)  # rescaled each step: no underflow
        alpha /= scale
        total += np.log(scale[:, 0])
    end = alpha[:, -2:].sum(axis=1) if text else alpha[:, -1]
    return float(np.mean(total + np.log(end)))


def confidences(text: str, probabilities: np.ndarray) -> list[float]:
    """Each digit's probability of being the digit read (rows of :func:`ctc_decode`)."""
    return [float(row[int(digit)]) for digit, row in zip(text, probabilities, strict=True)]


class StringReading(NamedTuple):
    """One strip as the string model read it: the digits, each digit's ten class
    probabilities (:func:`ctc_decode`) and the per-step probabilities of every view it was
    read in, ``(views, steps, 11)`` (:func:`log_likelihood` weighs other readings by them;
    ``None``: not known)."""

    text: str
    probabilities: np.ndarray
    steps: np.ndarray | None = None


class StringReader:
    """The string model: reads whole normalised fields ``(n, 32, 256)`` without cutting them.

    Parameters
    ----------
    model_dir : path-like or None
        A folder holding ``strings.tflite``; ``None`` or a folder without one uses the bundled
        string model.
    threads : int
        LiteRT threads per call.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, threads: int = 1):
        path = Path(model_dir or bundled_model_dir()) / STRINGS_NAME
        if not path.is_file():
            path = bundled_model_dir() / STRINGS_NAME
        self._model = LiteModel(path, threads)
        if self._model.image_shape != (STRIP_HEIGHT, STRIP_WIDTH):
            raise ModelError(f"{path} does not take {STRIP_HEIGHT}x{STRIP_WIDTH} strips")

    def read(self, strips: np.ndarray, vote: bool = True) -> list[StringReading]:
        """Each normalised strip's :class:`StringReading`: the text most of its :func:`views`
        read (``vote``), or its one reading."""
        strips = np.asarray(strips, dtype=np.float32)
        if strips.ndim != 3 or strips.shape[1:] != (STRIP_HEIGHT, STRIP_WIDTH):
            raise ValueError(f"expected strips of shape (n, 32, 256), got {strips.shape}")
        if len(strips) == 0:
            return []
        if not vote:
            return [StringReading(*ctc_decode(steps), steps[None]) for steps in self._model(strips)]
        count = len(SHIFTS) + 1
        steps = self._model(views(strips)).reshape(len(strips), count, -1, BLANK + 1)
        return [
            StringReading(*_vote([ctc_decode(view) for view in viewed]), viewed) for viewed in steps
        ]


def views(strips: np.ndarray) -> np.ndarray:
    """Each strip moved by each of :data:`SHIFTS` px along it (squeezed to fit when its ink
    would run off the end), then shrunk to :data:`SHRINK` (centred vertically, left-aligned):
    ``(n * (len(SHIFTS) + 1), 32, 256)``."""
    out = np.zeros((len(strips), len(SHIFTS) + 1, STRIP_HEIGHT, STRIP_WIDTH), np.float32)
    for i, strip in enumerate(strips):
        width = int(np.flatnonzero(strip.max(axis=0) > 0).max(initial=0)) + 1
        for j, shift in enumerate(SHIFTS):
            ink = strip[:, :width]
            if width + shift > STRIP_WIDTH:
                ink = cv2.resize(
                    ink, (STRIP_WIDTH - shift, STRIP_HEIGHT), interpolation=cv2.INTER_AREA
                )
            out[i, j, :, shift : shift + ink.shape[1]] = ink
        size = (max(1, round(width * SHRINK)), round(STRIP_HEIGHT * SHRINK))
        small = cv2.resize(strip[:, :width], size, interpolation=cv2.INTER_AREA)
        top = (STRIP_HEIGHT - size[1]) // 2
        out[i, -1, top : top + size[1], : size[0]] = small
    return out.reshape(-1, STRIP_HEIGHT, STRIP_WIDTH)


def _vote(readings: list[tuple[str, np.ndarray]]) -> tuple[str, np.ndarray]:
    """The text most readings agree on (a tie: the one whose readings are surer), each digit's
    class probabilities the mean over the readings of that text."""

    def support(text: str) -> tuple[int, float]:
        agree = [min(confidences(t, rows), default=0.0) for t, rows in readings if t == text]
        return len(agree), float(np.mean(agree))

    best = max(dict.fromkeys(text for text, _ in readings), key=support)
    agree = [rows for text, rows in readings if text == best]
    return best, np.mean(agree, axis=0, dtype=np.float64)
