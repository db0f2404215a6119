"""Errors formreader reports to users, each with an exit code and a hint on how to fix it."""

from __future__ import annotations


class FormreaderError(Exception):
    """Base class: a problem the user can fix; ``hint`` says how."""

    exit_code = 1
    hint = ""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} ({self.hint})" if self.hint else message


class InputFileError(FormreaderError):
    """An input file could not be read or decoded as an image."""

    hint = "check that the file is a PNG, JPEG, TIFF, BMP, WebP or PDF file and is not damaged"


class BlankImageError(FormreaderError, ValueError):
    """An image (or a digit crop) holds no ink."""


class ModelError(FormreaderError):
    """The model file is missing, damaged or of the wrong kind."""

    exit_code = 3
    hint = "pass --model DIR with a model written by `formreader train`, or reinstall formreader"


class DataError(FormreaderError):
    """Training or evaluation data is missing or malformed."""

    exit_code = 2
    hint = "pass --mnist PATH to a local mnist.npz (Keras layout) or set $FORMREADER_MNIST"


class OutputError(FormreaderError):
    """An output file cannot be read back (``--resume``) or written."""

    exit_code = 2
    hint = "pass another --out, or drop --resume to start the output afresh"


class TemplateError(FormreaderError):
    """A form template file is missing, malformed or does not fit its reference image."""

    exit_code = 2
    hint = "see 'Form templates' in the README; `formreader template init` writes a valid one"


class ClusterError(FormreaderError):
    """The Dask scheduler cannot be reached, or Dask is not installed."""

    exit_code = 2
    hint = (
        'install the extra (pip install "formreader[dask]"), start a scheduler with `dask '
        "scheduler` and workers with `dask worker tcp://HOST:8786`, or use --scheduler local"
    )


class DisplayError(FormreaderError):
    """A window cannot be opened: no display, or no Tkinter."""

    exit_code = 2
    hint = "set DISPLAY (or run under Xvfb), or read image files with `formreader read IMAGE`"
