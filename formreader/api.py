"""The Python API: ``formreader.scan`` and ``formreader.read`` (the CLI is a layer over it).

Example
-------
>>> import formreader
>>> for record in formreader.scan(["scans/"]):  # doctest: +SKIP
...     print(record.file, record.page, record.field, record.text, record.status)
>>> formreader.read("amount.png").text  # doctest: +SKIP
'1250'
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from formreader.io import MAX_PIXELS, PDF_DPI, find_inputs, load_image
from formreader.pipeline import REVIEW_BELOW, FieldReading, Readers, Record, ScanItem, read_image
from formreader.pipeline import scan as _scan_items
from formreader.template import Template, load_template

#: What :func:`scan` accepts per input: a file or folder path, a page as an array (uint8 gray
#: or BGR), or a ``(path or array, name)`` pair that sets the name used in the records.
Input = str | os.PathLike | np.ndarray | tuple[str | os.PathLike | np.ndarray, str]


def _items(inputs: Iterable[Input]) -> list[ScanItem]:
    items: list[ScanItem] = []
    for number, item in enumerate(inputs, start=1):
        if isinstance(item, tuple):
            source, name = item
            items.append((source if isinstance(source, np.ndarray) else Path(source), name))
        elif isinstance(item, np.ndarray):
            items.append((item, f"<array {number}>"))
        else:
            items.extend(find_inputs([item]))
    return items


@functools.lru_cache(maxsize=4)
def _readers(model: str | None, reader: str) -> Readers:
    return Readers.load(model, reader)


def iter_scan(
    inputs: Iterable[Input],
    *,
    model: str | os.PathLike | None = None,
    reader: str = "both",
    review_below: float = REVIEW_BELOW,
    workers: int = 1,
    max_pixels: int = MAX_PIXELS,
    dpi: int = PDF_DPI,
    debug_dir: str | os.PathLike | None = None,
    export_dir: str | os.PathLike | None = None,
    template: str | os.PathLike | Template | None = None,
    client=None,
    files_per_task: int | None = None,
) -> Iterator[list[Record]]:
    """Read every input and yield its records, one list per input file or array, in order.

    The models and the template are loaded before this returns, so a bad ``model`` or
    ``template`` raises :class:`~formreader.exceptions.ModelError` /
    :class:`~formreader.exceptions.TemplateError` here and not half-way through a batch. See
    :func:`scan` for the parameters.
    """
    model = None if model is None else str(model)
    readers = _readers(model, reader)
    if template is not None and not isinstance(template, Template):
        template = load_template(template)
    options = dict(
        review_below=review_below,
        max_pixels=max_pixels,
        dpi=dpi,
        debug_dir=debug_dir,
        export_dir=export_dir,
        template=template,
    )
    if client is not None:
        from formreader.cluster import FILES_PER_TASK, scan_on_cluster

        batch = files_per_task or FILES_PER_TASK
        return scan_on_cluster(_items(inputs), client, model, reader, batch, **options)
    return _scan_items(_items(inputs), readers, model_dir=model, workers=workers, **options)


def scan(inputs: Iterable[Input], **options) -> list[Record]:
    """Find and read the handwritten digit fields of images, PDFs, folders or arrays.

    Parameters
    ----------
    inputs : iterable of path, array or (path or array, name)
        Files (PNG, JPEG, TIFF, BMP, WebP, PDF), folders (searched recursively) and pages
        already in memory (uint8 gray or BGR arrays).
    model : path-like, optional
        A model folder from ``formreader train``; default: the bundled models.
    reader : {'both', 'digits', 'string'}
        Which readers read each field.
    review_below : float
        Fields whose lowest digit confidence is below this get status ``review``.
    workers : int
        Read files in this many processes.
    client : dask.distributed.Client, optional
        Read the files on this Dask cluster instead (models loaded once per worker thread);
        the workers must see the input paths. ``workers`` is then ignored.
    files_per_task : int, optional
        With ``client``: files per Dask task (default
        :data:`formreader.cluster.FILES_PER_TASK`); more for clusters of many workers.
    max_pixels : int
        Pages larger than this are refused before they are decoded.
    dpi : int
        Resolution PDF pages are rendered at.
    debug_dir, export_dir : path-like, optional
        Write overlay PNGs / digit crops for review there.
    template : path-like or Template, optional
        A form template (see :mod:`formreader.template`): every page is registered to it and
        each named field gets one record with ``field`` = its name.

    Returns
    -------
    list of Record
        One per field found (``status`` ``ok`` or ``review``), one ``review`` record per page
        without digits, one ``error`` record per file or page that could not be read. Nothing
        is raised for bad inputs.
    """
    return [record for records in iter_scan(inputs, **options) for record in records]


def read(
    image: str | os.PathLike | np.ndarray,
    *,
    model: str | os.PathLike | None = None,
    reader: str = "both",
) -> FieldReading:
    """Read one digit or one digit string from an image file or array.

    Returns
    -------
    FieldReading
        ``text``, ``digit_confidences``, ``confidence`` (the lowest), ``box`` and ``doubt``
        (why it needs a human look, if the readers disagree).

    Raises
    ------
    InputFileError
        When the file cannot be read.
    BlankImageError
        When no handwritten digit is found.
    """
    page = image if isinstance(image, np.ndarray) else load_image(image)
    return read_image(page, _readers(None if model is None else str(model), reader))
