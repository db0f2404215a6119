"""formreader: read handwritten digits off scanned forms, photos and digit strips."""

__version__ = "0.1.0"
