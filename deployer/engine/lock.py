"""One writer per account folder: a file lock held for the session's lifetime.

The OS frees it when the process dies, so a killed apply never leaves it behind. Beside it,
`.lock.holder` says who holds it, so a second writer is told who and since when, in the
same words as the Snowflake target's lock (deployer.lock).
"""

from __future__ import annotations

import json
from pathlib import Path

from filelock import FileLock, Timeout

from deployer.errors import SQLError


def acquire(folder: Path, timeout: float, command: str = "session") -> FileLock:
    from deployer.lock import describe_holder, holder_record

    lock = FileLock(str(folder / ".lock"))
    holder = folder / ".lock.holder"
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
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
