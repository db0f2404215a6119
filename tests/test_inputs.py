"""Inputs: every image flavour and PDF is decoded right; hostile and broken files give one
error row each while the good files of the same batch are still read (real CLI, real model)."""

import csv
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pages
import pytest
from click.testing import CliRunner
from conftest import REPO, write_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from formreader import synth
from formreader.cli import main
from formreader.exceptions import InputFileError
from formreader.io import decode_pages
from formreader.pipeline import Readers, scan_pages

ENCRYPTED_PDF = REPO / "tests" / "resources" / "encrypted.pdf"


@pytest.fixture(scope="module")
def pool(mnist_path):
    return synth.DigitPool.from_npz(mnist_path, "test")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header(width: int, height: int, colour_type: int = 2) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---- decoding: exact results on tiny images ---------------------------------------------------


def test_transparent_background_becomes_white_paper():
    rgba = np.zeros((20, 30, 4), np.uint8)  # transparent black everywhere
    rgba[5:10, 5:10] = (0, 0, 0, 255)  # an opaque black square
    (page,) = decode_pages(encode(Image.fromarray(rgba), "PNG"))
    assert page.shape == (20, 30, 3)
    assert (page[0, 0] == 255).all() and (page[7, 7] == 0).all()
    la = Image.fromarray(rgba).convert("LA")
    (page,) = decode_pages(encode(la, "PNG"))
    assert page[0, 0].min() == 255 and page[7, 7].max() == 0


def test_16_bit_gray_is_scaled_to_8_bit():
    pixels = np.zeros((10, 12), np.uint16)
    pixels[0, 0], pixels[0, 1] = 65535, 32896
    (page,) = decode_pages(encode(Image.fromarray(pixels), "PNG"))
    assert page.dtype == np.uint8 and page.shape == (10, 12)
    assert (page[0, 0], page[0, 1], page[5, 5]) == (255, 128, 0)


def test_palette_image_keeps_its_colours():
    image = Image.new("P", (10, 10), 0)
    image.putpalette([255, 255, 255, 255, 0, 0] + [0] * 762)  # 0 white, 1 red
    image.putpixel((3, 4), 1)
    (page,) = decode_pages(encode(image, "PNG"))
    assert tuple(page[4, 3]) == (0, 0, 255)  # BGR red
    assert tuple(page[0, 0]) == (255, 255, 255)


def test_cmyk_jpeg_is_converted():
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, 16:, 3] = 255  # right half full black
    (page,) = decode_pages(encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95))
    gray = page.mean(axis=2)
    assert gray[:, :12].min() > 225 and gray[:, 20:].max() < 30


def test_exif_orientation_is_applied():
    stored = np.full((20, 40), 255, np.uint8)  # 40 wide, 20 tall as stored
    stored[:5, :5] = 0  # dark block top left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(Image.fromarray(stored), "JPEG", exif=exif, quality=95)
    (page,) = decode_pages(data)
    assert page.shape[:2] == (40, 20)
    assert page[:5, -5:].mean() < 60 and page[-5:, :5].mean() > 200  # now top right


def test_multipage_tiff_gives_each_page():
    frames = [Image.new("L", (30 + 10 * i, 20), 255) for i in range(3)]
    data = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    assert [p.shape for p in decode_pages(data)] == [(20, 30), (20, 40), (20, 50)]


def test_pdf_pages_are_rendered_at_the_given_dpi():
    frames = [Image.new("L", (200, 100), 255), Image.new("L", (100, 100), 255)]
    data = encode(frames[0], "PDF", save_all=True, append_images=frames[1:], resolution=100)
    rendered = list(decode_pages(data, dpi=200))
    assert [p.shape[:2] for p in rendered] == [(200, 400), (200, 200)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not a readable image"),
        (png_header(1, 1), "too small"),
        (png_header(60_000, 60_000), "too large"),
        (png_header(12_000, 12_000), "too large"),
        (b"%PDF-1.4\n1 0 obj garbage", "not a readable PDF"),
        (ENCRYPTED_PDF.read_bytes(), "encrypted"),
    ],
)
def test_bad_data_raises_a_clear_error(data, message):
    with pytest.raises(InputFileError, match=message):
        list(decode_pages(data, "x"))


def test_pixel_limit_can_be_lowered():
    data = encode(Image.new("L", (100, 100), 255), "PNG")
    with pytest.raises(InputFileError, match="too large.*limit is 5,000"):
        list(decode_pages(data, max_pixels=5000))
    assert len(list(decode_pages(data, max_pixels=10_000))) == 1


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_bomb_is_refused_before_decoding():
    # A 12,000 x 12,000 RGB page would take 432 MB decoded; refusing it must cost almost nothing.
    # VmHWM is the peak resident memory of this process image (reset by exec, unlike maxrss).
    script = (
        "import re, sys\n"
        "from formreader.io import decode_pages\n"
        "try:\n"
        "    list(decode_pages(sys.stdin.buffer.read(), 'bomb'))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)\n"
    )
    for size in (12_000, 60_000):
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=png_header(size, size),
            capture_output=True,
            check=True,
        )
        lines = done.stdout.decode().splitlines()
        assert lines[0].startswith("InputFileError") and "too large" in lines[0]
        assert int(lines[1]) < 200, f"peak memory {lines[1]} MB"


def test_permission_denied_is_an_error_row(pool, tmp_path, monkeypatch):
    # Tests may run as root, who reads any file: the refusal is simulated at the read.
    single, fields = pages.single_page(pool, 0)
    write_image(tmp_path / "good.png", single)
    write_image(tmp_path / "locked.png", single)
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.png":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = CliRunner().invoke(main, ["scan", str(tmp_path), "--out", "-", "-q", "--workers", "1"])
    assert result.exit_code == 1
    good, locked = csv.DictReader(io.StringIO(result.stdout))
    assert good["text"] == fields[0][0]
    assert locked["status"] == "error" and "permission denied" in locked["message"]


# ---- end to end ------------------------------------------------------------------------------


def test_hostile_files_give_one_error_row_each_and_the_batch_goes_on(pool, tmp_path):
    single, single_fields = pages.single_page(pool, 0)
    strip, strip_fields = pages.strip_page(pool, 1)
    folder = tmp_path / "in box"
    (folder / "sub dir").mkdir(parents=True)
    good = write_image(folder / "Zählerstand 1.png", single)
    write_image(folder / "sub dir" / "strip é.jpg", strip)
    jpeg = write_image(tmp_path / "whole.jpg", strip).read_bytes()
    tiff = encode(Image.fromarray(strip), "TIFF")
    hostile = {
        "a_empty.png": (b"", "the file is empty"),
        "b_text.png": (b"hello, not an image", "not a readable image"),
        "c_truncated.png": (good.read_bytes()[:300], "damaged or truncated"),
        "d_truncated.jpg": (jpeg[: len(jpeg) // 2], "damaged or truncated"),
        "e_truncated.tif": (tiff[: len(tiff) // 2], "damaged or truncated"),
        "f_tiny.png": (encode(Image.new("L", (1, 1)), "PNG"), "too small"),
        "g_bomb.png": (png_header(60_000, 60_000), "too large"),
        "h_encrypted.pdf": (ENCRYPTED_PDF.read_bytes(), "encrypted"),
        "i_corrupt.pdf": (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj << /Type /Catalog", "not a readable PDF"),
    }
    for name, (data, _) in hostile.items():
        (folder / name).write_bytes(data)
    (folder / "j_folder.png").mkdir()
    hostile["j_folder.png"] = (None, "is a folder")
    (folder / ".hidden.png").write_bytes(b"")  # hidden files are skipped
    out = tmp_path / "results.csv"
    result = CliRunner().invoke(main, ["scan", str(folder), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    rows = read_rows(out)
    by_file = {}
    for row in rows:
        by_file.setdefault(Path(row["file"]).name, []).append(row)
    assert by_file["Zählerstand 1.png"][0]["text"] == single_fields[0][0]
    assert by_file["strip é.jpg"][0]["text"] == strip_fields[0][0]
    assert set(by_file) == {*hostile, "Zählerstand 1.png", "strip é.jpg"}
    for name, (_, message) in hostile.items():
        (row,) = by_file[name]
        assert row["status"] == "error" and row["text"] == "", row
        assert message in row["message"], row
        assert f"formreader: error: {row['message']}" in result.output
    assert "10 file(s) failed" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in box", "results.csv", "whole.jpg"]


def test_pdf_with_two_pages_is_read_page_by_page(pool, tmp_path):
    single, single_fields = pages.single_page(pool, 0)
    strip, strip_fields = pages.strip_page(pool, 1)
    frames = [Image.fromarray(single), Image.fromarray(strip)]
    path = tmp_path / "two pages.pdf"
    frames[0].save(path, "PDF", save_all=True, append_images=frames[1:], resolution=150)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["scan", str(path), "--out", str(out), "--dpi", "150"])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert [(r["page"], r["text"]) for r in rows] == [
        ("1", single_fields[0][0]),
        ("2", strip_fields[0][0]),
    ]


def test_multipage_tiff_is_read_page_by_page(pool, tmp_path):
    images = [pages.strip_page(pool, seed, text)[0] for seed, text in ((1, "730419"), (2, "2580"))]
    frames = [Image.fromarray(image) for image in images]
    path = tmp_path / "pages.tif"
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:])
    result = CliRunner().invoke(main, ["scan", str(path), "--out", "-", "-q"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["page"], r["text"]) for r in rows] == [("1", "730419"), ("2", "2580")]


def test_photo_with_exif_orientation_is_read_upright(pool, tmp_path):
    strip, fields = pages.strip_page(pool, 1)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(np.rot90(strip)).save(path, "JPEG", exif=exif, quality=92)
    result = CliRunner().invoke(main, ["read", str(path)])
    assert result.exit_code == 0
    assert next(csv.DictReader(io.StringIO(result.stdout)))["text"] == fields[0][0]


# ---- fuzzing ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_seeds(pool):
    strip = half_size(pages.strip_page(pool, 1)[0])
    image = Image.fromarray(strip)
    two = Image.fromarray(strip[:, ::-1].copy())
    return [
        encode(image, "PNG"),
        encode(image, "JPEG", quality=80),
        encode(image, "TIFF", save_all=True, append_images=[two]),
        encode(image, "BMP"),
        encode(image, "WEBP"),
        encode(image, "PDF", resolution=200),
    ]


def half_size(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[::2, ::2])


@pytest.fixture(scope="module")
def readers():
    return Readers.load()


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_files_never_crash_the_pipeline(fuzz_seeds, readers, data):
    blob = bytearray(data.draw(st.sampled_from(fuzz_seeds)))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)), max_size=8)
    )
    for position, value in flips:
        blob[position] = value
    cut = data.draw(st.integers(0, len(blob)))
    blob = bytes(blob[: cut or len(blob)])
    records = scan_pages(decode_pages(blob, "fuzz.bin", max_pixels=4_000_000), "fuzz", readers)
    assert records and all(r.status in ("ok", "review", "error") for r in records)
    assert all(r.message for r in records if r.status == "error")
