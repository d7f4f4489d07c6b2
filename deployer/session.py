"""The one small interface every target implements.

The Snowflake target (Snowpark) and the local engine both provide it; planner,
executor and CLI use nothing else, so what is tested locally is what runs in
Snowflake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

# put's progress report: (bytes uploaded so far, file size), called as the upload goes.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Result:
    """Rows of one statement, with column names as Snowflake reports them."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = field(default_factory=tuple)
    # The columns' SQL types where the target knows them (the local engine: DuckDB's type
    # names); not part of equality, so results compare by what they hold.
    types: tuple[str, ...] = field(default=(), compare=False)
    query_id: str | None = field(default=None, compare=False)  # where the target has one (Snowflake)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


# A target may also take hints the others lack: the local engine's start_ahead (see
# deployer.workflow.start_ahead), looked up with getattr, so every target still needs only these.
class Session(Protocol):
    def run(self, sql: str) -> Result:
        """Run one SQL statement; raise deployer.errors.SQLError on failure."""

    def put(self, local_path: Path, stage_dir: str, *, overwrite: bool = True,
            progress: Progress | None = None) -> Result:
        """Upload one local file to `@stage/dir/` without compression.

        `stage_dir` is a stage location such as `@DB.SCHEMA.STAGE/predict/1a2b`. `progress`,
        when given, gets increasing byte counts ending at the file size (not for a skipped file).
        """

    def close(self) -> None:
        """Release the connection or the engine's lock."""
