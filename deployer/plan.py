"""A plan: the changes apply would make, each with the operations that make it.

Like Alembic's operations: each Change carries what the executor runs and what people are
shown, both from one place. This module is the plan's format (its JSON and the check of a
saved plan); deployer.planner computes plans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from deployer.desired import SmokeTest
from deployer.errors import DeployerError

FORMAT_VERSION = "1.0"


@dataclass(frozen=True)
class RunSQL:
    sql: str
    op: str = "run"  # what the step is for: create, create candidate, replace, drop candidate, ...

    def statement(self) -> str | None:
        return self.sql

    def to_json(self) -> dict:
        return {"op": self.op, "statement": self.sql}


@dataclass(frozen=True)
class PutFile:
    local_path: Path  # absolute: what the executor uploads
    stage_dir: str
    op: str = "upload"
    root: Path | None = None  # the manifest's folder: shown paths are relative to it

    def statement(self) -> str | None:
        return (f"PUT 'file://{self.shown_path}' {self.stage_dir}/ "
                "AUTO_COMPRESS = FALSE OVERWRITE = TRUE")

    @property
    def shown_path(self) -> str:
        """The local path as people see it: relative to the manifest, never the author's home."""
        return relative_path(self.local_path, self.root) if self.root is not None else self.local_path.as_posix()

    def to_json(self) -> dict:
        return {"op": self.op, "statement": self.statement()}


@dataclass(frozen=True)
class TestFunction:
    """Run a model's smoke tests and a synthetic batch against `function` on the target."""

    function: str  # the qualified SQL name to call
    model: str
    features: tuple[tuple[str, str], ...]  # (name, manifest type)
    tests: tuple[SmokeTest, ...]
    op: str = "test"
    # Per feature, values for the synthetic batch (deployer.samples), or a function giving
    # them: they come from reading the fitted pipeline, which the executor does, not the planner.
    samples: tuple | Callable[[], tuple] = field(default=(), compare=False)
    columns: tuple[str, ...] | None = None  # a table function's outputs; None: a scalar function

    def statement(self) -> str | None:
        return None

    def known(self) -> tuple:
        return self.samples() if callable(self.samples) else self.samples

    def to_json(self) -> dict:
        return {"op": self.op, "function": self.function, "tests": len(self.tests)}


@dataclass(frozen=True, eq=False)
class WriteRelease:
    """Write the release record of a function whose tests passed (deployer.releases)."""

    stage_dir: str  # @DB.S.STAGE/<MODEL>/.releases
    record: dict = field(hash=False)
    op: str = "write release"

    def statement(self) -> str | None:
        return None

    def to_json(self) -> dict:
        return {"op": self.op, "location": self.stage_dir + "/", "spec": self.record.get("spec")}

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, WriteRelease) and (self.stage_dir, self.record) == (other.stage_dir, other.record)


def relative_path(path: Path, root: Path) -> str:
    import os

    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(root).resolve())).as_posix()
    except ValueError:  # another drive
        return Path(path).as_posix()


Operation = RunSQL | PutFile | TestFunction | WriteRelease


@dataclass(frozen=True)
class Change:
    type: str  # stage | file | function
    name: str
    actions: tuple[str, ...]  # Terraform's vocabulary: create, update, delete, no-op
    reasons: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()

    @property
    def is_noop(self) -> bool:
        return self.actions == ("no-op",)

    @property
    def statements(self) -> list[str]:
        return [s for s in (op.statement() for op in self.operations) if s is not None]

    def to_json(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": list(self.actions),
                "reasons": list(self.reasons), "statements": self.statements,
                "operations": [op.to_json() for op in self.operations]}


class PlanError(DeployerError):
    """The live state cannot be brought to the manifest (for example an external stage)."""


@dataclass(frozen=True)
class Plan:
    target: str
    changes: tuple[Change, ...]
    state_fingerprint: str
    warnings: tuple[str, ...] = ()
    packages: dict = field(default_factory=dict)  # model -> resolved pins and writer versions (deployer.pins)

    @property
    def tests_on_target(self) -> bool:
        """Whether apply runs queries (smoke tests), which need a warehouse on Snowflake."""
        return any(isinstance(op, TestFunction) for c in self.changes for op in c.operations)

    @property
    def has_changes(self) -> bool:
        return any(not c.is_noop for c in self.changes)

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            for action in change.actions:
                if action in counts:
                    counts[action] += 1
        return counts

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "target": self.target,
                "changes": [c.to_json() for c in self.changes], "summary": self.summary(),
                "warnings": list(self.warnings), "packages": self.packages,
                "state_fingerprint": self.state_fingerprint}


def read_saved(path: str) -> dict:
    """A plan saved with `plan --out`, checked for its format."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise DeployerError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    except ValueError:
        raise DeployerError(f"{path}: not a JSON plan (write one with plan --out)") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or "state_fingerprint" not in data:
        raise DeployerError(f"{path}: not a deployer plan of format_version {FORMAT_VERSION}")
    return data


def check_saved(path: str, saved: dict, current: Plan) -> None:
    """Refuse a saved plan when the target changed since (stale) or the manifest did."""
    if saved["state_fingerprint"] != current.state_fingerprint:
        raise DeployerError(f"{path}: plan is stale: the target changed since it was made; run plan again")
    if saved.get("changes") != current.to_json()["changes"] or saved.get("target") != current.target:
        raise DeployerError(f"{path}: plan does not match the manifest any more; run plan again")
