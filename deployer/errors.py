"""Errors that reach the user as one clear message (never a traceback)."""

from __future__ import annotations

from dataclasses import dataclass


class DeployerError(Exception):
    """Any failure the CLI reports as a message and exit code 1."""


@dataclass(frozen=True)
class Problem:
    """One problem in a manifest, located at FILE:LINE:COL when known."""

    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(DeployerError):
    """A manifest with one or more problems; all are reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SQLError(DeployerError):
    """A statement failed on the target (Snowflake or the local engine)."""


class NotSupportedError(SQLError):
    """A statement the local engine does not implement."""

    def __init__(self, what: str):
        super().__init__(f"not supported by the local engine: {what}")
