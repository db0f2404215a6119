"""Numeric captchas read by `formreader read` next to Tesseract: exact and character accuracy.

The captchas come from the `captcha` library (``pip install ".[bench]"``), whose
``ImageCaptcha`` draws each character in its own font (Droid Sans Mono, which no formreader
model was trained on), turned, warped and squeezed together, in colour, with a noise curve and
dots: the kind of numeric captcha found on real sites. Every image is read once per reader,
each reader as one ``formreader read`` command over all images; Tesseract 5 (``--psm 7``,
digit whitelist) reads the same files in the same run.

    python bench/captcha_accuracy.py --captchas 300
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scan_accuracy import edit_distance


class _Seeded:
    """What ``ImageCaptcha`` asks of :mod:`secrets`, from a seeded generator (repeatable)."""

    def __init__(self, rng: random.Random):
        self.randbelow = rng.randrange
        self.randbits = rng.getrandbits
        self.choice = rng.choice


def make_captchas(folder: Path, n: int, seed: int) -> dict[str, str]:
    """``n`` captchas of 4-6 digits in ``folder``, 160-240 px wide, and their ``labels.csv``
    (the format of ``train --data``); returns file name -> digits."""
    from captcha import image

    rng = random.Random(seed)
    image.secrets = _Seeded(rng)
    truth = {}
    for i in range(n):
        text = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 6)))
        width = rng.randint(160, 240)
        generator = image.ImageCaptcha(width=width, height=int(width * rng.uniform(0.3, 0.45)))
        name = f"captcha_{i:04d}.png"
        generator.write(text, str(folder / name))
        truth[name] = text
    rows = "".join(f"{name},{text}\n" for name, text in truth.items())
    (folder / "labels.csv").write_text("file,label\n" + rows)
    return truth


def run_formreader(folder: Path, names: list[str], reader: str, model) -> dict[str, str]:
    options = ["--model", str(model.resolve())] if model else []
    result = subprocess.run(
        [sys.executable, "-m", "formreader", "read", "--reader", reader, *options, *names],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return {row["file"]: row["text"] for row in csv.DictReader(result.stdout.splitlines())}


def run_tesseract(folder: Path, names: list[str]) -> dict[str, str]:
    read = {}
    for name in names:
        result = subprocess.run(
            ["tesseract", name, "stdout", "--psm", "7", "-c", "tessedit_char_whitelist=0123456789"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        read[name] = "".join(result.stdout.split())
    return read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captchas", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--readers", default="digits,string,both")
    parser.add_argument("--keep", type=Path, help="keep the captchas in this folder")
    parser.add_argument("--model", type=Path, help="model folder for formreader (default: bundled)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="captchas-"))
    folder.mkdir(parents=True, exist_ok=True)
    truth = make_captchas(folder, args.captchas, args.seed)
    names = sorted(truth)
    readers = args.readers.split(",") + (["tesseract"] if shutil.which("tesseract") else [])
    print(f"{len(names)} captchas of 4-6 digits (seed {args.seed})")
    print(f"{'reader':<10} {'exact':>7} {'chars':>7} {'captchas/s':>11}")
    for reader in readers:
        started = time.perf_counter()
        if reader == "tesseract":
            read = run_tesseract(folder, names)
        else:
            read = run_formreader(folder, names, reader, args.model)
        seconds = time.perf_counter() - started
        exact = sum(read.get(n) == truth[n] for n in names) / len(names)
        errors = sum(edit_distance(read.get(n, ""), truth[n]) for n in names)
        chars = 1 - errors / sum(len(t) for t in truth.values())
        print(f"{reader:<10} {exact:>7.3f} {chars:>7.3f} {len(names) / seconds:>11.1f}")
    if not args.keep:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
