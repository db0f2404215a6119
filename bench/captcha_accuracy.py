"""Numeric captchas read by `formreader read` next to Tesseract: exact and character accuracy.

The captchas come from the `captcha` library (``pip install ".[bench]"``), whose
``ImageCaptcha`` draws each character in its own font (Droid Sans Mono, which no formreader
model was trained on), turned, warped and squeezed together, in colour, with a noise curve and
dots: the kind of numeric captcha found on real sites. Every image is read once per reader,
each reader as one ``formreader read`` command over all images; Tesseract 5 (``--psm 7``,
digit whitelist) reads the same files in the same run. With ``--mnist``, dotted captchas
(:func:`formreader.synth.make_dotted`: MNIST test digits drawn as dots) are read as well.

    python bench/captcha_accuracy.py --captchas 300 --mnist ../shared/data/mnist.npz
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

import cv2
import numpy as np
from scan_accuracy import edit_distance

from formreader import synth


class _Seeded:
    """What ``ImageCaptcha`` asks of :mod:`secrets`, from a seeded generator (repeatable)."""

    def __init__(self, rng: random.Random):
        self.randbelow = rng.randrange
        self.randbits = rng.getrandbits
        self.choice = rng.choice


def make_captchas(folder: Path, n: int, seed: int) -> dict[str, str]:
    """``n`` captchas of 4-6 digits in ``folder``, 160-240 px wide; file name -> digits."""
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
    write_labels(folder, truth)
    return truth


def make_dotted(folder: Path, n: int, seed: int, mnist: Path) -> dict[str, str]:
    """``n`` dotted captchas of MNIST test digits in ``folder``; file name -> digits."""
    pool = synth.DigitPool.from_npz(mnist, "test")
    truth = {}
    for i in range(n):
        strip = synth.make_dotted(pool, np.random.default_rng([seed, i]))
        name = f"dotted_{i:04d}.png"
        cv2.imwrite(str(folder / name), strip.image)
        truth[name] = strip.fields[0].text
    write_labels(folder, truth)
    return truth


def write_labels(folder: Path, truth: dict[str, str]) -> None:
    """``labels.csv`` (the format of ``train --data``) of the captchas in ``folder``."""
    rows = "".join(f"{name},{text}\n" for name, text in truth.items())
    (folder / "labels.csv").write_text("file,label\n" + rows)


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
    parser.add_argument("--mnist", type=Path, help="MNIST .npz: also read dotted captchas")
    parser.add_argument("--keep", type=Path, help="keep the captchas in this folder")
    parser.add_argument("--model", type=Path, help="model folder for formreader (default: bundled)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="captchas-"))
    kinds = {"captcha": lambda f: make_captchas(f, args.captchas, args.seed)}
    if args.mnist:
        kinds["dotted"] = lambda f: make_dotted(f, args.captchas, args.seed, args.mnist)
    readers = args.readers.split(",") + (["tesseract"] if shutil.which("tesseract") else [])
    print(f"{args.captchas} captchas of each kind, 4-6 digits (seed {args.seed})")
    print(f"{'kind':<8} {'reader':<10} {'exact':>7} {'chars':>7} {'captchas/s':>11}")
    for kind, make in kinds.items():
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        truth = make(folder)
        names = sorted(truth)
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
            rate = len(names) / seconds
            print(f"{kind:<8} {reader:<10} {exact:>7.3f} {chars:>7.3f} {rate:>11.1f}")
    if not args.keep:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
