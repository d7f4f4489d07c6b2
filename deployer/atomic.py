"""Whole-file writes that a reader never sees half done: a temporary file beside the target,
then a rename. The temporary name is unique to the writer (two processes saving one cache
do not write into each other's file) and starts with a dot and ends in `.tmp`, the pattern
the engine's checks treat as leftovers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _temporary(path: Path) -> tuple[str, str]:
    return f".{path.name}.", ".tmp"  # (prefix, suffix) of write_text's temporary files


def write_text(path: Path | str, text: str) -> None:
    """Replace `path` with `text` (UTF-8), creating its folder; OSError when it cannot."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = _temporary(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
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


def is_temporary(name: str) -> bool:
    """Whether a file name has the temporary pattern: write_text's, and the local stages'
    uploads (`.<name>.<pid>.tmp`), which listings skip."""
    return name.startswith(".") and name.endswith(".tmp")


def leftovers(path: Path) -> list[Path]:
    """Temporary files of write_text(path) that a killed writer left behind; only the holder
    of a lock on `path` may remove them (another writer's may be in progress)."""
    prefix, suffix = _temporary(path)
    return list(path.parent.glob(f"{prefix}*{suffix}"))
