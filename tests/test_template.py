"""Form templates: proposing one from a reference, registering scans and photos of filled copies
to it and reading the named fields (real CLI, real model, MNIST test digits)."""

import csv
import io
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_image

from formreader import synth
from formreader.cli import main
from formreader.pipeline import FieldReading, fit_to_checks
from formreader.template import TemplateField, propose_fields

NAMES = ["account", "amount", "code", "phone"]


@pytest.fixture(scope="module")
def pool(mnist_path):
    return synth.DigitPool.from_npz(mnist_path, "test")


@pytest.fixture(scope="module")
def form_and_template(tmp_path_factory):
    """A blank form, and the template `template init` proposes for it, fields renamed."""
    folder = tmp_path_factory.mktemp("form")
    form = synth.blank_form(np.random.default_rng(5))
    write_image(folder / "blank form.png", form.image)
    template = folder / "form.json"
    debug = folder / "debug"
    command = ["template", "init", str(folder / "blank form.png"), "--out", str(template)]
    result = CliRunner().invoke(main, [*command, "--debug-dir", str(debug)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in debug.iterdir()] == ["blank form_template.png"]
    spec = json.loads(template.read_text())
    assert spec["reference"] == "blank form.png"
    assert len(spec["fields"]) == len(form.zones)
    for entry, zone, name in zip(spec["fields"], form.zones, NAMES, strict=True):
        assert np.allclose(entry["box"], zone.box, atol=3), (entry, zone)
        entry["name"] = name
    spec["fields"][1]["length"] = form.zones[1].length
    spec["fields"][2]["pattern"] = "^[0-9]{3}$"
    template.write_text(json.dumps(spec))
    return form, template


def fill(form, pool, seed):
    rng = np.random.default_rng([7, seed])
    texts = ["".join(map(str, rng.integers(0, 10, zone.length))) for zone in form.zones]
    return synth.fill_form(form, pool, rng, texts), texts, rng


def scan(*args):
    result = CliRunner().invoke(main, ["scan", *map(str, args), "--workers", "1", "-q"])
    return result, list(csv.DictReader(io.StringIO(result.stdout)))


def test_scans_and_photos_of_the_form_are_read_field_by_field(form_and_template, pool, tmp_path):
    form, template = form_and_template
    truth = []
    for seed, photo in ((0, False), (1, False), (3, True)):
        page, texts, rng = fill(form, pool, seed)
        write_image(tmp_path / f"copy{seed}.png", synth.scan_copy(page, rng, photo=photo))
        truth += [(f"copy{seed}.png", name, text) for name, text in zip(NAMES, texts, strict=True)]
    other = synth.blank_form(np.random.default_rng(6))
    write_image(tmp_path / "other.png", fill(other, pool, 4)[0])
    result, rows = scan(tmp_path, "--template", template, "--out", "-")
    assert result.exit_code == 1  # the other form
    got = [(r["file"].rsplit("/", 1)[-1], r["field"], r["text"]) for r in rows[:-1]]
    assert got == truth
    assert all(r["status"] in ("ok", "review") for r in rows[:-1])
    last = rows[-1]
    assert last["file"].endswith("other.png") and last["status"] == "error"
    assert "does not match the template" in last["message"]


def test_wide_layout_and_field_checks(form_and_template, pool, tmp_path):
    form, template = form_and_template
    page, texts, rng = fill(form, pool, 0)
    write_image(tmp_path / "copy.png", synth.scan_copy(page, rng))
    spec = json.loads(template.read_text())
    spec["fields"][0]["length"] = len(texts[0]) + 1  # a check the reading must fail
    spec["reference"] = str(template.parent / spec["reference"])
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps(spec))
    options = ("--template", strict, "--out", "-", "--layout", "wide")
    result, rows = scan(tmp_path / "copy.png", *options)
    assert result.exit_code == 0
    (row,) = rows
    columns = ["file", "page"] + [c for n in NAMES for c in (n, f"{n}_confidence")]
    assert list(row) == [*columns, "status", "message"]
    assert [row[name] for name in NAMES] == texts
    assert all(0 < float(row[f"{name}_confidence"]) <= 1 for name in NAMES)
    assert row["status"] == "review"
    expected = f"account: expected {len(texts[0]) + 1} digits, read {len(texts[0])}"
    assert expected in row["message"]


def test_bad_templates_are_usage_errors(form_and_template, tmp_path):
    _, template = form_and_template
    page = write_image(tmp_path / "p.png", np.full((100, 100), 255, np.uint8))
    spec = json.loads(template.read_text())
    spec["reference"] = str(template.parent / spec["reference"])
    cases = {
        "not json {": "not valid JSON",
        json.dumps({**spec, "fields": [{"name": "a", "box": [0, 0, 10]}]}): "box must be",
        json.dumps({**spec, "fields": [{"name": "a", "box": [0, 0, 9999, 10]}]}): "not inside",
        json.dumps({**spec, "fields": spec["fields"][:1] * 2}): "unique",
        json.dumps({**spec, "reference": "missing.png"}): "reference image",
        json.dumps({**spec, "fields": [{**spec["fields"][0], "pattern": "("}]}): "not valid",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        result, _ = scan(page, "--template", bad, "--out", tmp_path / "r.csv")
        assert result.exit_code == 2 and message in result.output, (text, result.output)
    assert not (tmp_path / "r.csv").exists()
    result, _ = scan(page, "--layout", "wide", "--out", tmp_path / "r.csv")
    assert result.exit_code == 2 and "--layout wide needs --template" in result.output


def test_propose_fields_finds_boxes_combs_and_underlines():
    page = np.full((400, 600), 255, np.uint8)
    cv2.rectangle(page, (100, 50), (400, 110), 0, 1)  # a box
    cv2.rectangle(page, (100, 180), (340, 240), 0, 1)  # a comb: box with teeth
    for x in range(160, 340, 60):
        cv2.line(page, (x, 225), (x, 240), 0, 1)
    cv2.line(page, (100, 330), (500, 330), 0, 1)  # an underline
    fields = propose_fields(page)
    assert [f.name for f in fields] == ["field_1", "field_2", "field_3"]
    (x1, y1, w1, h1), (x2, y2, w2, h2), (x3, y3, w3, h3) = (f.box for f in fields)
    assert (x1, y1, w1, h1) == (100, 50, 301, 61)
    assert (x2, y2, w2, h2) == (100, 180, 241, 61)
    assert (x3, w3) == (100, 401) and y3 + h3 == 331 and h3 == 61  # as tall as the boxes


def test_field_checks():
    zone = TemplateField("amount", (0, 0, 10, 10), length=4, pattern="^[1-9][0-9]*$")
    assert zone.problems("1234") == ""
    assert zone.problems("0123") == "0123 does not match ^[1-9][0-9]*$"
    assert zone.problems("12") == "expected 4 digits, read 2"
    assert TemplateField("any", (0, 0, 10, 10)).problems("") == ""


def test_template_records_round_trip_for_resume_and_the_api(form_and_template, pool, tmp_path):
    import formreader

    form, template = form_and_template
    page, texts, rng = fill(form, pool, 1)
    scanned = synth.scan_copy(page, rng)
    path = write_image(tmp_path / "copy.png", scanned)
    out = tmp_path / "r.csv"
    scan(path, "--template", template, "--out", out)
    first = out.read_text()
    result, _ = scan(path, "--template", template, "--out", out, "--resume")
    assert result.exit_code == 0 and out.read_text() == first
    records = formreader.scan([scanned], template=template)
    assert [(r.field, r.text) for r in records] == list(zip(NAMES, texts, strict=True))


def test_a_field_check_picks_the_reading_that_fits_when_the_readers_disagree():
    zone = TemplateField("amount", (0, 0, 10, 10), length=5)
    digits = FieldReading("20328", [0.99] * 5, (0, 0, 5, 5))
    both = FieldReading("220328", [0.96] * 6, (0, 0, 6, 6), doubt="readers disagree", other=digits)
    picked = fit_to_checks(zone, both)
    assert (picked.text, picked.doubt) == ("20328", "readers disagree")
    assert fit_to_checks(TemplateField("any", (0, 0, 10, 10)), both) is both  # no check
    assert fit_to_checks(replace(zone, length=7), both) is both  # neither fits
