"""The page pipeline: clean, segment, normalise, classify in one batch, choose the best cuts."""

from __future__ import annotations

import collections
import functools
import itertools
import logging
import math
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from formreader import classify, preprocess, segment
from formreader.exceptions import BlankImageError, FormreaderError
from formreader.io import iter_pages
from formreader.normalize import normalize_digit, normalize_strip
from formreader.overlay import save_overlay
from formreader.template import TemplateField, read_form

log = logging.getLogger(__name__)

#: Fields whose lowest digit probability is below this are flagged ``review``.
REVIEW_BELOW = 0.8
#: Score of a segment narrower/wider than a digit or much shorter than the field (log units).
FRAGMENT_PENALTY = 4.0
WIDE_PENALTY = 6.0
#: Segments wider than this many field heights pay the wide penalty (wide 0s, 2s and 5s don't).
WIDE_FROM = 1.1
#: Crops the gate finds less digit-like than this are not candidates (and not classified).
MIN_DIGITNESS = 0.02
#: A wide component read whole with this gate and class probability is one digit, not cut.
WHOLE_DIGITNESS, WHOLE_PROBABILITY = 0.9, 0.95
#: Fields of this many digits or more are judged without their least digit-like one.
TRIM_FROM = 3
#: Fields whose digits the gate finds, on average, less digit-like than this are dropped ...
MIN_FIELD_DIGITNESS = 0.8
#: ... unless they are this digit-like and this share as tall as the page's handwriting.
BORDERLINE_DIGITNESS, BORDERLINE_HEIGHT = 0.7, 0.8
#: A field of at most this many digits stands from this digitness when it is as tall as the
#: handwriting: the gate doubts round 0s, open 8s and digits touching a cell wall, and print
#: that short is not as tall as the writing.
SHORT_DIGITS, SHORT_DIGITNESS = 2, 0.25
#: ... and no taller than this share of the page's typical field height.
SHORT_MAX_HEIGHT = 1.5
#: Fields less tall than this share of the page's typical field height are print or noise.
MIN_RELATIVE_FIELD_HEIGHT = 0.6
#: ... or this share when the gate finds at least this many digits this digit-like (and they
#: are not mostly 1s).
SURE_RELATIVE_HEIGHT, SURE_DIGITS, SURE_DIGITNESS = 0.45, 3, 0.95
#: Digits are print when at least this many times as many of their field's other atoms,
#: and this many, stand this share as tall as them, each this share of that as wide, in a
#: line that follows on from them with gaps under this share of their height
#: (:func:`in_print_line`).
PRINT_LINE_ATOMS, PRINT_LINE_MIN, PRINT_LINE_TALL, PRINT_LINE_WIDTH = 2, 2, 0.8, 0.2
PRINT_LINE_GAP = 1.0
#: A pen is coloured when its ink's channels let through shares of the light this far apart;
#: a field in the sure fields' coloured pen (each channel within PEN_DISTANCE) stands from
#: PEN_MIN_HEIGHT of the page's typical field height, whatever the gate's doubts.
PEN_CHROMA, PEN_DISTANCE, PEN_MIN_HEIGHT = 0.15, 0.15, 0.35
#: A field of mostly 1s this share of the image's shorter side from its edge is not read.
BORDER = 0.01
#: A field whose box lies by this share of its area inside a larger field's box is dropped.
NESTED = 0.8
#: Cost of every digit read: cutting one digit in two must buy more than this in likelihood.
DIGIT_COST = 1.0
#: An atom this tall (share of the field's height) that the digit CNN reads surely costs as
#: much to leave unread as a digit the gate accepts: the gate doubts thin, plain digits.
FULL_HEIGHT = 0.8
#: Cost of leaving a piece of ink unread, per digit-sized amount of ink.
SKIP_COST = 6.0
#: Ink outside the digits the digit path chose joins the string model's crop above this gate
#: probability.
STRING_EXTRA_DIGITNESS = 0.5
#: ... and so does ink this close to them (field heights) and this tall, whatever the gate
#: says: a first or last digit the gate doubted is then not lost by both readers alike.
STRING_BESIDE_GAP, STRING_BESIDE_HEIGHT = 0.6, 0.7
#: A field where the digit path skips more than this share of the ink between its first and
#: last digit is print (digit-like letters picked out of words), not handwriting.
MAX_SKIPPED_INK = 0.2
#: ... a run of digits that ends at a gap this many field heights wide.
RUN_BREAK = 0.8
#: A field the digit path rejects is still reported when the string model reads it this surely.
STRING_ONLY_CONFIDENCE = 0.9
#: ... and, beside fields the digit path read, when it holds at least this many digits.
UNCUT_DIGITS = 3
#: ... or this surely when that field is the only one on the page, or when the gate found
#: the digits the digit path could not cut this digit-like.
SOLE_FIELD_CONFIDENCE = 0.5
UNCUT_DIGITNESS = 0.85
#: When the readers find different numbers of digits, a string reading this sure wins (0.5
#: let a disconnected stroke of a sure single 5 be read 45 at 0.51; 0.6 reads the scan bench
#: as well, within 0.01 over 10 runs).
RECOUNT_CONFIDENCE = 0.6
#: ... but this sure when it finds this many digits more: a string model reading rules and
#: stroke ends as extra 1s, not cuts that missed two digits.
RECOUNT_MANY, RECOUNT_MANY_CONFIDENCE = 2, 0.95
#: A digit the readers read differently is the string model's unless the digit path is this
#: much surer of it, when their class probabilities are not known (on the scan bench the
#: string model is right more often).
STRING_EDGE = 0.1
#: Weight of the digit path's log odds against the string model's when the two read a digit
#: differently (0.5: on 439 fields read differently, 11 more right than STRING_EDGE's rule).
DIGIT_PATH_WEIGHT = 0.5
#: The string model reads a field with this much of the page around it (share of its height).
STRING_MARGIN = 0.5
#: Ink next to the chosen digits (at most this many field heights away) that the digit
#: classifier reads this surely and that is this tall (share of the field's height) may be a
#: digit left out: the field is flagged.
BESIDE_GAP, BESIDE_PROBABILITY, BESIDE_HEIGHT = 0.5, 0.9, 0.6
#: A digit read from several pieces, two of which read this surely and are this digit-like
#: alone, full height, is flagged when the gate doubts the whole below this: a 1 standing
#: against its neighbour read together with it as one digit (1228 read 228).
SWALLOWED_PROBABILITY, SWALLOWED_DIGITNESS, SWALLOWING_DIGITNESS = 0.95, 0.9, 0.6
#: Digits of one field further apart than this many field heights are flagged: maybe two
#: numbers grouped as one.
WIDE_GAP = 1.2
#: Fields closer than this many heights side by side are flagged: maybe one number in parts.
SPLIT_GAP = 1.0
#: ... and so are fields beside one that was dropped although its digits were this digit-like.
DROPPED_DIGITNESS = 0.8
SPLIT_DOUBT = "a field right beside it may be part of the same number"
JOINED_DOUBT = "joined from two fields side by side: check it is one number"
NESTED_DOUBT = "another field was found inside it: check it is one number"
#: The only field of an image that spans this share of its width and height is the image.
WHOLE_IMAGE_FIELD = 0.5
#: An image at most this many pixels tall and this many times as wide is one strip of digits:
#: the string model reads it whole.
STRIP_MAX_HEIGHT, STRIP_MIN_ASPECT = 400, 1.5
#: Share of the ink pixels left out at each side when judging where the writing is.
INK_OUTLIERS = 0.02
#: Which readers read each field: the segmenting digit path, the string model, or both.
READERS = ("digits", "string", "both")


@dataclass
class DigitPiece:
    """One digit as the digit path read it: box in the input image's pixels, label,
    probability and the normalised 28x28 crop the classifier saw."""

    box: tuple[int, int, int, int]
    label: int
    confidence: float
    image: np.ndarray


@dataclass
class FieldReading:
    """One field read off a page; ``box`` is ``(x, y, w, h)`` in the input image's pixels."""

    text: str
    digit_confidences: list[float]
    box: tuple[int, int, int, int]
    #: Why the field needs a human look although its confidence is high (readers disagree).
    doubt: str = ""
    #: What the digit path read, one piece per digit (kept whichever reading is reported).
    pieces: list[DigitPiece] = field(default_factory=list, repr=False)
    #: The other reader's reading when the two disagree.
    other: FieldReading | None = field(default=None, repr=False)
    #: The normalised strip the string model read (``None``: it did not read this field).
    strip: np.ndarray | None = field(default=None, repr=False)
    #: Each digit's ten class probabilities, ``(digits, 10)``, as its reader gave them
    #: (``None``: not known): they weigh a digit the two readers read differently.
    probabilities: np.ndarray | None = field(default=None, repr=False)
    #: The string model's per-step probabilities in each view, ``(views, steps, 11)``
    #: (``None``: it did not read this field): how likely it finds another reading.
    steps: np.ndarray | None = field(default=None, repr=False)

    @property
    def confidence(self) -> float:
        return min(self.digit_confidences) if self.digit_confidences else 0.0


@dataclass
class Readers:
    """The models that read a page, and whose reading counts (one of :data:`READERS`).

    ``strings`` (the string model) is needed unless ``reader`` is ``"digits"``; the digit
    classifier always finds the fields.
    """

    classifier: object
    strings: object = None
    reader: str = "both"

    def __post_init__(self):
        if self.reader not in READERS:
            raise ValueError(f"reader must be one of {READERS}, got {self.reader!r}")
        if self.reader != "digits" and self.strings is None:
            raise ValueError(f"reader {self.reader!r} needs the string model")

    @classmethod
    def load(cls, model_dir=None, reader: str = "both") -> Readers:
        """The models of ``model_dir`` (``None``: the bundled ones) for ``reader``."""
        strings = classify.StringReader(model_dir) if reader != "digits" else None
        return cls(classify.DigitClassifier(model_dir), strings, reader)


@dataclass
class Record:
    """One output row."""

    file: str
    page: int
    #: Field number on the page (0: a page-level record), or its name with a template.
    field: int | str
    text: str = ""
    confidence: float | None = None
    digit_confidences: list[float] = field(default_factory=list)
    box: tuple[int, int, int, int] | None = None
    status: str = "ok"
    message: str = ""
    #: Digit crops written by ``--export-crops``: ``(index, predicted, confidence, path)``.
    crops: list[tuple[int, str, float, str]] = field(default_factory=list)


def _segment_score(
    fld: segment.Field, start: int, end: int, probability: float, digitness: float
) -> float:
    """Log-score of reading atoms ``start:end`` as one digit."""
    atoms = fld.atoms[start:end]
    width = max(a.x1 for a in atoms) - min(a.x0 for a in atoms)
    height = _ink_height(atoms)
    score = math.log(max(probability, 1e-6)) + math.log(max(digitness, 1e-6)) - DIGIT_COST
    if height < 0.5 * fld.height:
        score -= FRAGMENT_PENALTY
    if width > WIDE_FROM * fld.height:
        score -= WIDE_PENALTY * (width / fld.height - WIDE_FROM) / 0.25
    return score


def best_reading(fld: segment.Field, probs: dict[tuple[int, int], tuple[np.ndarray, float]]):
    """Dynamic programme over the field's atoms: which runs are digits, which ink is noise.

    ``probs`` maps a segment ``(start, end)`` to its class probabilities and the gate's
    probability that it is one handwritten digit (and its crop). Returns the chosen segments
    in order.
    """
    n = len(fld.atoms)
    digit_area = 0.12 * fld.height**2
    best = [-math.inf] * (n + 1)
    back: list[tuple[int, bool]] = [(0, False)] * (n + 1)
    best[0] = 0.0
    for end in range(1, n + 1):
        atom = fld.atoms[end - 1]
        # Leaving ink unread costs in proportion to how much ink it is and how digit-like the
        # gate finds it alone: print and specks are dropped cheaply, a whole digit is not.
        alone = probs.get((end - 1, end))
        digit_like = alone[1] if alone else 0.0
        if alone and atom.y1 - atom.y0 >= FULL_HEIGHT * fld.height:
            digit_like = max(digit_like, float(alone[0].max()))
        skip = best[end - 1] - SKIP_COST * atom.area / digit_area * max(digit_like, 0.05)
        best[end], back[end] = skip, (end - 1, False)
        for start in range(end):
            scored = probs.get((start, end))
            if scored is None or best[start] == -math.inf:
                continue
            p, digitness = scored[:2]
            score = best[start] + _segment_score(fld, start, end, float(p.max()), digitness)
            if score > best[end]:
                best[end], back[end] = score, (start, True)
    chosen = []
    end = n
    while end > 0:
        start, is_digit = back[end]
        if is_digit:
            chosen.append((start, end))
        end = start
    return chosen[::-1]


def _ink_height(atoms) -> int:
    """Height (px) of the ink of ``atoms``, top of the highest to bottom of the lowest."""
    return max(a.y1 for a in atoms) - min(a.y0 for a in atoms)


def _span(box) -> tuple[int, int, int, int, int]:
    """``(x0, x1, y0, y1, area)`` of a component's box row."""
    x, y, w, h, area = (int(v) for v in box)
    return x, x + w, y, y + h, area


def _score(classifier, ink: np.ndarray, labels_img: np.ndarray, runs: list[list]) -> list:
    """Class probabilities, gate probability and normalised crop of each run of atoms, in one
    batch per model.

    ``None`` for runs that cannot be digits (blank, or the cheap gate rules them out first;
    the digit model only sees the rest).
    """
    crops, index = [], []
    for i, atoms in enumerate(runs):
        crop, _ = segment.segment_crop(ink, labels_img, atoms)
        try:
            crops.append(normalize_digit(crop, ink_is_dark=False))
        except BlankImageError:
            continue
        index.append(i)
    results: list = [None] * len(runs)
    if not crops:
        return results
    batch = np.stack(crops)
    digitness = classifier.digit_likelihood(batch)
    plausible = np.flatnonzero(digitness >= MIN_DIGITNESS)
    for k, p in zip(plausible, classifier.predict(batch[plausible]), strict=True):
        results[index[k]] = (p, float(digitness[k]), batch[k])
    return results


def _to_original(box, matrix: np.ndarray, shape) -> tuple[int, int, int, int]:
    x, y, w, h = box
    corners = np.array([[[x, y]], [[x + w, y]], [[x, y + h]], [[x + w, y + h]]], np.float64)
    mapped = cv2.perspectiveTransform(corners, matrix).reshape(-1, 2)
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int)
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(shape[1], x1), min(shape[0], y1)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def _field_box(atoms, fld: segment.Field, page, shape) -> tuple[int, int, int, int]:
    box = segment.Field(atoms=atoms, height=fld.height).box
    return _to_original(box, page.to_original, shape)


def _align(a: str, b: str) -> list[tuple[int | None, int | None]]:
    """The pairs of positions of ``a`` and ``b`` (``None``: a digit the other lacks) that line
    the two up with the fewest changes (Levenshtein), in order."""
    cost = np.zeros((len(a) + 1, len(b) + 1), int)
    cost[:, 0], cost[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
    for i, j in np.ndindex(len(a), len(b)):
        cost[i + 1, j + 1] = min(
            cost[i, j] + (a[i] != b[j]), cost[i, j + 1] + 1, cost[i + 1, j] + 1
        )
    pairs, i, j = [], len(a), len(b)
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            i, j = i - 1, j - 1
            pairs.append((i, j))
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
            pairs.append((i, None))
        else:
            j -= 1
            pairs.append((None, j))
    return pairs[::-1]


def _recounted(string: FieldReading, digits: FieldReading) -> FieldReading:
    """The string reading, of its own number of digits, with the digit path's help where the
    two line up (:func:`_align`): a digit read differently between two read alike is the digit
    path's unless :func:`_string_wins`; when the string model found more digits, a digit both
    read alike takes the higher confidence (the digit path vouches for it)."""
    text, confidences = list(string.text), list(string.digit_confidences)
    pairs = _align(string.text, digits.text)

    def alike(k: int) -> bool:
        if not 0 <= k < len(pairs):
            return True
        i, j = pairs[k]
        return i is not None and j is not None and string.text[i] == digits.text[j]

    vouch = len(string.text) > len(digits.text)
    for k, (i, j) in enumerate(pairs):
        if i is None or j is None:
            continue
        digit, p = digits.text[j], digits.digit_confidences[j]
        if digit == text[i]:
            if vouch:
                confidences[i] = max(confidences[i], p)
        elif not _string_wins(digits, string, j, i) and alike(k - 1) and alike(k + 1):
            text[i], confidences[i] = digit, p
    return replace(string, text="".join(text), digit_confidences=confidences)


def _string_wins(digits: FieldReading, string: FieldReading, j: int, i: int) -> bool:
    """Whether a digit the two readers read differently (the digit path's ``j``-th, the string
    model's ``i``-th) is the string model's.

    The digit path's 1 never overrules: it is what a digit's remnant reads as (a 7 whose bar
    lay on a rule the line removal took, a stroke a cut parted from its digit). Else, with
    both readers' class probabilities, the digit both find likelier, the digit path's odds
    counting :data:`DIGIT_PATH_WEIGHT` (it is sure of its cuts' wrong digits more often);
    without them the string model's unless the digit path is :data:`STRING_EDGE` surer.
    """
    a, b = int(digits.text[j]), int(string.text[i])
    if a == 1:
        return True
    if digits.probabilities is None or string.probabilities is None:
        return string.digit_confidences[i] > digits.digit_confidences[j] - STRING_EDGE
    odds = np.log(np.maximum([digits.probabilities[j], string.probabilities[i]], 1e-6))
    return DIGIT_PATH_WEIGHT * (odds[0, b] - odds[0, a]) + odds[1, b] - odds[1, a] >= 0


def _likelier_to_string_model(
    digits: FieldReading, chosen: FieldReading, string: FieldReading
) -> bool:
    """Whether the string model itself finds the digit path's reading more likely than the
    ``chosen`` one, over all the ways its steps could spell each
    (:func:`formreader.classify.log_likelihood`): its greedy reading lost a digit whose
    probability was split between two steps ('4376999340' read '376999340'). 60 pages each
    of forms and photos of three seeds: 5 of 325 fields the readers read differently gained,
    none lost; 260 more pages of other seeds and other hands: none either way."""
    if string.steps is None or not digits.text:
        return False
    return classify.log_likelihood(string.steps, digits.text) > classify.log_likelihood(
        string.steps, chosen.text
    )


def _join(digits: FieldReading, string: FieldReading) -> FieldReading:
    """One field read by both readers: agreement stands, disagreement goes to review.

    When the readings agree each digit gets the higher of its two confidences. When they
    found as many digits, each digit where they differ is the one both find likelier
    (:func:`_string_wins`). When they found different
    numbers, the string reading helped by the digit path's (:func:`_recounted`) wins if it is
    fairly sure (very sure when it adds :data:`RECOUNT_MANY` digits or more among sure ones)
    or surer than the digit path's lowest digit. Last, the digit path's reading stands when
    the string model itself finds it likelier (:func:`_likelier_to_string_model`). ``doubt``
    names both readings.
    """
    if digits.text == string.text:
        confidences = [
            max(a, b)
            for a, b in zip(digits.digit_confidences, string.digit_confidences, strict=True)
        ]
        return FieldReading(
            digits.text, confidences, digits.box, digits.doubt, digits.pieces, strip=string.strip
        )
    recounted = string
    if len(string.text) == len(digits.text):
        # As many digits: each digit where they differ is the one both find likelier.
        picks = [
            (b, q) if b != a and _string_wins(digits, string, k, k) else (a, p)
            for k, (a, b, p, q) in enumerate(
                zip(
                    digits.text,
                    string.text,
                    digits.digit_confidences,
                    string.digit_confidences,
                    strict=True,
                )
            )
        ]
        text = "".join(digit for digit, _ in picks)
        winner = string if text == string.text else digits
        if text != winner.text:
            winner = replace(digits, text=text, digit_confidences=[p for _, p in picks])
    else:
        # Digits found in different numbers mean the cuts failed, which the digit path's own
        # confidences do not show: then a fairly sure string reading wins.
        many = (
            len(string.text) - len(digits.text) >= RECOUNT_MANY
            and digits.text not in string.text
            and digits.confidence >= RECOUNT_MANY_CONFIDENCE
        )
        recounted = _recounted(string, digits)
        sure = recounted.confidence
        recount = sure >= (RECOUNT_MANY_CONFIDENCE if many else RECOUNT_CONFIDENCE)
        winner = recounted if recount or sure > digits.confidence else digits
    if winner.text != digits.text and _likelier_to_string_model(digits, winner, string):
        winner = digits
    doubt = (
        f"readers disagree: digits {digits.text or '-'} ({digits.confidence:.2f}),"
        f" string {string.text or '-'} ({string.confidence:.2f})"
    )
    other = digits if winner is recounted or winner.text == string.text else string
    return FieldReading(
        winner.text,
        winner.digit_confidences,
        winner.box,
        doubt,
        digits.pieces,
        other,
        string.strip,
    )


def read_page(image: np.ndarray, readers: Readers) -> list[FieldReading]:
    """Read every handwritten field of one page, in reading order.

    Parameters
    ----------
    image : ndarray
        uint8 gray or BGR page.
    readers : Readers
        The digit classifier finds the fields and reads their digits; it is called twice,
        each time with one batch: wide components read whole, then every candidate segment of
        every field. The string model (unless ``readers.reader`` is ``"digits"``) reads each
        field whole, in one batch; with ``"both"`` a field the two read differently carries
        a ``doubt``.
    """
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 gray or BGR image, got {image.dtype} {image.shape}")
    classifier = readers.classifier
    whole_strip = is_strip(image.shape)
    if whole_strip:
        image = preprocess.join_dots(image)
    page = preprocess.clean_page(image)
    labels_img, boxes = segment.find_components(page.strokes)
    members = segment.candidate_components(labels_img, boxes)
    if not whole_strip and members and image.shape[0] <= STRIP_MAX_HEIGHT:
        # A strip cut with wide margins (a short number written large) is one by its ink
        # (but its dots, if written in dots, were not joined: that needs the shape alone).
        # Not measured on a page: no page is a strip.
        whole_strip = is_strip(image.shape, ink_extent(page.strokes))
    groups = [
        part
        for group in segment.group_fields(boxes, members, page.lines)
        for part in segment.split_off_print(boxes, group)
    ]
    heights = [segment.field_height(boxes, group) for group in groups]
    # First pass: wide components read whole; those read confidently as one digit stay whole.
    wide = [
        (label, height)
        for group, height in zip(groups, heights, strict=True)
        for label in group
        if segment.is_wide(boxes[label], height)
    ]
    whole = [[segment.Atom(label, *_span(boxes[label]))] for label, _ in wide]
    scored = _score(classifier, page.ink, labels_img, whole)
    keep_whole = frozenset(
        label
        for (label, height), result in zip(wide, scored, strict=True)
        if result is not None
        and result[1] >= WHOLE_DIGITNESS
        and float(result[0].max()) >= WHOLE_PROBABILITY
        and boxes[label][2] <= segment.MAX_SEGMENT_WIDTH * height
    )
    fields = [
        segment.field_atoms(labels_img, boxes, group, height, keep_whole)
        for group, height in zip(groups, heights, strict=True)
    ]
    # Second pass: every candidate segment of every field, in one batch.
    keys = [(i, s, e) for i, fld in enumerate(fields) for s, e in segment.field_segments(fld)]
    scored = _score(classifier, page.ink, labels_img, [fields[i].atoms[s:e] for i, s, e in keys])
    per_field: list[dict] = [{} for _ in fields]
    for (index, start, end), result in zip(keys, scored, strict=True):
        if result is not None:
            per_field[index][(start, end)] = result
    # (reading-order index, part of the field the string model reads, digit path's reading)
    found, doubtful, digit_like = [], [], {}
    for order, (fld, probs) in enumerate(zip(fields, per_field, strict=True)):
        chosen = best_reading(fld, probs)
        if chosen and not whole_strip and in_print_line(fld, chosen):
            continue
        # How digit-like the digits read are, before any are left out as print.
        first_gate = [probs[s][1] for s in chosen]
        first_digitness = np.mean(first_gate) if first_gate else 0.0
        if first_digitness >= DROPPED_DIGITNESS:
            digit_like[order] = fld
        if chosen and skipped_ink(fld, chosen) > MAX_SKIPPED_INK:
            chosen = surest_run(fld, chosen, probs)
        digitness = field_digitness([probs[s][1] for s in chosen])
        short = len(chosen) <= SHORT_DIGITS
        if (
            not chosen
            or digitness < (SHORT_DIGITNESS if short else BORDERLINE_DIGITNESS)
            or skipped_ink(fld, chosen) > MAX_SKIPPED_INK
        ):
            # Nothing, or print / rules rather than handwriting -- or digits the digit path
            # cannot cut: the string model may still read them confidently.
            doubtful.append((order, fld, first_gate))
            continue
        digits = [probs[s][0] for s in chosen]
        atoms = [a for s, e in chosen for a in fld.atoms[s:e]]
        reading = FieldReading(
            text="".join(str(int(p.argmax())) for p in digits),
            digit_confidences=[round(float(p.max()), 4) for p in digits],
            box=_field_box(atoms, fld, page, image.shape),
            probabilities=np.array(digits),
            pieces=[
                DigitPiece(
                    box=_field_box(fld.atoms[s:e], fld, page, image.shape),
                    label=int(probs[s, e][0].argmax()),
                    confidence=float(probs[s, e][0].max()),
                    image=probs[s, e][2],
                )
                for s, e in chosen
            ],
        )
        sure = digitness >= MIN_FIELD_DIGITNESS
        # A small field of mostly 1s is print (I, l, a letter's stems: "6. PIN" read 611111),
        # however sure the gate.
        ones = mostly_ones(reading.text)
        if digitness >= SURE_DIGITNESS and len(chosen) >= SURE_DIGITS and not ones:
            min_height = SURE_RELATIVE_HEIGHT
        else:
            min_height = MIN_RELATIVE_FIELD_HEIGHT if sure else BORDERLINE_HEIGHT
        # Only short fields pass the gate this doubtful: no taller than handwriting either
        # (a shadow's edge across a photo, a logo).
        max_height = SHORT_MAX_HEIGHT if digitness < BORDERLINE_DIGITNESS else math.inf
        string_fld = _string_field(fld, probs, atoms)
        if missed_digit_beside(fld, chosen, probs) or _beyond(string_fld.atoms, atoms):
            reading.doubt = "ink next to the digits may be a digit the reading left out"
        elif swallowed_digit(fld, chosen, probs):
            reading.doubt = "a digit read from pieces may be two: a 1 against its neighbour"
        elif wide_gap(fld, chosen):
            reading.doubt = "a wide gap between its digits: maybe two numbers"
        heights = (min_height, max_height)
        found.append((order, string_fld, reading, sure, heights))
    if not found and (readers.reader == "digits" or not doubtful):
        return []
    # Print that passed the gate (thin letters read as 1s) is much smaller than the page's
    # handwriting: judge each field's height against the typical sure field, one vote per
    # field. Fields of 1s alone say little about it: print's I, l and 1 are read as 1s.
    if found:
        sure = [item for item in found if item[3]] or found
        typical_of = [item for item in sure if item[2].text.strip("1")] or sure
        typical = float(np.median([item[1].height for item in typical_of]))
    else:
        typical = float(np.median([f.height for _, f, _ in doubtful]))
    tall_enough = MIN_RELATIVE_FIELD_HEIGHT * typical
    # A field the gate doubts a little stands only when it is as tall as the handwriting; one
    # it finds surely digit by digit may be smaller (digits written small in comb cells); one
    # written with the sure fields' coloured pen stands too (print is black or another colour;
    # the pen is measured only when a field needs it).
    sure_boxes = [item[2].box for item in found if item[3]]
    pen = functools.cache(lambda: written_with(image, sure_boxes))
    found = [
        (i, f, r)
        for i, f, r, _, (low, high) in found
        if low <= f.height / typical <= high
        or (PEN_MIN_HEIGHT <= f.height / typical <= high and same_pen(image, r.box, pen()))
    ]

    def beside(shown) -> list[tuple[int, int, int, int]]:
        """Boxes of the digit-like fields not among ``shown``."""
        kept = {order for order, *_ in shown}
        return [
            _field_box(fld.atoms, fld, page, image.shape)
            for order, fld in digit_like.items()
            if order not in kept
        ]

    if readers.reader == "digits":
        return flag_split_fields(reported([r for *_, r in found], image.shape), beside(found))
    if whole_strip:
        ink = [_field_box(f.atoms, f, page, image.shape) for _, f, _ in doubtful]
        ink += [r.box for *_, r in found]
        strip = _read_strip(readers, page, [r for *_, r in found], ink, image.shape)
        return [strip] if strip is not None else []
    # Fields the digit path doubts go to the string model on a page where it found nothing,
    # and elsewhere when its digits are sure but it could not cut them all.
    # ... or when their ink is of the sure fields' coloured pen (comb teeth the gate doubts).
    doubtful = [
        (i, f, gate)
        for i, f, gate in doubtful
        if f.height >= tall_enough
        and (
            not found
            or field_digitness(gate) >= MIN_FIELD_DIGITNESS
            or same_pen(image, _field_box(f.atoms, f, page, image.shape), pen())
        )
    ]
    fields = [f for _, f, _ in found] + [f for _, f, _ in doubtful]
    strings = _read_strings(readers.strings, page, labels_img, fields, image.shape)
    readings = []
    for (order, _, digits), string in zip(found, strings[: len(found)], strict=True):
        if string is None:
            readings.append((order, digits))
        elif not string.text and len(fields) > 1:
            # Ink in which the string model sees no writing at all, on a page with more to
            # read: a comb's tooth or a paper's edge read as 1s, a tick read as a 4. (A 1
            # alone in its image is there to be read.)
            digit_like.pop(order, None)
        elif readers.reader == "both":
            readings.append((order, _join(digits, string)))
        else:
            readings.append((order, replace(string, doubt=digits.doubt, pieces=digits.pieces)))
    # On a page where the digit path found nothing (a strip it cannot cut, say), fields the
    # string model reads surely are kept, flagged. Not on forms: there they are print. An
    # image holding one field only (a strip, a captcha, a cell) is there to be read.
    sole = len(doubtful) == 1 and not found
    for (order, _, gate), string in zip(doubtful, strings[len(found) :], strict=True):
        least = 1 if not found else UNCUT_DIGITS
        keep_from = string_only_confidence(gate, sole)
        # Print's letters read as 1s among the digits of a heading ("Time Sheet 2018").
        print_like = bool(found) and mostly_ones(string.text if string is not None else "")
        if (
            string is not None
            and len(string.text) >= least
            and string.confidence >= keep_from
            and not print_like
        ):
            readings.append((order, replace(string, doubt="read by the string model only")))
    readings.sort(key=lambda item: item[0])
    boxes = {order: fld.box for order, fld, _ in found} | {o: f.box for o, f, _ in doubtful}
    joined = join_split_fields([(r, boxes[order]) for order, r in readings], page.lines)
    return flag_split_fields(reported(joined, image.shape), beside(readings))


def is_strip(shape, ink_box=None) -> bool:
    """Whether an image of this shape is one strip of digits (a captcha, a cell, an amount):
    not a page's height, and wide -- or its ink, ``(x, y, w, h)``, when given, is."""
    height, width = shape[:2]
    if ink_box is not None and height <= STRIP_MAX_HEIGHT:
        height, width = ink_box[3], ink_box[2]
    return height <= STRIP_MAX_HEIGHT and width >= STRIP_MIN_ASPECT * height


def _read_strip(readers: Readers, page, found: list, ink, shape) -> FieldReading | None:
    """A strip read whole by the string model, beside the digit path's fields joined in
    reading order (touching digits often fall apart into several fields or into none); its
    box holds all ``ink`` (boxes of every field found, kept or not)."""
    height, width = shape[:2]
    box = segment.box_around(ink) if ink else (0, 0, width, height)
    try:
        strip = normalize_strip(preprocess.without_walls(page), ink_is_dark=True)
        read = readers.strings.read(strip[np.newaxis])[0]
    except BlankImageError:
        strip, read = None, None
    string = _string_reading(read, box, strip)
    if not found:
        # A strip is there to be read: however unsure, its reading is reported, flagged.
        return replace(string, doubt="read by the string model only") if string.text else None
    digits = _concatenate(found, box)
    if readers.reader == "both":
        joined = _join(digits, string)
        if joined.text == string.text or not string.text:
            return joined  # agreed, or the digit path alone found digits: flagged
        # On a strip the cuts are the weak point: the digit path confirms, it does not overrule.
        return replace(
            joined, text=string.text, digit_confidences=string.digit_confidences, other=digits
        )
    return replace(string, doubt=digits.doubt, pieces=digits.pieces)


def ink_extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The box ``(x, y, w, h)`` holding all but :data:`INK_OUTLIERS` of a mask's pixels at
    each side: where the writing is, not the specks around it."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return (0, 0, 0, 0)
    x0, x1 = np.quantile(xs, [INK_OUTLIERS, 1 - INK_OUTLIERS])
    y0, y1 = np.quantile(ys, [INK_OUTLIERS, 1 - INK_OUTLIERS])
    return (int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1)


def _concatenate(readings: list[FieldReading], box) -> FieldReading:
    """Readings joined left to right into one field with ``box``; their doubts kept, but not
    that they may be, or were joined as, parts of one number: they now are."""
    parts = (d for r in readings for d in r.doubt.split("; "))
    doubts = dict.fromkeys(d for d in parts if d not in ("", SPLIT_DOUBT, JOINED_DOUBT))
    known = all(r.probabilities is not None for r in readings)
    return FieldReading(
        text="".join(r.text for r in readings),
        digit_confidences=[c for r in readings for c in r.digit_confidences],
        box=box,
        doubt="; ".join(doubts),
        pieces=[p for r in readings for p in r.pieces],
        probabilities=np.concatenate([r.probabilities for r in readings]) if known else None,
    )


def join_split_fields(items: list, lines=None) -> list[FieldReading]:
    """Join fields side by side in one row, less than :data:`SPLIT_GAP` heights apart, with
    no cell wall between them and not each on its own writing line, into one field read
    left to right and flagged (:data:`JOINED_DOUBT`): one number read in parts. ``items``:
    ``(reading, box on the cleaned page)`` pairs in reading order; ``lines``: the page's mask
    of rules (a wall between two fields keeps them apart)."""
    items = list(items)
    pair = _split_pair(items, lines)
    while pair is not None:
        (left, on_page), (right, right_on_page) = items[pair[0]], items[pair[1]]
        merged = _concatenate([left, right], segment.box_around([left.box, right.box]))
        doubt = "; ".join(d for d in (merged.doubt, JOINED_DOUBT) if d)
        on_page = segment.box_around([on_page, right_on_page])
        items[pair[0]] = (replace(merged, doubt=doubt), on_page)
        del items[pair[1]]
        pair = _split_pair(items, lines)
    return [reading for reading, _ in items]


def _split_pair(items: list, lines) -> tuple[int, int] | None:
    """Indices of the first two fields (left, right) that :func:`join_split_fields` joins."""
    for i, (_, a) in enumerate(items):
        for j, (_, b) in enumerate(items):
            (x, y, w, h), (ox, oy, _, oh) = a, b
            top, bottom = max(y, oy), min(y + h, oy + oh)
            gap = ox - (x + w)
            if i == j or bottom - top < 0.5 * min(h, oh):
                continue
            if segment.on_separate_lines(lines, a, b):
                continue
            if -0.2 * max(h, oh) <= gap < SPLIT_GAP * max(h, oh):
                wall = gap > 0 and segment.upright_rule(lines, x + w, top, ox, bottom)
                # Comb cells have walls between all their digits; table cells do not.
                if not wall or _in_comb(lines, a) or _in_comb(lines, b):
                    return i, j
    return None


def _in_comb(lines, box) -> bool:
    """Whether an upright rule crosses a field's ``box`` (on the cleaned page) away from its
    left and right edges: its digits are written in comb cells."""
    x, y, w, h = box
    margin = max(2, w // 8)
    return segment.upright_rule(lines, x + margin, y, x + w - margin, y + h)


def without_nested(readings: list[FieldReading]) -> list[FieldReading]:
    """The readings but those whose box lies, by :data:`NESTED` of its area, inside a larger
    field's box: ink that field's reading holds (a comb's tooth left between its digits).
    The larger field is flagged (:data:`NESTED_DOUBT`): it may be two numbers."""

    def inside(box, other) -> bool:
        area = box[2] * box[3]
        across, upright = segment.box_overlap(box, other)
        return other[2] * other[3] > area and max(0, across) * max(0, upright) >= NESTED * area

    kept = []
    for reading in readings:
        holders = [other for other in readings if inside(reading.box, other.box)]
        for holder in holders:
            holder.doubt = holder.doubt or NESTED_DOUBT
        if not holders:
            kept.append(reading)
    return kept


def flag_split_fields(readings: list[FieldReading], dropped=()) -> list[FieldReading]:
    """Flag fields with another field beside them in the same row, less than
    :data:`SPLIT_GAP` heights away: one number read in parts, or with a part lost, reads
    surely in each part (a lost digit, a wall or a lost cut between them). ``dropped``:
    boxes of digit-like fields that were not reported, which count as neighbours too."""
    for reading in readings:
        x, y, w, h = reading.box
        for ox, oy, ow, oh in [r.box for r in readings if r is not reading] + list(dropped):
            same_row = min(y + h, oy + oh) - max(y, oy) >= 0.5 * min(h, oh)
            gap = max(ox - (x + w), x - (ox + ow))
            if same_row and gap < SPLIT_GAP * max(h, oh):
                reading.doubt = reading.doubt or SPLIT_DOUBT
    return readings


def field_digitness(gate: list[float]) -> float:
    """How surely a field's digits are handwriting: the mean of the gate's probabilities,
    leaving out the lowest one when there are :data:`TRIM_FROM` or more (one odd digit, a
    marker's 1 or a 0 with a stray tick, does not make a field print)."""
    if len(gate) >= TRIM_FROM:
        gate = sorted(gate)[1:]
    return float(np.mean(gate)) if gate else 0.0


def string_only_confidence(gate: list[float], sole: bool) -> float:
    """How sure the string model must be of a field the digit path rejected for it to be
    reported: :data:`SOLE_FIELD_CONFIDENCE` when the field is the image's only one, or when the
    gate found the digits the digit path first chose digit-like (:func:`field_digitness` of
    ``gate``, its probabilities, at least :data:`UNCUT_DIGITNESS`: digits it could not cut
    all of); else :data:`STRING_ONLY_CONFIDENCE`."""
    if sole or field_digitness(gate) >= UNCUT_DIGITNESS:
        return SOLE_FIELD_CONFIDENCE
    return STRING_ONLY_CONFIDENCE


def missed_digit_beside(fld: segment.Field, chosen: list[tuple[int, int]], probs: dict) -> bool:
    """Whether ink just left or right of the chosen digits reads surely as a digit of the
    field's height: a digit the gate doubted (a faint, thin one, or one touching a wall)
    and the reading left out."""
    first, last = chosen[0][0], chosen[-1][1]
    x0, x1 = fld.atoms[first].x0, fld.atoms[last - 1].x1
    for (start, end), (p, *_rest) in probs.items():
        if not (end == first or start == last) or float(p.max()) < BESIDE_PROBABILITY:
            continue
        atoms = fld.atoms[start:end]
        height = _ink_height(atoms)
        gap = x0 - max(a.x1 for a in atoms) if end == first else min(a.x0 for a in atoms) - x1
        if height >= BESIDE_HEIGHT * fld.height and gap <= BESIDE_GAP * fld.height:
            return True
    return False


def swallowed_digit(fld: segment.Field, chosen: list[tuple[int, int]], probs: dict) -> bool:
    """Whether a chosen digit the gate doubts is made of two pieces that are each a sure,
    full-height digit alone (a 1 standing against its neighbour, read with it as one digit).
    A piece of a broken digit rarely is: the 4s, 8s and 9s that one sure piece and a
    fragment make were right on the scan bench."""

    def sure_digit(i: int) -> bool:
        alone = probs.get((i, i + 1))
        atom = fld.atoms[i]
        return bool(
            alone
            and float(alone[0].max()) >= SWALLOWED_PROBABILITY
            and alone[1] >= SWALLOWED_DIGITNESS
            and atom.y1 - atom.y0 >= FULL_HEIGHT * fld.height
        )

    return any(
        probs[start, end][1] < SWALLOWING_DIGITNESS
        and sum(sure_digit(i) for i in range(start, end)) >= 2
        for start, end in chosen
        if end - start >= 2
    )


def _beyond(atoms: list, chosen_atoms: list) -> bool:
    """Whether any of ``atoms`` lies wholly left or right of the chosen digits' span."""
    x0, x1 = min(a.x0 for a in chosen_atoms), max(a.x1 for a in chosen_atoms)
    return any(a.x1 <= x0 or a.x0 >= x1 for a in atoms)


def wide_gap(fld: segment.Field, chosen: list[tuple[int, int]]) -> bool:
    """Whether two neighbouring chosen digits stand more than :data:`WIDE_GAP` field
    heights apart."""
    runs = [fld.atoms[s:e] for s, e in chosen]
    spans = [(min(a.x0 for a in run), max(a.x1 for a in run)) for run in runs]
    return any(b[0] - a[1] > WIDE_GAP * fld.height for a, b in itertools.pairwise(spans))


def skipped_ink(fld: segment.Field, chosen: list[tuple[int, int]]) -> float:
    """Share of the ink between the first and last chosen digit that no chosen digit holds."""
    used = {i for start, end in chosen for i in range(start, end)}
    x0 = fld.atoms[chosen[0][0]].x0
    x1 = fld.atoms[chosen[-1][1] - 1].x1
    inside = [i for i, a in enumerate(fld.atoms) if x0 <= (a.x0 + a.x1) / 2 <= x1]
    total = sum(fld.atoms[i].area for i in inside)
    skipped = sum(fld.atoms[i].area for i in inside if i not in used)
    return skipped / max(total, 1)


def surest_run(fld: segment.Field, chosen: list[tuple[int, int]], probs: dict) -> list:
    """Handwriting written beside a printed label that the row grouping joined to it: the run
    of chosen digits with no skipped ink between them that is most digit-like in all, when
    its pieces are clearly taller than the skipped ones (print beside print is not: printed
    numbers in a line of text); else nothing."""
    atoms = fld.atoms
    runs = [[chosen[0]]]
    for previous, segment_ in itertools.pairwise(chosen):
        gap = atoms[segment_[0]].x0 - max(a.x1 for a in atoms[previous[0] : previous[1]])
        if previous[1] == segment_[0] and gap <= RUN_BREAK * fld.height:
            runs[-1].append(segment_)
        else:
            runs.append([segment_])
    run = max(runs, key=lambda run: sum(probs[s][1] for s in run))
    used = {i for start, end in run for i in range(start, end)}
    digits = [_ink_height(atoms[start:end]) for start, end in run]
    skipped = [a.y1 - a.y0 for i, a in enumerate(atoms) if i not in used]
    taller = np.median(digits) >= segment.RUN_OVER_LABEL * np.median(skipped)
    return run if taller else []


def reported(readings: list[FieldReading], shape) -> list[FieldReading]:
    """The readings to report: none inside another's box (:func:`without_nested`) and, in an
    image with more to read, no 1s at its border (:func:`at_border`; a 1 cropped tight is
    there to be read)."""
    kept = without_nested(readings)
    if len(kept) > 1:
        kept = [r for r in kept if not (at_border(r.box, shape) and mostly_ones(r.text))]
    return kept


def at_border(box, shape) -> bool:
    """Whether ``box`` lies within :data:`BORDER` of the image's shorter side from its edge:
    where a 1 is the paper's edge, a scanner's shadow or the table beside a photographed
    sheet."""
    x, y, w, h = box
    band = BORDER * min(shape[:2])
    return min(x, y, shape[1] - (x + w), shape[0] - (y + h)) <= band


def mostly_ones(text: str) -> bool:
    """Whether more than half of ``text``'s digits are 1s: what print's I, l and stems read as."""
    return 2 * text.count("1") > len(text)


def written_with(image: np.ndarray, boxes: list) -> np.ndarray | None:
    """The colour of the pen the fields in ``boxes`` were written with, when it is
    coloured (:data:`PEN_CHROMA`; a blue ballpoint) and the image is in colour; else ``None``."""
    colours = [c for c in (preprocess.ink_colour(image, box) for box in boxes) if c is not None]
    if not colours:
        return None
    pen = np.median(colours, axis=0)
    return pen if preprocess.chroma(pen) >= PEN_CHROMA else None


def same_pen(image: np.ndarray, box, pen: np.ndarray | None) -> bool:
    """Whether the ink in ``box`` is of the coloured ``pen``'s colour, within
    :data:`PEN_DISTANCE` in each channel."""
    if pen is None:
        return False
    colour = preprocess.ink_colour(image, box)
    return (
        colour is not None
        and preprocess.chroma(colour) >= PEN_CHROMA
        and float(np.abs(colour - pen).max()) <= PEN_DISTANCE
    )


def in_print_line(fld: segment.Field, chosen: list[tuple[int, int]]) -> bool:
    """Whether the chosen digits are a few characters of a line of print (the year in a
    title, the B of "Batch"): at least :data:`PRINT_LINE_ATOMS` times as many of the field's
    other atoms, and :data:`PRINT_LINE_MIN`, stand :data:`PRINT_LINE_TALL` as tall as the
    chosen digits, are whole components and no slivers (a comb's teeth; the pieces of touching
    digits the cuts parted are handwriting) and follow on from them, each less than
    :data:`PRINT_LINE_GAP` of their height from the last (letters and words of one line;
    handwriting stands apart from its label). Beside handwriting, print is smaller."""
    used = {i for start, end in chosen for i in range(start, end)}
    digits = [_ink_height(fld.atoms[start:end]) for start, end in chosen]
    height = float(np.median(digits))
    tall, reach = PRINT_LINE_TALL * height, PRINT_LINE_GAP * height
    span = [fld.atoms[i] for i in used]
    x0, x1 = min(a.x0 for a in span), max(a.x1 for a in span)
    line = []
    for side in (+1, -1):  # right, then left: x counted away from the digits
        edge = x1 if side > 0 else -x0
        beyond = sorted(
            ((a.x0, a.x1) if side > 0 else (-a.x1, -a.x0), k)
            for k, a in enumerate(fld.atoms)
            if k not in used and side * (a.x0 + a.x1) / 2 > edge
        )
        for (near, far), k in beyond:
            if near - edge > reach:
                break
            line.append(fld.atoms[k])
            edge = max(edge, far)
    pieces = collections.Counter(a.component for a in fld.atoms)
    letters = [
        a
        for a in line
        if a.y1 - a.y0 >= tall
        and a.x1 - a.x0 >= PRINT_LINE_WIDTH * tall
        and pieces[a.component] == 1  # not a piece of a cut component: touching digits
    ]
    return len(letters) >= max(PRINT_LINE_MIN, PRINT_LINE_ATOMS * len(chosen))


def _string_field(fld: segment.Field, probs: dict, chosen_atoms: list) -> segment.Field:
    """The part of a field the string model reads: the span of the digits the digit path
    chose, plus ink beyond it that the gate alone finds digit-like (a digit the cuts missed)
    or that stands digit-tall right beside it. Small print and rule fragments the digit path
    skipped beside the digits stay out."""
    x0 = min(a.x0 for a in chosen_atoms)
    x1 = max(a.x1 for a in chosen_atoms)
    keep = [
        atom
        for i, atom in enumerate(fld.atoms)
        if (atom.x1 > x0 and atom.x0 < x1)
        or probs.get((i, i + 1), (None, 0.0))[1] >= STRING_EXTRA_DIGITNESS
    ]
    rest = [atom for atom in fld.atoms if atom not in keep]
    beside = _beside(rest, x1, fld.height, +1) + _beside(rest, x0, fld.height, -1)
    return segment.Field(atoms=keep + beside, height=fld.height)


def _beside(atoms: list, edge: int, height: float, side: int) -> list:
    """The ink just beyond ``edge`` on one ``side`` (+1 right, -1 left) that stands
    digit-tall: one atom, or a run of pieces each at most :data:`STRING_BESIDE_GAP` heights
    from the last and spanning at most one digit's width from the first (a dotted or broken
    digit; the pieces of one component count as one)."""
    reach, tall = STRING_BESIDE_GAP * height, STRING_BESIDE_HEIGHT * height

    def span(atom) -> tuple[int, int]:  # near and far end, counted away from the edge
        return (atom.x0, atom.x1) if side > 0 else (-atom.x1, -atom.x0)

    edge *= side
    run, reached = [], edge
    for atom in sorted(atoms, key=lambda a: span(a)[0]):
        near, far = span(atom)
        if near < edge:
            continue
        start = span(run[0])[0] if run else near
        # One digit wide from the run's own start, not from the edge; a component the cuts
        # parted (a continental 1 drawn as one long slant) is one piece however wide.
        wide = bool(run) and far - start > height and atom.component != run[-1].component
        if near - reached > reach or wide:
            break
        run.append(atom)
        reached = max(reached, far)
    if run and _ink_height(run) >= tall:
        return run
    return []


def _read_strings(strings, page, labels_img, fields, shape) -> list[FieldReading | None]:
    """The string model's reading of each field (the flattened page without its walls around
    its atoms, see :func:`formreader.preprocess.without_walls` and
    :func:`formreader.segment.field_crop`), in one batch (``None``: blank)."""
    crops, index = [], []
    flat = preprocess.without_walls(page)
    image_h, image_w = flat.shape
    for i, fld in enumerate(fields):
        _, _, width, height = fld.box
        whole = width >= WHOLE_IMAGE_FIELD * image_w and height >= WHOLE_IMAGE_FIELD * image_h
        if len(fields) == 1 and whole:
            crop = flat  # a strip or captcha: the image is the field
        else:
            margin = round(STRING_MARGIN * fld.height)
            crop = segment.field_crop(flat, labels_img, fld.atoms, margin)
        try:
            crops.append(normalize_strip(crop, ink_is_dark=True))
        except BlankImageError:
            continue
        index.append(i)
    results: list[FieldReading | None] = [None] * len(fields)
    read = strings.read(np.stack(crops)) if crops else []
    for i, strip, reading in zip(index, crops, read, strict=True):
        fld = fields[i]
        box = _field_box(fld.atoms, fld, page, shape)
        results[i] = _string_reading(reading, box, strip)
    return results


def _string_reading(read: classify.StringReading | None, box, strip) -> FieldReading:
    """The string model's reading of ``strip`` (``read``: ``None`` when blank)."""
    if read is None:
        return FieldReading("", [], box, strip=strip)
    confidences = [round(c, 4) for c in classify.confidences(read.text, read.probabilities)]
    return FieldReading(
        read.text,
        confidences,
        box,
        strip=strip,
        probabilities=read.probabilities,
        steps=read.steps,
    )


def read_image(image: np.ndarray, readers: Readers) -> FieldReading:
    """Read one digit or one digit string: all fields of the image joined in reading order."""
    readings = read_page(image, readers)
    if not readings:
        raise BlankImageError("no handwritten digits found")
    if len(readings) == 1:
        return readings[0]
    return _concatenate(readings, segment.box_around([r.box for r in readings]))


def _page_id(name: str, page: int) -> str:
    """A file-name-safe id of one page of one input file."""
    return f"{name.replace(chr(92), '/').strip('/').replace('/', '__')}.p{page}"


def export_crops(export_dir, image: np.ndarray, page_id: str, field_index: int, reading):
    """Write each digit of ``reading`` (original pixels, small margin) into a folder named by
    its digit; return ``(index, predicted, confidence, path)`` per crop.

    Labels come from the reported text when it has one digit per piece, else from the digit
    path's own reading.
    """
    labels = reading.text if len(reading.text) == len(reading.pieces) else None
    crops = []
    for n, piece in enumerate(reading.pieces, start=1):
        label = labels[n - 1] if labels else str(piece.label)
        x, y, w, h = piece.box
        margin = max(2, round(0.15 * max(w, h)))
        crop = image[
            max(0, y - margin) : y + h + margin,
            max(0, x - margin) : x + w + margin,
        ]
        path = Path(export_dir) / label / f"{page_id}_{field_index}_{n}_{piece.confidence:.4f}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".png", crop)
        if ok:
            path.write_bytes(data.tobytes())
            crops.append((n, label, piece.confidence, str(path)))
    return crops


def scan_file(path: Path, name: str, readers: Readers, **options) -> list[Record]:
    """All records of one image or PDF file; see :func:`scan_pages`.

    ``max_pixels`` and ``dpi`` in ``options`` go to :func:`formreader.io.iter_pages`, the rest
    to :func:`scan_pages`.
    """
    load = {key: options.pop(key) for key in ("max_pixels", "dpi") if key in options}
    return scan_pages(iter_pages(path, **load), name, readers, **options)


def _field_record(name, number, field_id, reading, review_below, problems="", crops=()):
    low = f"lowest digit confidence below {review_below}"
    notes = [reading.doubt, problems, low if reading.confidence < review_below else ""]
    return Record(
        file=name,
        page=number,
        field=field_id,
        text=reading.text,
        confidence=reading.confidence,
        digit_confidences=reading.digit_confidences,
        box=reading.box,
        status="review" if any(notes) else "ok",
        message="; ".join(m for m in notes if m),
        crops=list(crops),
    )


def fit_to_checks(zone: TemplateField, reading: FieldReading) -> FieldReading:
    """The other reader's reading when the readers disagree and only it passes the template
    field's checks (length, pattern); else ``reading``. It stays flagged either way."""
    other = reading.other
    if other and zone.problems(reading.text) and not zone.problems(other.text):
        return replace(other, doubt=reading.doubt, pieces=reading.pieces)
    return reading


def _template_records(image, name, number, readers, template, review_below):
    """Records of one page read with a form template: one per named field, in its order."""
    records, readings = [], []
    for zone, reading in read_form(image, template, lambda crop: read_image(crop, readers)):
        if reading is None:
            problems = zone.problems("")
            message = "; ".join(m for m in ("no handwritten digits found", problems) if m)
            records.append(
                Record(file=name, page=number, field=zone.name, status="review", message=message)
            )
            continue
        reading = fit_to_checks(zone, reading)
        readings.append(reading)
        problems = zone.problems(reading.text)
        records.append(_field_record(name, number, zone.name, reading, review_below, problems))
    return records, readings


def scan_pages(
    pages: Iterable[np.ndarray],
    name: str,
    readers: Readers,
    review_below: float = REVIEW_BELOW,
    debug_dir=None,
    export_dir=None,
    template=None,
) -> list[Record]:
    """All records of the pages of one input; nothing raises out of it.

    A file that cannot be opened gives one ``error`` record; a page that cannot be decoded or
    read gives an ``error`` record for that page (pages after an undecodable one are not
    reached). A page without digits gives one ``review`` record. With a ``template``
    (:class:`formreader.template.Template`) each page is registered to it and every named
    field gets one record (``field`` = its name); a page that does not match the template is
    an ``error`` record. With ``debug_dir``, an overlay PNG per page shows the fields found;
    with ``export_dir`` every digit crop is written for review (see :func:`export_crops`).
    """
    records: list[Record] = []
    pages = iter(pages)
    for number in itertools.count(1):
        try:
            image = next(pages)
        except StopIteration:
            break
        except Exception as exc:  # a file that cannot be decoded must not stop the batch
            log.info("cannot read %s", exc, exc_info=not isinstance(exc, FormreaderError))
            message = str(exc) if isinstance(exc, FormreaderError) else f"{name}: {exc!r}"
            records.append(Record(file=name, page=number, field=0, status="error", message=message))
            break
        try:
            if template is not None:
                page_records, readings = _template_records(
                    image, name, number, readers, template, review_below
                )
            else:
                readings = read_page(image, readers)
        except Exception as exc:  # one bad page must not stop the batch
            known = isinstance(exc, FormreaderError | ValueError | cv2.error)
            log.info("reading %s page %d failed: %s", name, number, exc, exc_info=not known)
            message = f"{name}: page {number}: {'' if known else 'internal error: '}{exc}"
            records.append(Record(file=name, page=number, field=0, status="error", message=message))
            continue
        page_id = _page_id(name, number)
        if debug_dir:
            save_overlay(Path(debug_dir) / f"{page_id}.png", image, readings, review_below)
        if template is not None:
            records += page_records
            continue
        if not readings:
            records.append(
                Record(
                    file=name,
                    page=number,
                    field=0,
                    status="review",
                    message="no handwritten digits found on this page",
                )
            )
        for index, reading in enumerate(readings, start=1):
            crops = export_crops(export_dir, image, page_id, index, reading) if export_dir else ()
            records.append(_field_record(name, number, index, reading, review_below, crops=crops))
    return records


#: One input of :func:`scan`: a file path or a page array, and its name in the output.
ScanItem = tuple["Path | np.ndarray", str]

_worker_state: dict = {}


def scan_item(item: ScanItem, readers: Readers, options: dict) -> list[Record]:
    """The records of one input: a file (see :func:`scan_file`) or a page array."""
    source, name = item
    options = dict(options)
    if isinstance(source, np.ndarray):
        options.pop("max_pixels", None)
        options.pop("dpi", None)
        return scan_pages([source], name, readers, **options)
    return scan_file(Path(source), name, readers, **options)


def _scan_item(item: ScanItem) -> list[Record]:
    return scan_item(item, _worker_state["readers"], _worker_state["options"])


def _init_worker(model_dir, reader: str, options: dict) -> None:
    # Ctrl-C reaches the whole process group; the parent stops the batch, workers just end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_state.update(readers=Readers.load(model_dir, reader), options=options)


def scan(
    items: Iterable[ScanItem],
    readers: Readers,
    model_dir=None,
    workers: int = 1,
    **options,
) -> Iterator[list[Record]]:
    """Yield the records of each item, in input order (see :func:`scan_pages`).

    ``readers`` reads in this process; with ``workers > 1`` items are read in that many
    processes instead, each loading the models of ``model_dir`` once. ``options`` are those of
    :func:`scan_file`. Closing the generator early (Ctrl-C) cancels the files not started.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        _worker_state.update(readers=readers, options=options)
        yield from map(_scan_item, items)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        min(workers, len(items)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(model_dir, readers.reader, options),
    )
    try:
        yield from pool.map(_scan_item, items)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
