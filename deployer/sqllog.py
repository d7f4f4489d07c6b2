"""`--log-sql FILE`: one JSON object per statement sent to a target, appended as it happens.

A wrapper around any session, so both targets log the same way: time, target, command,
statement (a PUT names its local file relative to the manifest), duration, rows, the query
id where the target has one, and the error when it failed.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from deployer.errors import DeployerError, SQLError
from deployer.session import Progress, Result, Session


class LoggedSession:
    def __init__(self, inner: Session, path: Path, *, target: str, command: str, root: Path):
        self._inner = inner
        self._target, self._command, self._root = target, command, root
        try:
            self._file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise DeployerError(f"{path}: cannot write the statement log: {exc.strerror}") from None

    def run(self, sql: str) -> Result:
        return self._logged(sql, lambda: self._inner.run(sql))

    def put(self, local_path: Path, stage_dir: str, *, overwrite: bool = True,
            progress: Progress | None = None) -> Result:
        shown = _relative(Path(local_path), self._root)
        statement = (f"PUT 'file://{shown}' {stage_dir}/ AUTO_COMPRESS = FALSE "
                     f"OVERWRITE = {'TRUE' if overwrite else 'FALSE'}")
        extra = {} if progress is None else {"progress": progress}
        return self._logged(statement, lambda: self._inner.put(local_path, stage_dir, overwrite=overwrite, **extra))

    def _logged(self, statement: str, send: Callable[[], Result]) -> Result:
        started, clock = datetime.now(timezone.utc), time.perf_counter()
        record: dict[str, Any] = {"time": started.isoformat(timespec="milliseconds"), "target": self._target,
                                  "command": self._command, "statement": statement}
        try:
            result = send()
        except SQLError as exc:
            record.update(duration_ms=_ms(clock), rows=None, query_id=_query_id(exc), error=str(exc))
            self._write(record)
            raise
        record.update(duration_ms=_ms(clock), rows=len(result.rows), query_id=result.query_id, error=None)
        self._write(record)
        return result

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._file.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> "LoggedSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _ms(clock: float) -> float:
    return round((time.perf_counter() - clock) * 1000, 3)


def _query_id(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sfqid", None) if cause is not None else None


def _relative(path: Path, root: Path) -> str:
    """Relative to the manifest's folder when inside it (artifacts); as it is otherwise (a
    temporary file such as a release record)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
