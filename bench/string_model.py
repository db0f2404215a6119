"""The string model on its own: exact accuracy on generated strings, and strips per second.

Strings are made by ``formreader.synth.make_string`` from MNIST *test* digits (the model was
trained on strings of training digits), normalised with ``normalize_strip`` and read by the
exported model through LiteRT, exactly as ``scan`` and ``read`` do.

    python bench/string_model.py --mnist ../shared/data/mnist.npz --strings 1000

``--hands ../shared/data/cvl/valid`` writes them with other writers' digits instead.
Prints exact-string accuracy by length (1-10 digits) as ``scan`` reads them (the vote of each
strip's views, see ``formreader.classify.views``) and of one reading per strip, then strips/s at
batch 64 for the model alone (one reading), with the vote, and with normalisation and the vote,
on 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from formreader import synth
from formreader.classify import CHUNK, StringReader
from formreader.normalize import normalize_strips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--strings", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--model", help="model folder (default: bundled)")
    parser.add_argument(
        "--hands",
        help="write the strings with these digits instead of MNIST test digits: a folder of "
        "digit sub-folders 0-9, e.g. ../shared/data/cvl/valid (other writers)",
    )
    args = parser.parse_args()
    if args.hands:
        pool = synth.DigitPool.from_folder(args.hands)
    else:
        pool = synth.DigitPool.from_npz(args.mnist, "test")
    pages = [
        synth.make_string(pool, np.random.default_rng([args.seed, i])) for i in range(args.strings)
    ]
    images = [p.image for p in pages]
    truth = [p.fields[0].text for p in pages]
    reader = StringReader(args.model, threads=2)
    strips = normalize_strips(images)
    right = np.array([r.text == t for r, t in zip(reader.read(strips), truth, strict=True)])
    once = np.array(
        [r.text == t for r, t in zip(reader.read(strips, vote=False), truth, strict=True)]
    )
    lengths = np.array([len(t) for t in truth])
    print(f"exact strings: {right.mean():.3f} of {len(truth)}", end=" ")
    print(f"(one reading per strip: {once.mean():.3f})")
    for n in range(1, 11):
        if (lengths == n).any():
            print(f"  {n:>2} digits: {right[lengths == n].mean():.3f} ({(lengths == n).sum()})")
    batch = strips[:CHUNK]
    for threads in (1, 2):
        model = StringReader(args.model, threads=threads)
        model.read(batch)  # allocate tensors
        alone, voted = _rate(model, batch, vote=False), _rate(model, batch, vote=True)
        started = time.perf_counter()
        model.read(normalize_strips(images[: 4 * CHUNK]))
        with_norm = 4 * CHUNK / (time.perf_counter() - started)
        print(
            f"threads={threads}: {alone:,.0f} strips/s (model, batch {CHUNK}),"
            f" {voted:,.0f} with the vote, {with_norm:,.0f} with normalisation and the vote"
        )
    return 0


def _rate(model: StringReader, batch: np.ndarray, vote: bool, seconds: float = 3.0) -> float:
    """Strips per second of ``model.read(batch, vote)``, reading it again for ``seconds``."""
    started, calls = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        model.read(batch, vote=vote)
        calls += 1
    return calls * len(batch) / (time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
