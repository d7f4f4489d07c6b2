"""One writer per account folder: a file lock held for the session's lifetime.

The OS frees it when the process dies, so a killed apply never leaves it behind. Beside it,
`.lock.holder` says who holds it, so a second writer is told who and since when, in the
same words as the Snowflake target's lock (deployer.lock).

On POSIX the lock is flock(2) on `.lock`, as the filelock package takes it (the two agree
on the same file), without importing that package into every command; elsewhere filelock.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from deployer.errors import SQLError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class _Timeout(Exception):
    pass


class _FlockLock:
    """An exclusive flock(2) on a file, polled until a timeout."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout: float, poll: float = 0.05) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout if timeout >= 0 else float("inf")  # negative: wait, as filelock
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held by another open file: wait
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise _Timeout from None
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
                continue
            self._fd = fd
            return

    @property
    def is_locked(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def _take(path: str, timeout: float):
    if fcntl is not None:
        held = _FlockLock(path)
        try:
            held.acquire(timeout)
        except _Timeout:
            return None
        return held
    from filelock import FileLock, Timeout

    held = FileLock(path)
    try:
        held.acquire(timeout=timeout)
    except Timeout:
        return None
    return held


def acquire(folder: Path, timeout: float, command: str = "session"):
    """The folder's lock, held (release() frees it), or SQLError naming its holder."""
    from deployer.lock import describe_holder, holder_record

    lock = _take(str(folder / ".lock"), timeout)
    holder = folder / ".lock.holder"
    if lock is None:
        try:
            record = json.loads(holder.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        raise SQLError(
            f"the local account at {folder} is locked: {describe_holder(record)} holds it; waited "
            f"{timeout:g} s for {folder / '.lock'}. Wait for it to finish and retry.") from None
    try:
        holder.write_text(json.dumps(holder_record(command)), encoding="utf-8")
    except OSError:
        pass  # the record only improves the message
    return lock
