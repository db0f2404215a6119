"""Cut training data for the bundled models out of generated pages, as the pipeline cuts them.

    python models/harvest_pages.py OUT.npz KINDS PAGES SEED [--mnist NPZ] [--hands DIR]
                                   [--crops DIR]

Pages of ``KINDS`` in turn (e.g. ``form,photo``), page ``i`` drawn from ``(SEED, i)`` with
MNIST training digits (40 % of the 1s and 7s continental, ``continental_forms`` of ``SEED``)
or, with ``--hands``, with the digits of DIR's folders ``0/ ... 9/``, are read by
:func:`formreader.pipeline.read_page` with the bundled models. For every reading whose box
matches one true field (``train_strings.matched_readings``): the strip the string model read, with
the field's digits; and, when the digit path cut as many pieces as the field has digits, each
piece's 28x28 crop with its true digit. ``OUT.npz`` holds ``x, text, read`` (strips, true and
read texts) and ``dx, dy, dread`` (crops, true and read digits); ``--crops DIR`` also writes the
crops as digit folders (dark on white PNGs) for ``formreader train --data DIR``. The nineteenth
session made the bundled models' last stages from these files (see models/README.md).
"""

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from formreader import pipeline, synth
from formreader.train import continental_forms, load_mnist
from formreader.train_strings import matched_readings


def main(argv: list[str]) -> None:
    out, kinds, count, seed = argv[0], argv[1].split(","), int(argv[2]), int(argv[3])
    options = dict(zip(argv[4::2], argv[5::2], strict=True))
    if "--hands" in options:
        pool = synth.DigitPool.from_folder(options["--hands"])
    else:
        (x, y), _ = load_mnist(options.get("--mnist", "../shared/data/mnist.npz"))
        pool = synth.DigitPool(continental_forms(x, y, seed), y)
    readers = pipeline.Readers.load(reader="both")
    strips, texts, reads, crops, digits, labels = [], [], [], [], [], []
    started = time.time()
    for i in range(count):
        page = synth.make_page(kinds[i % len(kinds)], pool, np.random.default_rng([seed, i]))
        for reading, truth in matched_readings(page, readers):
            if reading.strip is not None:
                strips.append(np.round(reading.strip * 255).astype(np.uint8))
                texts.append(truth.text)
                reads.append(reading.text)
            if len(reading.pieces) == len(truth.text):
                for piece, digit in zip(reading.pieces, truth.text, strict=True):
                    crops.append(np.round(piece.image * 255).astype(np.uint8))
                    digits.append(int(digit))
                    labels.append(piece.label)
        if i % 100 == 99:
            print(
                f"{i + 1} pages, {len(strips)} strips, {len(crops)} crops, "
                f"{time.time() - started:.0f}s",
                flush=True,
            )
    np.savez_compressed(
        out,
        x=np.array(strips, np.uint8).reshape(-1, 32, 256),
        text=np.array(texts),
        read=np.array(reads),
        dx=np.array(crops, np.uint8).reshape(-1, 28, 28),
        dy=np.array(digits, np.int64),
        dread=np.array(labels, np.int64),
    )
    if "--crops" in options:
        for n, (crop, digit) in enumerate(zip(crops, digits, strict=True)):
            folder = Path(options["--crops"]) / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{Path(out).stem}_{n:06d}.png"), 255 - crop)


if __name__ == "__main__":
    main(sys.argv[1:])
