"""The planner: a pure function from desired and live state to a list of changes.

Like Alembic's compare → operations: each Change carries the operations the
executor runs and the statements shown to people, both from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from deployer.codegen import RenderedFunction
from deployer.desired import DesiredState
from deployer.identifiers import qualified
from deployer.live import LiveFunction, LiveState
from deployer.resolve import changes as package_changes

FORMAT_VERSION = "1.0"


@dataclass(frozen=True)
class RunSQL:
    sql: str

    def statement(self) -> str:
        return self.sql


@dataclass(frozen=True)
class PutFile:
    local_path: Path
    stage_dir: str

    def statement(self) -> str:
        return (f"PUT 'file://{self.local_path.as_posix()}' {self.stage_dir}/ "
                "AUTO_COMPRESS = FALSE OVERWRITE = TRUE")


Operation = RunSQL | PutFile


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
        return [op.statement() for op in self.operations]

    def to_json(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": list(self.actions),
                "reasons": list(self.reasons), "statements": self.statements}


@dataclass(frozen=True)
class Plan:
    target: str
    changes: tuple[Change, ...]
    state_fingerprint: str
    warnings: tuple[str, ...] = ()  # e.g. a package pinned to a version other than the artifact's writer
    packages: dict = field(default_factory=dict)  # model -> resolved pins and writer versions (deployer.pins)

    @property
    def replaced_functions(self) -> tuple[str, ...]:
        """Signatures of the functions apply creates or replaces: their smoke tests run afterwards."""
        return tuple(c.name for c in self.changes
                     if c.type == "function" and {"create", "update"} & set(c.actions))

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
                "state_fingerprint": self.state_fingerprint, "warnings": list(self.warnings),
                "packages": self.packages}


def owned(function: LiveFunction, state: DesiredState) -> bool:
    """A function this manifest manages: deployer's metadata naming this manifest file."""
    return function.meta is not None and function.meta.get("manifest") == state.manifest_path.name


def plan(state: DesiredState, stage_sql: str, functions: Iterable[RenderedFunction],
         live: LiveState, *, destroy: bool = False) -> Plan:
    functions = () if destroy else tuple(functions)
    stage = qualified(state.database, state.schema, state.stage)
    changes: list[Change] = []

    if not destroy:
        changes.append(Change("stage", stage, ("no-op",)) if live.stage_exists else
                       Change("stage", stage, ("create",), ("does not exist",), (RunSQL(stage_sql),)))

    # Files first, so every function's imports exist before it is created.
    wanted: dict[str, tuple[RenderedFunction, object]] = {}
    for function in functions:
        for staged in function.files:
            wanted.setdefault(stage_relative(staged.stage_path, stage), (function, staged))
    for path, (function, staged) in wanted.items():
        size = live.files.get(path)
        name = f"@{stage}/{path}"
        if size == staged.size:
            changes.append(Change("file", name, ("no-op",)))
        else:
            reason = ("not on the stage" if size is None else
                      f"on the stage with {size} bytes, expected {staged.size}")
            changes.append(Change("file", name, ("create",), (f"{_rel(state, staged.source)}: {reason}",),
                                  (PutFile(staged.local_path, staged.stage_dir),)))

    live_by_sig = {(f.name, f.arg_types): f for f in live.functions}
    desired_names = {f.model.name for f in functions}
    desired_sigs = {(f.model.name, f.model.arg_types) for f in functions}
    replaced_overloads = {key for key, f in live_by_sig.items()
                          if owned(f, state) and key not in desired_sigs and key[0] in desired_names}
    for function in functions:
        key = (function.model.name, function.model.arg_types)
        current = live_by_sig.get(key)
        create = RunSQL(function.sql)
        if current is None:
            old = sorted(k for k in replaced_overloads if k[0] == key[0])
            if old:
                drops = tuple(RunSQL(_drop(state, k)) for k in old)
                reasons = tuple(f"signature changed from ({', '.join(k[1])}) to ({', '.join(key[1])})" for k in old)
                changes.append(Change("function", function.signature, ("delete", "create"), reasons, drops + (create,)))
            else:
                changes.append(Change("function", function.signature, ("create",), ("does not exist",), (create,)))
            continue
        reasons = differences(state, function, current)
        if reasons:
            changes.append(Change("function", function.signature, ("update",), tuple(reasons), (create,)))
        else:
            changes.append(Change("function", function.signature, ("no-op",)))

    # Managed functions no longer declared: drop them (a signature change was handled above).
    for key, current in sorted(live_by_sig.items()):
        if owned(current, state) and key not in desired_sigs and key not in replaced_overloads:
            reason = "destroy" if destroy else f"model {current.meta.get('model', key[0])} is no longer in the manifest"
            changes.append(Change("function", f"{qualified(state.database, state.schema, key[0])}({', '.join(key[1])})",
                                  ("delete",), (reason,), (RunSQL(_drop(state, key)),)))

    # Last, old artifact versions under the folders of managed models: nothing imports them any more.
    managed = desired_names | {str(f.meta.get("model")) for f in live.functions if owned(f, state)}
    for path in sorted(live.files):
        top = path.split("/", 1)[0]
        if top in managed and path not in wanted:
            changes.append(Change("file", f"@{stage}/{path}", ("delete",),
                                  ("no declared function imports it",), (RunSQL(f"REMOVE @{stage}/{path}"),)))
    return Plan(state.target.name, tuple(changes), live.fingerprint())


def stage_relative(stage_path: str, stage: str) -> str:
    """`@DB.S.STAGE/PREDICT/ab12/model.h5` -> `PREDICT/ab12/model.h5`, as LIST paths are keyed."""
    prefix = f"@{stage}/"
    return stage_path[len(prefix):] if stage_path.startswith(prefix) else stage_path


def _drop(state: DesiredState, key: tuple[str, tuple[str, ...]]) -> str:
    return f"DROP FUNCTION IF EXISTS {qualified(state.database, state.schema, key[0])}({', '.join(key[1])})"


def _rel(state: DesiredState, path: Path) -> str:
    try:
        return path.relative_to(state.root).as_posix()
    except ValueError:
        return str(path)


def differences(state: DesiredState, function: RenderedFunction, live: LiveFunction) -> list[str]:
    """Why the live function differs from the rendered one; empty when it matches."""
    if live.meta is None:
        return ["exists but is not managed by deployer; it will be replaced"]
    reasons: list[str] = []
    live_imports = set(live.imports)
    live_names = {p.rsplit("/", 1)[-1]: p for p in live.imports}
    desired_names = set()
    for staged in function.files:
        desired_names.add(staged.file_name)
        if staged.stage_path not in live_imports:
            what = "artifact" if staged.role == "model" else staged.role
            change = "changed" if staged.file_name in live_names else "added"
            reasons.append(f"{what} {_rel(state, staged.source)} {change}")
    for name in sorted(set(live_names) - desired_names):
        reasons.append(f"import {name} removed")
    if live.body is not None and live.body.strip("\n") != function.handler.strip("\n"):
        reasons.append("handler code changed")
    if function.packages:
        reasons += package_changes(live.packages, function.packages)
    if live.runtime_version and live.runtime_version != function.model.runtime_version:
        reasons.append(f"runtime_version {live.runtime_version} -> {function.model.runtime_version}")
    if live.meta.get("spec") != function.spec_hash and not reasons:
        reasons.append("definition changed (packages, output type or options)")
    if live.comment != function.model.comment:
        reasons.append("comment changed")
    return reasons
