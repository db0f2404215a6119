"""Field accuracy of `formreader scan` with and without a form template, on the same pages.

For each of ``--forms`` different printed forms (``formreader.synth.blank_form``), a template
is proposed by the real `formreader template init` on the blank form, and ``--copies`` copies
are filled with MNIST *test* digits and scanned (rotation, scale, shift, noise) or photographed
(perspective, uneven light, JPEG; every third copy). The real CLI reads the folder twice:

- with ``--template``: a field counts as right when the row of its name holds its digits;
- without: a field counts as right when some field read on its page holds exactly its digits
  (position ignored, each reading used once) -- a generous measure for the template-less path.

    python bench/template_accuracy.py --mnist ../shared/data/mnist.npz --forms 4 --copies 6

Prints field accuracy, unflagged fields and how many of those were right, pages per second.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from formreader import synth


def formreader(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "formreader", *args], check=False)
    return time.perf_counter() - started


def zone_name(box, fields: list[dict]) -> str:
    """The proposed field that overlaps the drawn zone most (``""`` when none does)."""

    def overlap(a, b) -> float:
        w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
        return max(0, w) * max(0, h) / float(a[2] * a[3])

    best = max(fields, key=lambda field: overlap(box, field["box"]), default=None)
    return best["name"] if best and overlap(box, best["box"]) > 0.5 else ""


def read_rows(path: Path) -> dict[str, list[dict]]:
    """Output rows by file name (rows without text left out)."""
    by_file: dict[str, list[dict]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["text"]:
                by_file.setdefault(Path(row["file"]).name, []).append(row)
    return by_file


def score_template(found: list[dict], names: list[str], texts: list[str], counts: Counter):
    """With a template: the row named like each field must hold its digits."""
    by_name = {row["field"]: row for row in found}
    for name, text in zip(names, texts, strict=False):
        row = by_name.get(name)
        right = row is not None and row["text"] == text
        counts["right"] += right
        if row is not None and row["status"] == "ok":
            counts["unflagged"] += 1
            counts["unflagged right"] += right


def score_free(found: list[dict], texts: list[str], counts: Counter):
    """Without a template: each field is right when some unused reading holds its digits."""
    unused = list(found)
    for text in texts:
        row = next((r for r in unused if r["text"] == text), None)
        if row is not None:
            unused.remove(row)
            counts["right"] += 1
            counts["unflagged right"] += row["status"] == "ok"
    counts["unflagged"] += sum(row["status"] == "ok" for row in found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/data/mnist.npz")
    parser.add_argument("--forms", type=int, default=4)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pool = synth.DigitPool.from_npz(args.mnist, "test")
    totals = {"template": Counter(), "no template": Counter()}
    seconds = {"template": 0.0, "no template": 0.0}
    pages = 0
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.forms):
            folder = Path(tmp) / f"form{number}"
            (folder / "pages").mkdir(parents=True)
            form = synth.blank_form(np.random.default_rng([args.seed, number]))
            cv2.imwrite(str(folder / "blank.png"), form.image)
            blank, template = str(folder / "blank.png"), str(folder / "t.json")
            formreader("template", "init", blank, "--out", template)
            truth = {}
            for copy in range(args.copies):
                rng = np.random.default_rng([args.seed, number, copy])
                texts = ["".join(map(str, rng.integers(0, 10, z.length))) for z in form.zones]
                page = synth.fill_form(form, pool, rng, texts)
                name = f"copy{copy:02d}.png"
                copy_image = synth.scan_copy(page, rng, photo=copy % 3 == 2)
                cv2.imwrite(str(folder / "pages" / name), copy_image)
                truth[name] = texts
            pages += args.copies
            spec = json.loads((folder / "t.json").read_text())
            names = [zone_name(zone.box, spec["fields"]) for zone in form.zones]
            for label in totals:
                out = folder / f"{label.replace(' ', '_')}.csv"
                extra = ["--template", str(folder / "t.json")] if label == "template" else []
                command = ("scan", str(folder / "pages"), "--out", str(out), "-q", *extra)
                seconds[label] += formreader(*command)
                read = read_rows(out)
                for name, texts in truth.items():
                    totals[label]["fields"] += len(texts)
                    if label == "template":
                        score_template(read.get(name, []), names, texts, totals[label])
                    else:
                        score_free(read.get(name, []), texts, totals[label])
    print(f"{args.forms} forms x {args.copies} copies (every third a photo), MNIST test digits\n")
    print("| reading | field accuracy | unflagged | unflagged right | pages/s |")
    print("|---|---|---|---|---|")
    for label, counts in totals.items():
        unflagged = counts["unflagged"]
        print(
            f"| {label} | {counts['right'] / counts['fields']:.3f} "
            f"| {unflagged / counts['fields']:.2f} "
            f"| {counts['unflagged right'] / max(1, unflagged):.3f} "
            f"| {pages / seconds[label]:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
