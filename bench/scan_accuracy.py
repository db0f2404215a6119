"""Accuracy of `formreader scan` on generated pages of every kind, next to Tesseract.

Pages are drawn by ``formreader.synth`` from MNIST *test* digits (nothing was trained on them),
written to a temporary folder, and read by the real CLI in a subprocess. Tesseract (digit
whitelist, sparse text mode) reads the same files in the same run as a reference.

    python bench/scan_accuracy.py --mnist ../shared/data/mnist.npz --pages 40

Prints, per kind and reader (``--readers digits,string,both``: the segmenting digit path, the
string model, both with disagreement flagged): field accuracy (whole field exact), character
accuracy, spurious digits per page, how many fields went through unflagged (status ``ok``) and
how many of those were right, pages per second. ``--scale 2`` draws every page at twice its
size (a 600 dpi scan of a 300 dpi page, say). ``--hands ../shared/data/cvl/valid`` writes the
pages with other writers' digits (CVL: European hands, a thinner pen) instead of MNIST's:

    python bench/scan_accuracy.py --mnist ../shared/data/mnist.npz --hands ../shared/data/cvl/valid

``--kinds amount`` reads cheque amounts (``synth.make_amount``: separators, closing dashes and
a printed currency label among the digits), which are not among the default kinds:

    python bench/scan_accuracy.py --mnist ../shared/data/mnist.npz --kinds amount --pages 100
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from formreader import synth


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def overlap(a, b) -> float:
    """Intersection over the smaller box."""
    return synth.box_intersection(a, b) / max(1, min(a[2] * a[3], b[2] * b[3]))


def score(pages, predictions):
    """Field accuracy, character accuracy, spurious digits per page, unflagged fields and the
    share of them that are right, wrong and spurious fields listed."""
    fields = exact = chars = good_chars = spurious = unflagged = unflagged_right = 0
    misses = []
    for index, page in enumerate(pages):
        found = predictions.get(index, [])
        used = set()
        for truth in page.fields:
            fields += 1
            chars += len(truth.text)
            candidates = [
                (overlap(truth.box, box), k)
                for k, (_, box, _) in enumerate(found)
                if k not in used and overlap(truth.box, box) > 0.3
            ]
            text, status = "", ""
            if candidates:
                _, k = max(candidates)
                used.add(k)
                text, _, status = found[k]
            exact += text == truth.text
            unflagged += status == "ok"
            unflagged_right += status == "ok" and text == truth.text
            good_chars += max(0, len(truth.text) - edit_distance(text, truth.text))
            if text != truth.text:
                misses.append((index, truth.text, text, status))
        extra = [k for k in range(len(found)) if k not in used and found[k][0]]
        spurious += sum(len(found[k][0]) for k in extra)
        misses += [(index, "", found[k][0], found[k][2]) for k in extra]
    n = max(1, len(pages))
    ok_share = unflagged / max(1, fields)
    ok_right = unflagged_right / max(1, unflagged)
    return (
        exact / max(1, fields),
        good_chars / max(1, chars),
        spurious / n,
        ok_share,
        ok_right,
        misses,
    )


def run_formreader(folder: Path, out: Path, extra: list[str]):
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "formreader",
            "scan",
            str(folder),
            "--out",
            str(out),
            "--quiet",
            *extra,
        ],
        check=False,
    )
    seconds = time.perf_counter() - started
    predictions: dict[int, list] = {}
    with open(out, newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["text"]:
                continue  # error rows, pages without handwriting
            index = int(Path(row["file"]).stem.split("_")[1])
            box = tuple(int(row[k]) for k in "xywh")
            predictions.setdefault(index, []).append((row["text"], box, row["status"]))
    return predictions, seconds


def rescaled(page: synth.Page, scale: float) -> synth.Page:
    """The page drawn ``scale`` times as large, its fields' boxes with it."""
    if scale == 1:
        return page
    smaller = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(page.image, None, fx=scale, fy=scale, interpolation=smaller)
    fields = [
        dataclasses.replace(f, box=tuple(round(v * scale) for v in f.box)) for f in page.fields
    ]
    return dataclasses.replace(page, image=image, fields=fields)


def run_tesseract(files: list[Path]):
    """Tesseract words (digits only) per page, grouped into lines as fields."""
    started = time.perf_counter()
    predictions: dict[int, list] = {}
    for index, path in enumerate(files):
        result = subprocess.run(
            [
                "tesseract",
                str(path),
                "stdout",
                "--psm",
                "11",
                "-c",
                "tessedit_char_whitelist=0123456789",
                "tsv",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        lines: dict[tuple, list] = {}
        for line in result.stdout.splitlines()[1:]:
            cells = line.split("\t")
            if len(cells) < 12 or not cells[11].strip():
                continue
            key = tuple(cells[1:5])
            x, y, w, h = (int(v) for v in cells[6:10])
            lines.setdefault(key, []).append((x, y, w, h, cells[11].strip()))
        found = []
        for words in lines.values():
            x0 = min(w[0] for w in words)
            y0 = min(w[1] for w in words)
            x1 = max(w[0] + w[2] for w in words)
            y1 = max(w[1] + w[3] for w in words)
            text = "".join(w[4] for w in sorted(words))
            found.append((text, (x0, y0, x1 - x0, y1 - y0), ""))
        predictions[index] = found
    return predictions, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--pages", type=int, default=40, help="pages per kind")
    parser.add_argument("--kinds", default=",".join(synth.KINDS))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--keep", help="keep the generated pages and CSVs in this folder")
    parser.add_argument(
        "--show-misses",
        action="store_true",
        help="list wrong fields, and spurious ones (expected '')",
    )
    parser.add_argument("--model", help="model folder for formreader (default: bundled)")
    parser.add_argument("--readers", default="both", help="formreader --reader values to run")
    parser.add_argument("--scale", type=float, default=1.0, help="draw the pages this much larger")
    parser.add_argument(
        "--hands",
        help="write the pages with these digits instead of MNIST test digits: a folder of"
        " digit sub-folders 0-9, e.g. ../shared/data/cvl/valid (other writers)",
    )
    args = parser.parse_args()
    extra = ["--model", args.model] if args.model else []
    use_tesseract = not args.no_tesseract and shutil.which("tesseract")
    if args.hands:
        pool = synth.DigitPool.from_folder(args.hands)
    else:
        pool = synth.DigitPool.from_npz(args.mnist, "test")
    work = Path(args.keep or tempfile.mkdtemp(prefix="formreader-bench-"))
    header = f"{'kind':<8}{'reader':<12}{'fields':>7}{'field acc':>10}{'char acc':>10}"
    header += f"{'spurious/page':>15}{'unflagged':>10}{'of them right':>14}{'pages/s':>9}"
    print(header)
    for k, kind in enumerate(args.kinds.split(",")):
        pages = synth.make_pages(kind, args.pages, pool, seed=args.seed + k)
        pages = [rescaled(page, args.scale) for page in pages]
        folder = work / kind
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for index, page in enumerate(pages):
            path = folder / f"{kind}_{index:04d}.png"
            cv2.imwrite(str(path), page.image)
            files.append(path)
        readers = args.readers.split(",") + (["tesseract"] if use_tesseract else [])
        for name in readers:
            if name != "tesseract":
                out = work / f"{kind}-{name}.csv"
                predictions, seconds = run_formreader(folder, out, [*extra, "--reader", name])
            else:
                predictions, seconds = run_tesseract(files)
            field_acc, char_acc, spurious, ok_share, ok_right, misses = score(pages, predictions)
            n_fields = sum(len(p.fields) for p in pages)
            flagged = f"{ok_share:>10.3f}{ok_right:>14.3f}" if name != "tesseract" else " " * 24
            print(
                f"{kind:<8}{name:<12}{n_fields:>7}{field_acc:>10.3f}{char_acc:>10.3f}"
                f"{spurious:>15.2f}{flagged}{len(pages) / seconds:>9.2f}",
                flush=True,
            )
            if args.show_misses and name != "tesseract":
                for index, truth, text, status in misses:
                    print(f"    page {index}: expected {truth!r}, read {text!r} ({status})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
