"""Write records as CSV, atomically (temporary file + rename), or to stdout."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from formreader.pipeline import Record

COLUMNS = [
    "file",
    "page",
    "field",
    "text",
    "confidence",
    "digit_confidences",
    "x",
    "y",
    "w",
    "h",
    "status",
    "message",
]


def record_row(record: Record) -> list:
    """The CSV cells of one record, in :data:`COLUMNS` order."""
    x, y, w, h = record.box if record.box else ("", "", "", "")
    confidence = "" if record.confidence is None else f"{record.confidence:.4f}"
    return [
        record.file,
        record.page,
        record.field,
        record.text,
        confidence,
        " ".join(f"{c:.4f}" for c in record.digit_confidences),
        x,
        y,
        w,
        h,
        record.status,
        record.message,
    ]


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike) -> Iterator:
    """Open a text file for writing that appears at ``path`` only when complete.

    ``-`` means stdout. On an exception the partial rows written so far are still moved into
    place, so an interrupted batch leaves a valid file with the rows finished before it.
    """
    if str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            yield fh
    finally:
        os.replace(tmp, target)


class CsvWriter:
    """Rows to an open text stream, header first."""

    def __init__(self, stream):
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(COLUMNS)
        self._stream = stream

    def write(self, records: list[Record]) -> None:
        for record in records:
            self._writer.writerow(record_row(record))
        self._stream.flush()


CROP_COLUMNS = ["file", "page", "field", "index", "predicted", "confidence", "crop"]


def crop_rows(records: list[Record]) -> list[list]:
    """Rows of ``crops.csv`` (one per exported digit crop) for some records."""
    return [
        [r.file, r.page, r.field, index, predicted, f"{confidence:.4f}", path]
        for r in records
        for index, predicted, confidence, path in r.crops
    ]


def write_crops_csv(path: str | os.PathLike, rows: list[list]) -> None:
    """Write ``crops.csv`` atomically."""
    with atomic_text(path) as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CROP_COLUMNS)
        writer.writerows(rows)
