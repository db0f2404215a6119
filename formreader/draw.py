"""`formreader draw`: draw digits with the mouse and watch the model read them as you draw.

A Tkinter window (no GUI toolkit beyond Python's own). Every stroke is drawn twice: on the Tk
canvas for the eye, and with OpenCV into a paper-like array (black ink on white) that goes
through the same normalisation and models as ``scan``. Each reading is also printed on stdout
(``prediction: 7 0.99``), which keeps the window scriptable.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from formreader.exceptions import BlankImageError, DisplayError
from formreader.normalize import normalize_digit
from formreader.pipeline import Readers, read_image

TITLE = "formreader draw"
#: Canvas side in pixels: ten times MNIST's 28, so a pen of this width writes like MNIST's ink.
CANVAS_SIZE = 280
PEN_WIDTH = 18
#: Width of the probability bars at 100 %.
BAR_WIDTH = 160
TOP = 3
#: How often the window looks for a finished reading, in milliseconds.
POLL_MS = 15


class DrawWindow:
    """The window: canvas, the reading, top-3 bars, string mode, clear and save.

    The models read in a worker thread, one drawing at a time, so the pen keeps drawing while
    they work: every change of the drawing bumps ``version``; a reading is shown only if the
    drawing has not changed since, and the newest drawing is read next.
    """

    def __init__(self, root, readers: Readers, save_dir: Path | None, echo=print):
        import tkinter as tk

        self.root, self.readers, self.save_dir, self.echo = root, readers, save_dir, echo
        self.paper = np.full((CANVAS_SIZE, CANVAS_SIZE), 255, np.uint8)
        self.last: tuple[int, int] | None = None
        self.text = ""
        self.label: str | None = None
        self.version = self.shown = 0
        self.worker: threading.Thread | None = None
        self.results: queue.Queue = queue.Queue()
        self.save_when_read = False
        root.title(TITLE)
        self.canvas = tk.Canvas(
            root, width=CANVAS_SIZE, height=CANVAS_SIZE, bg="white", highlightthickness=0
        )
        self.canvas.grid(row=0, column=0, rowspan=8)
        self.canvas.bind("<ButtonPress-1>", self._pen_down)
        self.canvas.bind("<B1-Motion>", self._pen_move)
        self.canvas.bind("<ButtonRelease-1>", self._pen_up)
        self.reading = tk.Label(root, text="draw a digit", font=("Helvetica", 28), width=10)
        self.reading.grid(row=0, column=1, columnspan=2, padx=8)
        self.bars = tk.Canvas(root, width=BAR_WIDTH + 140, height=24 * TOP, highlightthickness=0)
        self.bars.grid(row=1, column=1, columnspan=2, padx=8)
        self.string_mode = tk.BooleanVar(value=False)
        tk.Checkbutton(
            root,
            text="digit string (scan segmenter), t",
            variable=self.string_mode,
            command=self.predict,
        ).grid(row=2, column=1, columnspan=2, sticky="w", padx=8)
        self.status = tk.Label(root, text="c: clear   t: string   0-9: label   s: save", anchor="w")
        self.status.grid(row=3, column=1, columnspan=2, sticky="we", padx=8)
        tk.Button(root, text="Clear (c)", command=self.clear).grid(row=4, column=1, padx=8)
        save = tk.Button(root, text="Save (s)", command=self.save)
        save.grid(row=4, column=2, padx=8)
        if save_dir is None:
            save.configure(state="disabled")
        root.bind("<Key-c>", lambda _: self.clear())
        root.bind("<Key-t>", lambda _: self.toggle_string_mode())
        root.bind("<Key-s>", lambda _: self.save())
        for digit in "0123456789":
            root.bind(f"<Key-{digit}>", lambda _, d=digit: self.set_label(d))

    # ---- drawing ---------------------------------------------------------------------------
    def _pen_down(self, event) -> None:
        self.last = (event.x, event.y)
        self._line(event.x, event.y)

    def _pen_move(self, event) -> None:
        self._line(event.x, event.y)

    def _pen_up(self, event) -> None:
        self._line(event.x, event.y)
        self.last = None
        self.predict()

    def _line(self, x: int, y: int) -> None:
        x0, y0 = self.last or (x, y)
        self.canvas.create_line(
            x0, y0, x, y, width=PEN_WIDTH, capstyle="round", joinstyle="round", fill="black"
        )
        cv2.line(self.paper, (x0, y0), (x, y), 0, PEN_WIDTH, cv2.LINE_AA)
        self.last = (x, y)

    # ---- reading ---------------------------------------------------------------------------
    def predict(self) -> None:
        """Read the drawing as it is now (in the background) and show the reading when done."""
        self.version += 1
        self._start_reading()

    def _start_reading(self) -> None:
        if self.worker is not None or self.shown == self.version:
            return
        paper, string_mode, version = self.paper.copy(), self.string_mode.get(), self.version

        def work() -> None:
            try:
                self.results.put((version, self._read(paper, string_mode)))
            except Exception as exc:  # shown on the main loop, which reports it
                self.results.put((version, exc))

        self.worker = threading.Thread(target=work, daemon=True)
        self.worker.start()
        self.root.after(POLL_MS, self._take_reading)

    def _read(self, paper: np.ndarray, string_mode: bool) -> list[tuple[str, float]] | None:
        """The top readings of one drawing, best first; None when it is blank."""
        try:
            if string_mode:
                reading = read_image(paper, self.readers)
                return [(reading.text, reading.confidence)]
            digit = normalize_digit(paper, ink_is_dark=True)
        except BlankImageError:
            return None
        probabilities = self.readers.classifier.predict(digit[None])[0]
        return [(str(d), float(probabilities[d])) for d in np.argsort(probabilities)[::-1][:TOP]]

    def _take_reading(self) -> None:
        """Show the worker's reading if the drawing is unchanged; then read the newest one."""
        try:
            version, ranked = self.results.get_nowait()
        except queue.Empty:
            self.root.after(POLL_MS, self._take_reading)
            return
        self.worker = None
        if isinstance(ranked, Exception):
            raise ranked
        if version == self.version:
            self.shown = version
            self._show(ranked)
            if self.save_when_read:
                self.save()
        self._start_reading()

    def _show(self, ranked: list[tuple[str, float]] | None) -> None:
        self.bars.delete("all")
        if ranked is None:
            self.text = ""
            self.reading.configure(text="draw a digit")
            return
        self.text, confidence = ranked[0]
        self.reading.configure(text=f"{self.text}  {confidence:.0%}")
        for row, (text, probability) in enumerate(ranked):
            y = 24 * row + 4
            self.bars.create_text(4, y + 8, text=text, anchor="w", font=("Helvetica", 12))
            self.bars.create_rectangle(70, y, 70 + BAR_WIDTH * probability, y + 16, fill="#4a7")
            self.bars.create_text(
                76 + BAR_WIDTH, y + 8, text=f"{probability:.1%}", anchor="w", font=("Helvetica", 10)
            )
        self.echo(f"prediction: {self.text} {confidence:.4f}")

    def toggle_string_mode(self) -> None:
        self.string_mode.set(not self.string_mode.get())
        self.predict()

    # ---- clear, label, save ----------------------------------------------------------------
    def clear(self) -> None:
        self.version += 1
        self.shown = self.version  # nothing to read; a reading in flight is dropped
        self.save_when_read = False
        self.canvas.delete("all")
        self.bars.delete("all")
        self.paper[:] = 255
        self.text, self.label = "", None
        self.reading.configure(text="draw a digit")
        self.status.configure(text="c: clear   t: string   0-9: label   s: save")

    def set_label(self, digit: str) -> None:
        """Confirm (or correct) the label the drawing is saved under."""
        self.label = digit
        self.status.configure(text=f"label {digit}: press s to save")

    def save(self) -> Path | None:
        """Write the drawing as PNG into ``save_dir/<label>/`` (label: confirmed or read).

        Without a confirmed label, a reading still in flight is waited for.
        """
        self.save_when_read = self.label is None and self.shown != self.version
        if self.save_when_read:
            return None
        label = self.label or (self.text if len(self.text) == 1 else None)
        if self.save_dir is None or label is None:
            why = "start with --save-dir" if self.save_dir is None else "type the digit (0-9) first"
            self.status.configure(text=why)
            self.echo(f"not saved: {why}")
            return None
        folder = self.save_dir / label
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"draw_{time.strftime('%Y%m%d_%H%M%S')}_{time.monotonic_ns() % 10**6}.png"
        ok, data = cv2.imencode(".png", self.paper)
        if ok:
            path.write_bytes(data.tobytes())
        self.status.configure(text=f"saved as {label}")
        self.echo(f"saved: {label} {path}")
        return path


def run_window(model_dir=None, save_dir=None, echo=print) -> None:
    """Open the window and run until it is closed."""
    try:
        import tkinter as tk

        root = tk.Tk()
    except ImportError as exc:
        raise DisplayError(f"Tkinter is not installed: {exc}") from None
    except tk.TclError as exc:
        raise DisplayError(f"cannot open a window: {exc}") from None
    readers = Readers.load(model_dir, "both")
    DrawWindow(root, readers, Path(save_dir) if save_dir else None, echo)
    root.mainloop()
