"""The planner: a pure function from desired and live state to a list of changes.

Like Alembic's compare → operations: each Change carries the operations the
executor runs and the statements shown to people, both from one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from deployer import stagepath
from deployer.codegen import RenderedFunction, short_hash, sql_string
from deployer.desired import SIGNATURE_TYPES, DesiredState
from deployer.errors import DeployerError
from deployer.identifiers import qualified
from deployer.live import LiveFunction, LiveState

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


class PlanError(DeployerError):
    """The live state cannot be brought to the manifest (for example an external stage)."""


@dataclass(frozen=True)
class Plan:
    target: str
    changes: tuple[Change, ...]
    state_fingerprint: str
    warnings: tuple[str, ...] = ()

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
                "warnings": list(self.warnings), "state_fingerprint": self.state_fingerprint}


def owned(function: LiveFunction, state: DesiredState) -> bool:
    """A function this manifest manages: deployer's metadata naming this manifest file."""
    return function.meta is not None and function.meta.get("manifest") == state.manifest_path.name


def plan(state: DesiredState, stage_sql: str, functions: Iterable[RenderedFunction],
         live: LiveState, *, destroy: bool = False) -> Plan:
    """Stage, then files (so every import exists before a function needs it), then functions,
    then what is no longer declared."""
    functions = () if destroy else tuple(functions)
    stage = _stage_location(state)
    warnings: list[str] = []
    wanted = _wanted_files(functions, stage)
    changes = [
        *([] if destroy else [_stage_change(state, stage_sql, live)]),
        *_file_changes(state, wanted, live),
        *_function_changes(state, functions, live, warnings),
        *_dropped_functions(state, functions, live, destroy),
        *_stale_files(state, functions, wanted, live),
    ]
    return Plan(state.target.name, tuple(changes), live.fingerprint(), tuple(warnings))


def _stage_location(state: DesiredState) -> stagepath.StageLocation:
    return stagepath.StageLocation(state.database, state.schema, state.stage, "")


def _stage_change(state: DesiredState, stage_sql: str, live: LiveState) -> Change:
    name = qualified(state.database, state.schema, state.stage)
    if not live.stage_exists:
        return Change("stage", name, ("create",), ("does not exist",), (RunSQL(stage_sql),))
    if (live.stage_type or "").upper().startswith("EXTERNAL"):
        raise PlanError(f"stage {name} is an external stage (SHOW STAGES type {live.stage_type}); "
                        "deployer keeps model files on an internal stage it manages: name another stage")
    if state.stage_comment is not None and live.stage_comment != state.stage_comment:
        # CREATE STAGE IF NOT EXISTS never touches an existing stage: set the comment on its own.
        return Change("stage", name, ("update",), ("comment changed",),
                      (RunSQL(f"ALTER STAGE {name} SET COMMENT = {sql_string(state.stage_comment)}"),))
    return Change("stage", name, ("no-op",))


def _wanted_files(functions: tuple[RenderedFunction, ...], stage: stagepath.StageLocation) -> dict[str, tuple]:
    """Path under the stage -> (function, staged file), for every file a declared function imports."""
    wanted: dict[str, tuple] = {}
    for function in functions:
        for staged in function.files:
            wanted.setdefault(stage_relative(staged.stage_path, stage), (function, staged))
    return wanted


def _file_changes(state: DesiredState, wanted: dict[str, tuple], live: LiveState) -> list[Change]:
    # The digest is in the path, so presence at the content address is the match: LIST sizes
    # are padded on encrypted stages and its md5 is not the file's.
    changes = []
    stage = qualified(state.database, state.schema, state.stage)
    for path, (_, staged) in wanted.items():
        name = f"@{stage}/{path}"
        if path in live.files:
            changes.append(Change("file", name, ("no-op",)))
        else:
            changes.append(Change("file", name, ("create",), (f"{_rel(state, staged.source)}: not on the stage",),
                                  (PutFile(staged.local_path, staged.stage_dir),)))
    return changes


def _function_changes(state: DesiredState, functions: tuple[RenderedFunction, ...], live: LiveState,
                      warnings: list[str]) -> list[Change]:
    live_by_sig = {(f.name, f.arg_types): f for f in live.functions}
    changes = []
    for function in functions:
        key = (function.model.name, function.model.arg_types)
        current = live_by_sig.get(key)
        create = RunSQL(function.sql)
        if current is None:
            old = _replaced_overloads(state, functions, live, function.model.name)
            if old:
                drops = tuple(RunSQL(_drop(state, k)) for k in old)
                reasons = tuple(f"signature changed from ({', '.join(k[1])}) to ({', '.join(key[1])})" for k in old)
                changes.append(Change("function", function.signature, ("delete", "create"), reasons, drops + (create,)))
            else:
                changes.append(Change("function", function.signature, ("create",), ("does not exist",), (create,)))
            continue
        if current.hidden:
            warnings.append(f"{function.signature}: Snowflake hides the body and imports of this function "
                            "(SECURE, or owned by another role); it is compared by the spec hash in its comment only")
        reasons = differences(state, function, current)
        changes.append(Change("function", function.signature, ("update",), tuple(reasons), (create,)) if reasons
                       else Change("function", function.signature, ("no-op",)))
    return changes


def _replaced_overloads(state: DesiredState, functions: tuple[RenderedFunction, ...], live: LiveState,
                        name: str) -> list[tuple[str, tuple[str, ...]]]:
    """Managed overloads of `name` that no declared signature keeps: a signature change replaces them."""
    desired = {(f.model.name, f.model.arg_types) for f in functions}
    return sorted((f.name, f.arg_types) for f in live.functions
                  if f.name == name and owned(f, state) and (f.name, f.arg_types) not in desired)


def _dropped_functions(state: DesiredState, functions: tuple[RenderedFunction, ...], live: LiveState,
                       destroy: bool) -> list[Change]:
    """Managed functions no longer declared (a signature change is handled with its new overload)."""
    desired_sigs = {(f.model.name, f.model.arg_types) for f in functions}
    desired_names = {f.model.name for f in functions}
    changes = []
    for current in live.functions:
        key = (current.name, current.arg_types)
        if not owned(current, state) or key in desired_sigs or current.name in desired_names:
            continue
        reason = "destroy" if destroy else f"model {current.meta.get('model', key[0])} is no longer in the manifest"
        changes.append(Change("function", f"{qualified(state.database, state.schema, key[0])}({', '.join(key[1])})",
                              ("delete",), (reason,), (RunSQL(_drop(state, key)),)))
    return changes


def _stale_files(state: DesiredState, functions: tuple[RenderedFunction, ...], wanted: dict[str, tuple],
                 live: LiveState) -> list[Change]:
    """Old artifact versions under the folders of managed models: nothing declared imports them."""
    stage = qualified(state.database, state.schema, state.stage)
    managed = {f.model.name for f in functions} | {str(f.meta.get("model")) for f in live.functions if owned(f, state)}
    changes = []
    for path in sorted(live.files):
        if path.split("/", 1)[0] in managed and path not in wanted:
            changes.append(Change("file", f"@{stage}/{path}", ("delete",), ("no declared function imports it",),
                                  (RunSQL(remove_exactly(stage, path)),)))
    return changes


def remove_exactly(stage: str, path: str) -> str:
    """REMOVE of one file: REMOVE matches by prefix (`model.h5` would take `model.h5.bak` too),
    so a PATTERN anchored at the end keeps it to exactly this path."""
    # Anchored at both ends; any leading folder allowed, as the name may carry the stage's.
    pattern = "(.*/)?" + re.escape(path)
    return f"REMOVE @{stage}/{path} PATTERN = {sql_string(pattern)}"


def stage_relative(stage_path: str, stage: stagepath.StageLocation | str) -> str:
    """`@"ML"."S".STAGE/PREDICT/ab12/model.h5` -> `PREDICT/ab12/model.h5`, as LIST paths are keyed.

    Compared as (database, schema, stage) with identifier rules, never as strings; a path on
    another stage comes back unchanged.
    """
    if isinstance(stage, str):
        stage = stagepath.parse("@" + stage)
    found = stagepath.relative(stage_path, stage)
    return stage_path if found is None else found


def _drop(state: DesiredState, key: tuple[str, tuple[str, ...]]) -> str:
    return f"DROP FUNCTION IF EXISTS {qualified(state.database, state.schema, key[0])}({', '.join(key[1])})"


def _rel(state: DesiredState, path: Path) -> str:
    try:
        return path.relative_to(state.root).as_posix()
    except ValueError:
        return str(path)


def differences(state: DesiredState, function: RenderedFunction, live: LiveFunction) -> list[str]:
    """Why the live function differs from the rendered one; empty when it matches.

    The spec hash in the COMMENT decides; the rest of the metadata says why. When DESCRIBE
    was read (plan --refresh, status), body and imports are checked too, for hand edits that
    kept the comment.
    """
    meta = live.meta
    if meta is None:
        return ["exists but is not managed by deployer; it will be replaced"]
    reasons: list[str] = []
    if meta.get("spec") != function.spec_hash:
        reasons += _changed_parts(state, function, live)
    elif live.described and not live.hidden:
        reasons += [f"drift: {d}" for d in _hand_edits(state, function, live)]
    if live.comment != function.model.comment:
        reasons.append("comment changed")
    return reasons


def _changed_parts(state: DesiredState, function: RenderedFunction, live: LiveFunction) -> list[str]:
    meta, model = live.meta or {}, function.model
    files = meta.get("files")
    if not isinstance(files, dict):  # deployed by a version that did not record its parts
        return [f"definition changed (deployed by deployer {meta.get('version', '?')})"]
    reasons = []
    for staged in function.files:
        if staged.file_name not in files:
            reasons.append(f"{_what(staged.role)} {_rel(state, staged.source)} added")
        elif files[staged.file_name] != staged.digest[:12]:
            reasons.append(f"{_what(staged.role)} {_rel(state, staged.source)} changed "
                           f"(sha256 {files[staged.file_name]}... -> {staged.digest[:12]}...)")
    reasons += [f"import {name} removed" for name in sorted(set(files) - {s.file_name for s in function.files})]
    if meta.get("handler") != short_hash(function.handler):
        reasons.append("handler code changed")
    desired_packages = list(function.packages)
    if meta.get("packages") is not None and list(meta["packages"]) != desired_packages:
        added = sorted(set(desired_packages) - set(meta["packages"]))
        removed = sorted(set(meta["packages"]) - set(desired_packages))
        reasons.append("packages " + " ".join([*(f"+{p}" for p in added), *(f"-{p}" for p in removed)]))
    if meta.get("runtime") and meta["runtime"] != model.runtime_version:
        reasons.append(f"runtime {meta['runtime']} -> {model.runtime_version}")
    desired_returns = SIGNATURE_TYPES[model.output_type]
    if live.returns and live.returns != desired_returns:
        reasons.append(f"returns {live.returns} -> {desired_returns}")
    return reasons or ["definition changed (options of the CREATE FUNCTION statement)"]


def _hand_edits(state: DesiredState, function: RenderedFunction, live: LiveFunction) -> list[str]:
    """What DESCRIBE shows changed behind the comment's back."""
    edits = []
    stage = _stage_location(state)
    live_paths = {stage_relative(p, stage) for p in (live.imports or ())}
    desired_paths = {stage_relative(s.stage_path, stage) for s in function.files}
    if live.imports is not None and live_paths != desired_paths:
        edits.append("imports changed outside deployer")
    if live.body is not None and live.body.strip("\n") != function.handler.strip("\n"):
        edits.append("handler code changed outside deployer")
    return edits


def _what(role: str) -> str:
    return "artifact" if role == "model" else role

