"""Whole-file writes that a reader never sees half done: a temporary file beside the target,
then a rename. The temporary name is unique to the writer (two processes saving one cache
do not write into each other's file) and starts with a dot and ends in `.tmp`, the pattern
the engine's checks treat as leftovers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(path: Path | str, text: str) -> None:
    """Replace `path` with `text` (UTF-8), creating its folder; OSError when it cannot."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
