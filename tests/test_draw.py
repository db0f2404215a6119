"""`formreader draw` for real: the window on a virtual display (Xvfb), strokes of MNIST test
digits drawn with generated mouse events (xdotool), the reading it shows, saving, training."""

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner
from skimage.morphology import skeletonize

from formreader.cli import main
from formreader.draw import CANVAS_SIZE, TITLE

try:
    import tkinter  # noqa: F401

    HAS_TK = True
except ImportError:
    HAS_TK = False

#: Seconds the test waits for a line from the window before it fails instead of hanging.
LINE_TIMEOUT = 120

needs_x = pytest.mark.skipif(
    not (HAS_TK and shutil.which("Xvfb") and shutil.which("xdotool")),
    reason="needs Tkinter, Xvfb and xdotool (.ci/run installs the last two with apt)",
)


def strokes(digit: np.ndarray, scale: float, offset: int = 0) -> list[list[tuple[int, int]]]:
    """Pen paths (canvas pixels) along the skeleton of a 28x28 MNIST digit drawn ``scale``
    times larger, ``offset`` pixels from the canvas' left edge."""
    left = {tuple(p) for p in np.argwhere(skeletonize(digit > 100))}

    def neighbours(p):
        return [(p[0] + dy, p[1] + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]

    paths = []
    while left:
        ends = [p for p in sorted(left) if sum(q in left for q in neighbours(p)) <= 1]
        point = ends[0] if ends else min(left)
        path = [point]
        left.discard(point)
        while True:
            nxt = [q for q in neighbours(path[-1]) if q in left]
            if not nxt:
                break
            left.discard(nxt[0])
            path.append(nxt[0])
        paths.append(
            [(offset + round((x + 0.5) * scale), round((y + 0.5) * scale)) for y, x in path]
        )
    return paths


class Window:
    """`formreader draw` running on its own Xvfb display, driven by xdotool."""

    def __init__(self, tmp_path, save_dir):
        self.display = f":{90 + os.getpid() % 500}"
        self.xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "800x600x24"])
        self.env = {**os.environ, "DISPLAY": self.display}
        time.sleep(1.0)
        self.app = subprocess.Popen(
            [sys.executable, "-m", "formreader", "draw", "--save-dir", str(save_dir)],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._listen, daemon=True).start()
        self.window = self.xdotool("search", "--sync", "--name", TITLE).split()[0]

    def _listen(self) -> None:
        """Queue each line the window prints; None when it ends."""
        for line in self.app.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def xdotool(self, *args) -> str:
        out = subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        return out.stdout

    def draw(
        self, digit: np.ndarray, scale: float = CANVAS_SIZE / 28, left: int = 0, wait: bool = True
    ) -> str | None:
        """Draw the digit stroke by stroke; with ``wait``, wait for the window's reading after
        each stroke (as a person looks before the next) and return the last."""
        reading = None
        for path in strokes(digit, scale, left):
            (x, y), rest = path[0], path[1:]
            moves = [f"mousemove --window {self.window} {x} {y}", "mousedown 1"]
            # A pause after each move: Tk merges motion events that queue up.
            moves += [f"mousemove --window {self.window} {px} {py} sleep 0.01" for px, py in rest]
            self.xdotool(*" ".join([*moves, "mouseup 1"]).split())
            if wait:
                reading = self.read_until("prediction:")[-1].split()[1]
        return reading

    def key(self, name: str) -> None:
        self.xdotool("key", "--window", self.window, name)

    def read_until(self, prefix: str) -> list[str]:
        """Lines printed by the window up to the first starting with ``prefix``."""
        lines = []
        while True:
            try:
                line = self.lines.get(timeout=LINE_TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} in {LINE_TIMEOUT} s: {lines}") from None
            assert line is not None, f"the window ended before printing {prefix!r}: {lines}"
            lines.append(line)
            if line.startswith(prefix):
                return lines

    def close(self) -> None:
        self.app.terminate()
        self.xvfb.terminate()
        self.app.wait(10)
        self.xvfb.wait(10)


@needs_x
def test_draw_reads_mnist_digits_drawn_with_the_mouse_saves_them_and_trains(mnist_test, tmp_path):
    images, labels = mnist_test
    picks = [int(i) for d in (7, 2) for i in np.flatnonzero(labels == d)[:3]]
    save_dir = tmp_path / "drawn"
    window = Window(tmp_path, save_dir)
    try:
        for index in picks:
            window.key("c")
            assert window.draw(images[index]) == str(labels[index])
            window.key(str(labels[index]))  # confirm the label
            window.key("s")
            saved = window.read_until("saved:")
            assert len(saved) == 1 and saved[0].split()[1] == str(labels[index]), saved
        window.key("c")  # a two-digit number, read in string mode by the scan segmenter
        window.key("t")
        # Drawn without waiting: the pen goes on while the models read (in a worker thread);
        # readings of drawings that have changed since are dropped. Key s without a label
        # waits for the reading of the whole drawing, then says why it did not save.
        for k, i in enumerate(picks[:4:3]):
            window.draw(images[i], scale=5, left=10 + 130 * k, wait=False)
        window.key("s")
        lines = window.read_until("not saved:")
        assert lines[-1] == "not saved: type the digit (0-9) first", lines
        shown = [line.split()[1] for line in lines if line.startswith("prediction:")]
        assert shown and shown[-1] == "72", lines
    finally:
        window.close()
    saved = sorted(p.relative_to(save_dir).parts[0] for p in save_dir.glob("*/*.png"))
    assert saved == ["2", "2", "2", "7", "7", "7"]
    out = tmp_path / "model"
    result = CliRunner().invoke(
        main, ["train", "--data", str(save_dir), "--no-mnist", "--epochs", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    trained, held = re.search(r"(\d+) digits to train on, (\d+) held out", result.output).groups()
    assert int(trained) + int(held) == 6
    assert (out / "digits.tflite").is_file()


def test_draw_without_a_display_says_so(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    result = CliRunner().invoke(main, ["draw"])
    assert result.exit_code == 2
    assert "cannot open a window" in result.output and "formreader read" in result.output
