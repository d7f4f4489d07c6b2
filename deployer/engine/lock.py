"""One writer per account folder: a file lock held for the session's lifetime."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from deployer.errors import SQLError


def acquire(folder: Path, timeout: float) -> FileLock:
    lock = FileLock(str(folder / ".lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise SQLError(
            f"the local account at {folder} is in use by another process; waited {timeout:g} s "
            f"for its lock ({folder / '.lock'}). Close the other session and retry.") from None
    return lock
