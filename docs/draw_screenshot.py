"""Make docs/draw.png: `formreader draw` on a virtual display with an MNIST test digit drawn.

    python docs/draw_screenshot.py --mnist ../shared/data/mnist.npz

Needs Xvfb and xdotool; draws the way tests/test_draw.py does.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import ImageGrab

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_draw import Window  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True)
    parser.add_argument("--index", type=int, default=0, help="MNIST test digit to draw")
    parser.add_argument("--out", default=str(Path(__file__).with_name("draw.png")))
    args = parser.parse_args()
    with np.load(args.mnist) as data:
        digit = data["x_test"][args.index]
    with tempfile.TemporaryDirectory() as tmp:
        window = Window(Path(tmp), Path(tmp) / "saved")
        try:
            window.draw(digit)
            window.key("s")
            window.read_until("saved:")
            time.sleep(0.5)
            geometry = window.xdotool("getwindowgeometry", window.window)
            width, height = map(int, geometry.split("Geometry: ")[1].split()[0].split("x"))
            screen = ImageGrab.grab(xdisplay=window.display)
            screen.crop((0, 0, width, height)).save(args.out)
        finally:
            window.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
