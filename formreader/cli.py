"""Command line: a thin click layer over the Python API. Heavy modules load inside commands."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

import click

from formreader.exceptions import FormreaderError

log = logging.getLogger("formreader")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@contextlib.contextmanager
def _stop_requests():
    """Within: Ctrl-C (SIGINT) or SIGTERM sets the event yielded, for the batch to stop after
    the file in hand; a second one raises ``KeyboardInterrupt`` at once.

    A ``KeyboardInterrupt`` raised wherever Python happens to be is lost when that is a
    destructor (a Dask future's: "Exception ignored in"), and the batch would run on.
    SIGINT ignored when the scan started (a background job) stays ignored.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # signals go to the main one
        yield stop
        return

    def request(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signals = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signals.append(signal.SIGINT)
    previous = {signum: signal.signal(signum, request) for signum in signals}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _fail(exc: FormreaderError):
    click.echo(f"formreader: error: {exc}", err=True)
    sys.exit(exc.exit_code)


_reader_option = click.option(
    "--reader",
    type=click.Choice(["digits", "string", "both"]),
    default="both",
    show_default=True,
    help="Read fields by cutting them into digits, whole with the string model, or both "
    "(fields the two read differently are flagged 'review' with both readings).",
)


@click.group(
    epilog="""\b
Examples:
  formreader scan ./scans --out results.csv
  formreader template init blank_form.png --out form.json
  formreader scan ./scans --template form.json --layout wide --out forms.csv
  formreader read digit.png strip.jpg
  formreader draw --save-dir my-digits/
  formreader train --mnist mnist.npz --out models/my-model
  formreader eval --mnist mnist.npz"""
)
@click.version_option(package_name="formreader")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False),
    help="Also write the log (at debug level, with tracebacks of failed files) to this file.",
)
def main(verbose: bool, log_file: str | None) -> None:
    """Read handwritten digits off scanned forms, photos and digit strips."""
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    handlers: list[logging.Handler] = [console]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(
        level=logging.DEBUG if log_file else console.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if log_file else None,
        handlers=handlers,
        force=True,
    )
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Output file ('-' for stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="Output format [default: jsonl for *.jsonl files, else csv].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the files already in --out and read only the others (after an interrupted run).",
)
@click.option(
    "--model",
    type=click.Path(exists=True, file_okay=False),
    help="Model folder from `formreader train` (default: the bundled model).",
)
@click.option(
    "--review-below",
    type=click.FloatRange(0, 1),
    default=0.8,
    show_default=True,
    help="Flag fields whose lowest digit confidence is below this as 'review'.",
)
@click.option(
    "--dpi",
    type=click.IntRange(36, 1200),
    default=200,
    show_default=True,
    help="Resolution PDF pages are rendered at.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=100_000_000,
    show_default=True,
    help="Refuse pages larger than this before decoding them (decompression bombs).",
)
@click.option(
    "--debug-dir",
    type=click.Path(file_okay=False),
    help="Write an overlay PNG per page with the fields found and their text.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=os.cpu_count() or 1,
    show_default="number of cores",
    help="Read files in this many parallel processes (output order does not change).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Read the files on a Dask cluster: a scheduler address (tcp://host:8786), or 'local' "
    'to start one here with --workers processes (needs pip install "formreader[dask]").',
)
@click.option(
    "--files-per-task",
    type=click.IntRange(1),
    help="With --scheduler: files per Dask task (default 4; see 'Scale out' in the README).",
)
@_reader_option
@click.option(
    "--export-crops",
    "export_dir",
    type=click.Path(file_okay=False),
    help="Write every digit crop into DIR/<predicted digit>/ and list them in DIR/crops.csv; "
    "move wrong ones to the right folder, then `formreader train --data DIR`.",
)
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False),
    help="Form template (JSON, see `formreader template init`): register every page to it and "
    "read its named fields.",
)
@click.option(
    "--layout",
    type=click.Choice(["long", "wide"]),
    default="long",
    show_default=True,
    help="With --template: one row per field (long) or one row per page with a column per "
    "field name and <name>_confidence (wide).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
def scan(inputs, out, fmt, resume, layout, quiet, **options):
    """Find and read the handwritten fields of every page in INPUTS (files or folders of
    PNG, JPEG, TIFF, BMP, WebP or PDF).

    \b
    Writes one row per field:
      file,page,field,text,confidence,digit_confidences,x,y,w,h,status,message
    (JSON Lines: one object per field with the same keys, digit_confidences a list).
    status is ok, review (check by eye) or error (the file or page could not be read).
    Exit code 0 when every file was read, 1 when some could not be, 2 for usage errors,
    130 when interrupted (the output keeps the files finished; rerun with --resume).
    \b
    Examples:
      formreader scan ./scans --out results.csv --debug-dir overlays/
      formreader scan in/ --format jsonl --out - | jq -r .text
      formreader scan /shared/scans --out results.csv --scheduler tcp://host:8786
    """
    from tqdm import tqdm

    from formreader.api import iter_scan
    from formreader.io import find_inputs
    from formreader.output import (
        RecordWriter,
        atomic_text,
        crop_rows,
        output_format,
        read_records,
        write_crops_csv,
    )
    from formreader.template import load_template

    fmt = output_format(out, fmt)
    if layout == "wide" and not options["template"]:
        raise click.UsageError("--layout wide needs --template")
    if layout == "wide" and resume:
        raise click.UsageError("--resume works with --layout long only")
    if options["template"] and options["export_dir"]:
        raise click.UsageError("--export-crops cannot be combined with --template yet")
    if options["template"]:
        try:
            options["template"] = load_template(options["template"])
        except FormreaderError as exc:
            _fail(exc)
    kept = []
    if resume:
        if out == "-":
            raise click.UsageError("--resume needs an --out file, not stdout")
        try:
            kept = read_records(out, fmt) if os.path.exists(out) else []
        except FormreaderError as exc:
            _fail(exc)
    files = find_inputs(list(inputs))
    if not files:
        raise click.UsageError("no image or PDF files found in the given inputs")
    done = {record.file for record in kept}
    todo = [(path, name) for path, name in files if name not in done]
    scheduler = options.pop("scheduler")
    if options["files_per_task"] and not scheduler:
        raise click.UsageError("--files-per-task needs --scheduler")
    with contextlib.ExitStack() as dask:
        try:
            if scheduler:
                from formreader.cluster import connect

                options["client"] = dask.enter_context(connect(scheduler, options["workers"]))
            batch = iter_scan(todo, **options)
        except FormreaderError as exc:
            _fail(exc)
        failed = fields = flagged = finished = 0
        crops: list[list] = []
        progress = tqdm(total=len(todo), unit="file", disable=quiet or not sys.stderr.isatty())
        interrupted = False
        with _stop_requests() as stop, atomic_text(out) as stream, contextlib.closing(batch):
            names = options["template"].names if options["template"] else None
            writer = RecordWriter(stream, fmt, layout, names)
            writer.write(kept)  # the files an earlier run finished (--resume)
            try:
                for records in batch:
                    writer.write(records)
                    crops += crop_rows(records)
                    errors = [r for r in records if r.status == "error"]
                    for record in errors:
                        click.echo(f"formreader: error: {record.message}", err=True)
                    failed += bool(errors)
                    fields += sum(r.status != "error" and r.field != 0 for r in records)
                    flagged += sum(r.status == "review" for r in records)
                    finished += 1
                    progress.update(1)
                    if stop.is_set():
                        interrupted = True
                        break
            except KeyboardInterrupt:
                interrupted = True
    progress.close()
    if options["export_dir"]:
        write_crops_csv(os.path.join(options["export_dir"], "crops.csv"), crops)
    skipped = f", {len(files) - len(todo)} already in {out}" if resume else ""
    if interrupted:
        click.echo(
            f"formreader: interrupted after {finished} of {len(todo)} file(s); {out} holds the"
            " files finished: rerun the same command with --resume to read the rest",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    if not quiet:
        click.echo(
            f"{finished} file(s){skipped}, {fields} field(s) read, {flagged} to review,"
            f" {failed} file(s) failed",
            err=True,
        )
    sys.exit(EXIT_SOME_FAILED if failed else EXIT_OK)


@main.group()
def template() -> None:
    """Form templates: named fields read at fixed places of a known form."""


@template.command("init")
@click.argument("reference", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Template file to write."
)
@click.option(
    "--debug-dir",
    type=click.Path(file_okay=False),
    help="Write the reference with the proposed fields drawn on it.",
)
def template_init(reference, out, debug_dir):
    """Propose a template from REFERENCE, an image of the form (blank or filled).

    \b
    Boxes, combs and underlines become fields named field_1, field_2, ... in reading order.
    Rename them in the JSON (and add "length" / "pattern" checks), then:
      formreader scan scans/ --template form.json --out results.csv
    \b
    Example:
      formreader template init blank_form.png --out form.json --debug-dir template-debug/
    """
    from pathlib import Path

    from formreader.io import load_image
    from formreader.overlay import save_overlay
    from formreader.pipeline import FieldReading
    from formreader.template import propose_fields, save_template

    try:
        image = load_image(reference)
    except FormreaderError as exc:
        _fail(exc)
    fields = propose_fields(image)
    if not fields:
        message = f"formreader: error: no boxes, combs or underlines found on {reference}"
        click.echo(message, err=True)
        sys.exit(EXIT_SOME_FAILED)
    save_template(out, reference, fields)
    if debug_dir:
        drawn = [FieldReading(f.name, [1.0], f.box) for f in fields]
        save_overlay(Path(debug_dir) / f"{Path(reference).stem}_template.png", image, drawn, 0.0)
    click.echo(f"{len(fields)} field(s) written to {out}; rename them there", err=True)


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option(
    "--model",
    type=click.Path(exists=True, file_okay=False),
    help="Model folder from `formreader train` (default: the bundled model).",
)
@_reader_option
def read(images, model, reader):
    """Read one digit or one digit string from each of IMAGES; CSV on stdout.

    \b
    Prints file,text,confidence (confidence = the lowest digit probability); images whose
    readers disagree are also named on stderr.
    Example:
      formreader read digit.png amount.jpg
    """
    import csv

    from formreader.io import load_image
    from formreader.pipeline import Readers, read_image

    try:
        readers = Readers.load(model, reader)
    except FormreaderError as exc:
        _fail(exc)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["file", "text", "confidence"])
    failed = False
    for name in images:
        try:
            reading = read_image(load_image(name), readers)
        except Exception as exc:  # one bad image must not stop the others
            log.debug("reading %s failed", name, exc_info=True)
            kind = "" if isinstance(exc, FormreaderError | ValueError) else "internal error: "
            where = "" if str(exc).startswith(name) else f"{name}: "
            click.echo(f"formreader: error: {where}{kind}{exc}", err=True)
            writer.writerow([name, "", ""])
            failed = True
            continue
        if reading.doubt:
            click.echo(f"formreader: review: {name}: {reading.doubt}", err=True)
        writer.writerow([name, reading.text, f"{reading.confidence:.4f}"])
    sys.exit(EXIT_SOME_FAILED if failed else EXIT_OK)


@main.command()
@click.option(
    "--model",
    type=click.Path(exists=True, file_okay=False),
    help="Model folder from `formreader train` (default: the bundled model).",
)
@click.option(
    "--save-dir",
    type=click.Path(file_okay=False),
    help="Key s saves the drawing as PNG into SAVE_DIR/<digit>/ (the digit typed with 0-9, "
    "else the one read), ready for `formreader train --data SAVE_DIR`.",
)
def draw(model, save_dir):
    """Draw digits with the mouse and watch the model read them after every stroke.

    \b
    Shows the reading and the top 3 digits with their probabilities; tick "digit string" to
    read a whole number with the scan segmenter (or press t). Keys: c clears, 0-9 set the
    label, s saves.
    Each reading is also printed on stdout. Needs a display (Tkinter).
    Example:
      formreader draw --save-dir my-digits/
    """
    from formreader.draw import run_window

    try:
        run_window(model, save_dir, echo=click.echo)
    except FormreaderError as exc:
        _fail(exc)


@main.command()
@click.option(
    "--mnist",
    type=click.Path(exists=True, dir_okay=False),
    envvar="FORMREADER_MNIST",
    help="Local mnist.npz (Keras layout); default $FORMREADER_MNIST, else download.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the model, history.csv, curves.png and model_card.json.",
)
@click.option(
    "--epochs",
    type=click.IntRange(1),
    help="Maximum epochs (early stopping may end sooner).  [default: 36; gate: 10; crnn: 8]",
)
@click.option(
    "--arch",
    type=click.Choice(["cnn", "mlp", "gate", "crnn"]),
    default="cnn",
    show_default=True,
    help="Digit classifier (cnn, or the mlp baseline); the gate: the reject check that "
    "tells handwritten digits from print, rules and specks; or crnn: the string model that "
    "reads whole fields (gate and crnn are added to the --out folder).",
)
@click.option(
    "--data",
    type=click.Path(exists=True),
    help="Fine-tune on your own digits: digit folders 0/ ... 9/ (as --export-crops writes) "
    "or a CSV file,label of digit-string images.",
)
@click.option(
    "--from",
    "start_from",
    type=click.Path(exists=True, file_okay=False),
    help="With --data: model folder to start from (default: the bundled model). Without "
    "--data: continue training that folder's digit CNN (or with --arch crnn its string model).",
)
@click.option(
    "--no-mnist",
    is_flag=True,
    help="With --data: train a new CNN on your digits only (no MNIST replay).",
)
@click.option(
    "--continental",
    is_flag=True,
    help="Digit CNN or (--arch crnn) string model: write 40 % of MNIST's 1s and 7s the "
    "continental-European way (flagged 1s, crossed 7s). 3 epochs --from the bundled model: "
    "CVL valid 0.935 -> 0.951, MNIST test 0.9972 -> 0.996.",
)
@click.option(
    "--pages",
    type=click.IntRange(0),
    default=0,
    help="crnn: also train on the strips the pipeline cuts from N generated pages, form, "
    "photo and cheque amount in turn (fields as a scan hands them to the string model, rule "
    "remnants and all).",
)
@click.option(
    "--page-hands",
    type=click.Path(exists=True, file_okay=False),
    help="crnn with --pages: write half of the pages and 40 % of the synthetic strings with "
    "the digits of these folders 0/ ... 9/ (e.g. the crops `scan --export-crops` wrote, "
    "sorted) instead of MNIST's.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--limit",
    type=click.IntRange(100),
    help="Use only the first N training images (crnn: make N synthetic strings).",
)
def train(
    mnist,
    out_dir,
    epochs,
    arch,
    data,
    start_from,
    no_mnist,
    continental,
    pages,
    page_hands,
    seed,
    limit,
):
    """Train a digit model (or the gate) on MNIST and export it for `scan` and `read`.

    \b
    Writes the model (.keras and .tflite), history.csv, curves.png and model_card.json.
    Example:
      formreader train --mnist mnist.npz --out models/cnn --epochs 36 --seed 1
      formreader train --mnist mnist.npz --out models/cnn --arch gate
      formreader train --mnist mnist.npz --out models/cnn --arch crnn
      formreader train --data crops/ --mnist mnist.npz --out models/mine
      formreader scan pages/ --out results.csv --model models/cnn
    """
    from formreader.train import GATE_EPOCHS, train_gate
    from formreader.train import train as train_digits

    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    if continental and (data or arch in ("gate", "mlp")):
        raise click.UsageError(
            "--continental is for training the digit CNN or the string model on MNIST"
        )
    if pages and arch != "crnn":
        raise click.UsageError("--pages is for the string model (--arch crnn)")
    if page_hands and not pages:
        raise click.UsageError("--page-hands needs --pages N")
    if data:
        from formreader.retrain import retrain

        if arch != "cnn":
            raise click.UsageError(
                "--data fine-tunes the digit CNN (and the string model for string labels);"
                " leave out --arch"
            )
        try:
            result = retrain(
                data,
                out_dir,
                mnist,
                start_from=start_from,
                use_mnist=not no_mnist,
                epochs=epochs,
                seed=seed,
                echo=echo,
            )
        except FormreaderError as exc:
            _fail(exc)
        if result.strings:
            click.echo(f"held-out strings exact before={result.strings.before:.4f}")
            click.echo(f"held-out strings exact after={result.strings.after:.4f}")
        if result.user_after is not None:
            click.echo(f"held-out accuracy before={result.user_before:.4f}")
            click.echo(f"held-out accuracy after={result.user_after:.4f}")
        if result.mnist_after is not None:
            click.echo(f"MNIST test accuracy before={result.mnist_before:.4f}")
            click.echo(f"MNIST test accuracy after={result.mnist_after:.4f}")
        click.echo(f"wrote {result.out_dir}")
        return
    if start_from and arch in ("gate", "mlp"):
        raise click.UsageError(
            "--from continues the digit CNN or, with --arch crnn, the string model"
        )
    try:
        if arch == "crnn":
            from formreader.train_strings import STRING_SAMPLES, train_strings

            result = train_strings(
                out_dir,
                mnist,
                epochs=epochs or 8,
                samples=limit or STRING_SAMPLES,
                seed=seed,
                start_from=start_from,
                continental=continental,
                pages=pages,
                page_hands=page_hands,
                echo=echo,
            )
        elif arch == "gate":
            result = train_gate(
                out_dir, mnist, epochs=epochs or GATE_EPOCHS, seed=seed, limit=limit, echo=echo
            )
        else:
            result = train_digits(
                out_dir,
                mnist,
                arch=arch,
                epochs=epochs or 36,
                seed=seed,
                limit=limit,
                start_from=start_from,
                continental=continental,
                echo=echo,
            )
    except FormreaderError as exc:
        _fail(exc)
    what = "exact strings" if arch == "crnn" else "accuracy"
    click.echo(f"validation {what}={result.val_accuracy:.4f}")
    click.echo(f"test {what}={result.test_accuracy:.4f}")
    click.echo(f"wrote {result.out_dir}")


@main.command(name="eval")
@click.option(
    "--mnist",
    type=click.Path(exists=True, dir_okay=False),
    envvar="FORMREADER_MNIST",
    required=True,
    help="Local mnist.npz (Keras layout); default $FORMREADER_MNIST.",
)
@click.option(
    "--model",
    type=click.Path(exists=True, file_okay=False),
    help="Model folder from `formreader train` (default: the bundled model).",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="Save the confusion matrix as PNG.")
def evaluate_command(mnist, model, plot):
    """Evaluate a model on the MNIST test set; the last line is `accuracy=<float>`.

    \b
    Example:
      formreader eval --mnist mnist.npz --plot confusion.png
    """
    from formreader.evaluate import evaluate, plot_confusion

    try:
        evaluation = evaluate(mnist, model)
    except FormreaderError as exc:
        _fail(exc)
    if plot:
        plot_confusion(evaluation, plot)
    click.echo(evaluation.report())
