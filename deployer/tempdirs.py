"""Temporary folders named after the process that owns them.

A process killed with SIGKILL cannot clean up, so each folder carries its owner's pid
(`deployer-engine-1234-abcd`); the next run sweeps the folders whose owner is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

_OURS = re.compile(r"deployer-[a-z]+-(\d+)-")


def make(kind: str) -> Path:
    """A new folder `deployer-<kind>-<pid>-XXXX` in the system's temp folder."""
    return Path(tempfile.mkdtemp(prefix=f"deployer-{kind}-{os.getpid()}-"))


@contextlib.contextmanager
def folder(kind: str):
    """Like tempfile.TemporaryDirectory: yields the folder's path as a string."""
    path = make(kind)
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def sweep(root: str | None = None) -> list[Path]:
    """Remove our folders left by processes that no longer exist; returns what went."""
    root = root or tempfile.gettempdir()
    gone = []
    try:
        names = os.listdir(root)
    except OSError:
        return gone
    uid = os.getuid() if hasattr(os, "getuid") else None
    for name in names:
        found = _OURS.match(name)
        if not found or _alive(int(found.group(1))):
            continue
        path = Path(root) / name
        try:
            if uid is not None and path.lstat().st_uid != uid:
                continue  # never another user's folder
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        gone.append(path)
    return gone
