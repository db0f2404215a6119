"""Write records as CSV or JSON Lines, atomically (temporary file + rename), or to stdout;
read them back (for ``--resume``)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from formreader.exceptions import OutputError
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


def _file_mode(target: Path) -> int:
    """The permissions a new file would get (or ``target``'s own, when it exists)."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike) -> Iterator:
    """Open a text file for writing that replaces ``path`` only when the block completes.

    ``-`` means stdout. When the block raises, the temporary file is removed and ``path`` keeps
    what it held before: nothing is half-written. (``scan`` catches Ctrl-C inside the block,
    so an interrupted batch still ends the block normally and keeps the files finished.)
    """
    if str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.chmod(tmp, _file_mode(target))
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            yield fh
    except BaseException:
        os.unlink(tmp)
        raise
    os.replace(tmp, target)


FORMATS = ("csv", "jsonl")


def output_format(out: str | os.PathLike, fmt: str | None = None) -> str:
    """``fmt`` if given, else ``jsonl`` for ``*.jsonl`` / ``*.ndjson`` files, else ``csv``."""
    if fmt:
        return fmt
    return "jsonl" if Path(str(out)).suffix.lower() in (".jsonl", ".ndjson") else "csv"


def record_json(record: Record) -> dict:
    """One record as a JSON object: the CSV columns, digit confidences as a list, numbers as
    numbers and ``null`` where the CSV cell is empty."""
    x, y, w, h = record.box if record.box else (None, None, None, None)
    return {
        "file": record.file,
        "page": record.page,
        "field": record.field,
        "text": record.text,
        "confidence": None if record.confidence is None else round(record.confidence, 4),
        "digit_confidences": [round(c, 4) for c in record.digit_confidences],
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "status": record.status,
        "message": record.message,
    }


def wide_columns(names: list[str]) -> list[str]:
    """Columns of ``--layout wide``: one value and one confidence column per field name."""
    named = [column for name in names for column in (name, f"{name}_confidence")]
    return ["file", "page", *named, "status", "message"]


def wide_rows(records: list[Record], names: list[str]) -> list[dict]:
    """One row per page of template records: each named field's text and confidence, the
    worst status of the page and its fields' messages, prefixed by their names."""
    pages: dict[tuple[str, int], list[Record]] = {}
    for record in records:
        pages.setdefault((record.file, record.page), []).append(record)
    rows = []
    for (file, page), group in pages.items():
        row: dict = {column: None for column in wide_columns(names)}
        row.update(file=file, page=page)
        for record in group:
            if record.field in names:
                row[record.field] = record.text
                row[f"{record.field}_confidence"] = record.confidence
        statuses = {record.status for record in group}
        row["status"] = next(s for s in ("error", "review", "ok") if s in statuses or s == "ok")
        row["message"] = "; ".join(
            f"{r.field}: {r.message}" if r.field in names else r.message for r in group if r.message
        )
        rows.append(row)
    return rows


class RecordWriter:
    """Records to an open text stream as CSV (header first) or JSON Lines.

    ``layout="wide"`` (with the template's field ``names``) writes one row per page instead of
    one per field. Each :meth:`write` goes out in one piece and is flushed, so an interrupted
    batch leaves whole files' rows only.
    """

    def __init__(self, stream, fmt: str = "csv", layout: str = "long", names=None):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        if layout not in ("long", "wide") or (layout == "wide" and not names):
            raise ValueError("layout must be 'long', or 'wide' with the template's field names")
        self._stream, self._format, self._names = stream, fmt, names if layout == "wide" else None
        if fmt == "csv":
            self._emit([wide_columns(names) if self._names else COLUMNS])

    def _emit(self, rows: list[list]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        self._stream.write(buffer.getvalue())
        self._stream.flush()

    def write(self, records: list[Record]) -> None:
        if self._names:
            objects = wide_rows(records, self._names)
            for row in objects:
                for key, value in row.items():
                    if key.endswith("_confidence") and value is not None:
                        row[key] = round(value, 4)
            cells = [[_cell(row[c]) for c in wide_columns(self._names)] for row in objects]
        else:
            objects = [record_json(r) for r in records]
            cells = [record_row(r) for r in records]
        if self._format == "csv":
            self._emit(cells)
        else:
            lines = [json.dumps(o, ensure_ascii=False) + "\n" for o in objects]
            self._stream.write("".join(lines))
            self._stream.flush()


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _record_from(cells: dict) -> Record:
    """A record from a CSV row (all strings) or a JSON object."""

    def number(value, kind):
        return None if value in ("", None) else kind(value)

    confidences = cells["digit_confidences"]
    if isinstance(confidences, str):
        confidences = confidences.split()
    box = [number(cells[key], int) for key in ("x", "y", "w", "h")]
    return Record(
        file=cells["file"],
        page=int(cells["page"]),
        field=int(cells["field"]) if str(cells["field"]).isdigit() else cells["field"],
        text=cells["text"] or "",
        confidence=number(cells["confidence"], float),
        digit_confidences=[float(c) for c in confidences],
        box=None if None in box else tuple(box),
        status=cells["status"],
        message=cells["message"] or "",
    )


def read_records(path: str | os.PathLike, fmt: str | None = None) -> list[Record]:
    """Read records written by :class:`RecordWriter` back (format from the name if not given).

    Raises
    ------
    OutputError
        When the file is not formreader output of that format.
    """
    fmt = output_format(path, fmt)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if fmt == "csv":
                reader = csv.DictReader(fh)
                if reader.fieldnames != COLUMNS:
                    raise ValueError(f"its header is not {','.join(COLUMNS)}")
                return [_record_from(row) for row in reader]
            return [_record_from(json.loads(line)) for line in fh if line.strip()]
    except (ValueError, KeyError, TypeError) as exc:
        raise OutputError(f"{path}: not formreader {fmt} output ({exc})") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc})") from None


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
