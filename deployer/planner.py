"""The planner: a pure function from desired and live state to a plan.

Composed by object type, in the order apply must run them: the stage; the files (so every
import exists before a function needs it); the functions, each rolled out through a tested
candidate; functions no longer declared; then files and release records past retention.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Iterable

from deployer import __version__, releases, stagepath
from deployer.codegen import RenderedFunction, short_hash, sql_string
from deployer.desired import CANDIDATE_SUFFIX, DEFAULT_KEEP_RELEASES, DesiredState
from deployer.identifiers import qualified
from deployer.live import LiveFunction, LiveState
from deployer.plan import Change, Plan, PlanError, PutFile, RunSQL, TestFunction, WriteRelease
from deployer.resolve import changes as package_changes
from deployer.samples import cache_for, feature_values

Key = tuple[str, tuple[str, ...]]  # (name, argument types): how Snowflake identifies a function

UNTESTED = "smoke tests have not passed on the target since it was created"


def owned(function: LiveFunction, state: DesiredState) -> bool:
    """A function this manifest's project manages, by the project in deployer's metadata.

    Functions deployed before projects existed name only their manifest file: those stay owned
    by a manifest of that name until its next apply writes the project in.
    """
    meta = function.meta
    if meta is None:
        return False
    if "project" in meta:
        return meta["project"] == state.project
    return meta.get("manifest") == state.manifest_path.name


def _check_conflicts(state: DesiredState, functions: tuple[RenderedFunction, ...], live: LiveState) -> None:
    """Two projects declaring the same function is an error naming both, never a silent takeover."""
    declared = {(f.model.name, f.model.arg_types) for f in functions}
    for current in live.functions:
        meta = current.meta or {}
        if (current.name, current.arg_types) in declared and "project" in meta and not owned(current, state):
            signature = f"{qualified(state.database, state.schema, current.name)}({', '.join(current.arg_types)})"
            raise PlanError(f"{signature} belongs to project '{meta['project']}' (manifest {meta.get('manifest')}); "
                            f"this manifest's project '{state.project}' declares it too: rename the model in one of "
                            "them, or remove it from the other project first")


def is_candidate(function: LiveFunction) -> bool:
    return function.name.upper().endswith(CANDIDATE_SUFFIX)


def plan(state: DesiredState, stage_sql: str, functions: Iterable[RenderedFunction],
         live: LiveState, *, destroy: bool = False, candidates: bool = True) -> Plan:
    functions = () if destroy else tuple(functions)
    _check_conflicts(state, functions, live)
    stage = _stage_location(state)
    warnings: list[str] = []
    wanted = _wanted_files(functions, stage)
    function_changes = _function_changes(state, functions, live, warnings, candidates)
    changed = {c.model for c in function_changes if c.model is not None}
    changes = [
        *([] if destroy else [_stage_change(state, stage_sql, live)]),
        *_file_changes(state, wanted, live),
        *(c.change for c in function_changes),
        *_leftover_candidates(state, live),
        *_dropped_functions(state, functions, live, destroy),
        *_past_retention(state, functions, wanted, live, changed),
    ]
    return Plan(state.target.name, tuple(changes), live.fingerprint(), tuple(warnings))


# --------------------------------------------------------------------------- stage and files


def _stage_location(state: DesiredState) -> stagepath.StageLocation:
    return stagepath.StageLocation(state.database, state.schema, state.stage, "")


def _stage_name(state: DesiredState) -> str:
    return qualified(state.database, state.schema, state.stage)


def _stage_change(state: DesiredState, stage_sql: str, live: LiveState) -> Change:
    name = _stage_name(state)
    if not live.stage_exists:
        return Change("stage", name, ("create",), ("does not exist",), (RunSQL(stage_sql, "create"),))
    if (live.stage_type or "").upper().startswith("EXTERNAL"):
        raise PlanError(f"stage {name} is an external stage (SHOW STAGES type {live.stage_type}); "
                        "deployer keeps model files on an internal stage it manages: name another stage")
    if state.stage_comment is not None and live.stage_comment != state.stage_comment:
        # CREATE STAGE IF NOT EXISTS never touches an existing stage: set the comment on its own.
        return Change("stage", name, ("update",), ("comment changed",),
                      (RunSQL(f"ALTER STAGE {name} SET COMMENT = {sql_string(state.stage_comment)}", "alter"),))
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
    for path, (_, staged) in wanted.items():
        name = f"@{_stage_name(state)}/{path}"
        if path in live.corrupt:  # found by --verify
            changes.append(Change("file", name, ("update",),
                                  (f"{_rel(state, staged.source)}: on the stage, but its bytes do not match their "
                                   "SHA-256 address; uploaded again",), (PutFile(staged.local_path, staged.stage_dir, root=state.root),)))
        elif path in live.files:
            changes.append(Change("file", name, ("no-op",)))
        else:
            changes.append(Change("file", name, ("create",), (f"{_rel(state, staged.source)}: not on the stage{staged.contents}",),
                                  (PutFile(staged.local_path, staged.stage_dir, root=state.root),)))
    return changes


# --------------------------------------------------------------------------- functions


class _FunctionChange:
    def __init__(self, change: Change, model: str | None):
        self.change, self.model = change, model  # model: set when apply writes a new release of it


def _function_changes(state: DesiredState, functions: tuple[RenderedFunction, ...], live: LiveState,
                      warnings: list[str], candidates: bool) -> list[_FunctionChange]:
    live_by_key = {(f.name, f.arg_types): f for f in live.functions}
    recorded = {(r.model, r.spec) for r in live.releases}
    replaced = _replaced_overloads(state, functions, live)
    out = []
    for function in functions:
        model = function.model
        current = live_by_key.get((model.name, model.arg_types))
        if current is None:
            old = replaced.get(model.name, [])
            steps = rollout(state, function, candidates=candidates, replaced=old)
            if old:
                reasons = tuple(f"signature changed from ({', '.join(k[1])}) to ({', '.join(model.arg_types)}); "
                                "the new overload is tested before the old one is dropped" for k in old)
                out.append(_FunctionChange(Change("function", function.signature, ("delete", "create"), reasons,
                                                  steps), model.name))
            else:
                out.append(_FunctionChange(Change("function", function.signature, ("create",), ("does not exist",),
                                                  steps), model.name))
            continue
        if current.hidden:
            warnings.append(f"{function.signature}: Snowflake hides the body and imports of this function "
                            "(SECURE, or owned by another role); it is compared by the spec hash in its comment only")
        reasons = differences(state, function, current)
        if reasons:
            out.append(_FunctionChange(Change("function", function.signature, ("update",), tuple(reasons),
                                              rollout(state, function, candidates=candidates)), model.name))
        elif (model.name, function.spec_hash) not in recorded:
            # Created, but its tests never passed (a failed or interrupted apply): test it again.
            steps = (_test_step(state, function, qualified(state.database, state.schema, model.name)),
                     _release_step(state, function))
            out.append(_FunctionChange(Change("function", function.signature, ("update",), (UNTESTED,), steps),
                                       model.name))
        else:
            out.append(_FunctionChange(Change("function", function.signature, ("no-op",)), None))
    return out


def candidate_name(state: DesiredState, model_name: str) -> str:
    return qualified(state.database, state.schema, model_name + CANDIDATE_SUFFIX)


def candidate_sql(statement: str, state: DesiredState, model_name: str) -> str:
    """The same CREATE statement under the candidate's name: same imports, packages and body."""
    live_name = qualified(state.database, state.schema, model_name)
    head = f"FUNCTION {live_name}("
    if head not in statement:
        raise PlanError(f"cannot derive the candidate of {live_name} from its statement")
    return statement.replace(head, f"FUNCTION {candidate_name(state, model_name)}(", 1)


def drop_sql(name: str, arg_types: tuple[str, ...]) -> str:
    return f"DROP FUNCTION IF EXISTS {name}({', '.join(arg_types)})"


def rollout(state: DesiredState, function: RenderedFunction, *, candidates: bool,
            replaced: list[Key] | tuple[Key, ...] = ()) -> tuple:
    """The steps that put a rendered function live (see rollout_steps)."""
    model = function.model
    return rollout_steps(state, model.name, model.arg_types, function.sql,
                         tuple((f.name, f.type) for f in model.features), model.tests, candidates=candidates,
                         samples=partial(feature_values, model, cache_for(state.root)), columns=table_columns(model),
                         drop_old=tuple(RunSQL(_drop(state, key), "drop old overload") for key in replaced),
                         release=_release_step(state, function))


def rollout_steps(state: DesiredState, name: str, arg_types: tuple[str, ...], statement: str,
                  features: tuple[tuple[str, str], ...], tests: tuple, *, candidates: bool,
                  drop_old: tuple = (), release: WriteRelease | None = None, samples: tuple = (),
                  columns: tuple[str, ...] | None = None) -> tuple:
    """Create a candidate beside the live function, test it, and only then replace the live
    function and drop the candidate; the old overloads of a signature change go after, and the
    release record last, once everything passed. Without candidates: create, then test."""
    live_name = qualified(state.database, state.schema, name)
    tail = (*drop_old, *((release,) if release is not None else ()))
    if not candidates:
        return (RunSQL(statement, "create"),
                TestFunction(live_name, name, features, tests, samples=samples, columns=columns), *tail)
    candidate = candidate_name(state, name)
    return (RunSQL(candidate_sql(statement, state, name), "create candidate"),
            TestFunction(candidate, name, features, tests, samples=samples, columns=columns),
            RunSQL(statement, "replace"),
            RunSQL(drop_sql(candidate, arg_types), "drop candidate"),
            *tail)


def _test_step(state: DesiredState, function: RenderedFunction, name: str) -> TestFunction:
    model = function.model
    return TestFunction(name, model.name, tuple((f.name, f.type) for f in model.features), model.tests,
                        samples=partial(feature_values, model, cache_for(state.root)), columns=table_columns(model))


def table_columns(model) -> tuple[str, ...] | None:
    """A table function's outputs as written in the manifest (the keys its tests expect)."""
    return tuple(o.name for o in model.outputs) if model.is_table else None


def _release_step(state: DesiredState, function: RenderedFunction) -> WriteRelease:
    model, stage = function.model, _stage_location(state)
    record = releases.draft(
        model=model.name, spec=function.spec_hash, signature=function.signature, arg_types=model.arg_types,
        statement=function.sql, imports=tuple(stage_relative(s.stage_path, stage) for s in function.files),
        features=tuple((f.name, f.type) for f in model.features),
        tests=tuple({"inputs": list(t.inputs), "expect": t.expect, "tolerance": t.tolerance} for t in model.tests),
        manifest=_rel(state, state.manifest_path), commit=function.commit, tool_version=__version__,
        columns=table_columns(model))
    return WriteRelease(f"@{_stage_name(state)}/{model.name}/{releases.FOLDER}", record)


def _replaced_overloads(state: DesiredState, functions: tuple[RenderedFunction, ...],
                        live: LiveState) -> dict[str, list[Key]]:
    """Per declared name, its managed overloads that no declared signature keeps: a signature
    change replaces them. Once for all functions (once per function would be quadratic)."""
    desired = {(f.model.name, f.model.arg_types) for f in functions}
    names = {name for name, _ in desired}
    out: dict[str, list[Key]] = {}
    for f in live.functions:
        if f.name in names and owned(f, state) and (f.name, f.arg_types) not in desired:
            out.setdefault(f.name, []).append((f.name, f.arg_types))
    return {name: sorted(keys) for name, keys in out.items()}


def _leftover_candidates(state: DesiredState, live: LiveState) -> list[Change]:
    """Candidates an interrupted apply left behind: never live, always safe to drop."""
    return [Change("function", f"{qualified(state.database, state.schema, f.name)}({', '.join(f.arg_types)})",
                   ("delete",), ("candidate left by an interrupted apply",),
                   (RunSQL(drop_sql(qualified(state.database, state.schema, f.name), f.arg_types), "drop candidate"),))
            for f in live.functions if owned(f, state) and is_candidate(f)]


def _dropped_functions(state: DesiredState, functions: tuple[RenderedFunction, ...], live: LiveState,
                       destroy: bool) -> list[Change]:
    """Managed functions no longer declared (a signature change is handled with its new overload)."""
    desired_names = {f.model.name for f in functions}
    changes = []
    for current in live.functions:
        if not owned(current, state) or is_candidate(current) or current.name in desired_names:
            continue
        key = (current.name, current.arg_types)
        reason = "destroy" if destroy else f"model {current.meta.get('model', key[0])} is no longer in the manifest"
        changes.append(Change("function", f"{qualified(state.database, state.schema, key[0])}({', '.join(key[1])})",
                              ("delete",), (reason,), (RunSQL(_drop(state, key), "drop"),)))
    return changes


# --------------------------------------------------------------------------- retention


def _past_retention(state: DesiredState, functions: tuple[RenderedFunction, ...], wanted: dict[str, tuple],
                    live: LiveState, changed: set[str]) -> list[Change]:
    """Files and release records of managed models beyond what the last N releases need.

    Kept: what the declared functions import, and the files of the newest `keep_releases`
    releases of each model (counting the one this apply writes), plus the live version when this
    apply does not replace it (it may be a rollback), so `rollback` never needs an upload. These
    removals run last, after every function was replaced. A model no longer declared keeps nothing.
    """
    keep_of = {f.model.name: f.model.keep_releases for f in functions}
    managed = set(keep_of) | {str(f.meta.get("model")) for f in live.functions if owned(f, state)}
    live_specs = {str(f.meta.get("model")): f.meta.get("spec") for f in live.functions
                  if owned(f, state) and not is_candidate(f)}
    keep_paths = set(wanted)
    kept_records: set[str] = set()
    histories: dict[str, list] = {}  # newest first, as live.releases
    for release in live.releases:
        histories.setdefault(release.model, []).append(release)
    imported = _live_paths(live, state)
    for model in managed:
        if model not in keep_of:
            continue
        history = histories.get(model, [])
        slots = keep_of[model] - (1 if model in changed else 0)
        chosen = history[:max(slots, 0)]
        if model not in changed:  # else the live version is replaced before anything is removed
            chosen += [r for r in history if r.spec == live_specs.get(model)]
            keep_paths.update(imported.get(model, ()))
        for release in chosen:
            kept_records.add(release.path)
            keep_paths.update(release.imports)
    stage = _stage_name(state)
    changes = []
    for path in sorted(live.files):
        model = path.split("/", 1)[0]
        if model not in managed or path in keep_paths or path in kept_records:
            continue
        if releases.is_record(path):
            reason = (f"release record of {model}, older than the last {keep_of[model]} releases"
                      if model in keep_of else f"release record of {model}, no longer in the manifest")
        else:
            reason = (f"not imported by {model} or its last {keep_of.get(model, DEFAULT_KEEP_RELEASES)} releases"
                      if model in keep_of else f"file of {model}, no longer in the manifest")
        changes.append(Change("file", f"@{stage}/{path}", ("delete",), (reason,),
                              (RunSQL(remove_exactly(stage, path), "remove"),)))
    return changes


def _live_paths(live: LiveState, state: DesiredState) -> dict[str, set[str]]:
    """model -> the files its live function imports, from the digests in its comment (one
    pass over the functions: once per model was quadratic, minutes at 10,000 models)."""
    paths: dict[str, set[str]] = {}
    for f in live.functions:
        model = f.meta.get("model") if f.meta else None
        if isinstance(model, str) and owned(f, state) and isinstance(f.meta.get("files"), dict):
            paths.setdefault(model, set()).update(f"{model}/{digest}/{name}" for name, digest in f.meta["files"].items())
    return paths


def remove_exactly(stage: str, path: str) -> str:
    """REMOVE of one file: REMOVE matches by prefix (`model.h5` would take `model.h5.bak` too),
    so a PATTERN anchored at both ends keeps it to exactly this path."""
    return f"REMOVE @{stage}/{path} PATTERN = {sql_string(stagepath.exact_pattern(path))}"


def stage_relative(stage_path: str, stage: stagepath.StageLocation | str) -> str:
    """`@"ML"."S".STAGE/PREDICT/ab12/model.h5` -> `PREDICT/ab12/model.h5`, as LIST paths are keyed.

    Compared as (database, schema, stage) with identifier rules, never as strings; a path on
    another stage comes back unchanged.
    """
    if isinstance(stage, str):
        stage = stagepath.parse("@" + stage)
    found = stagepath.relative(stage_path, stage)
    return stage_path if found is None else found


def _drop(state: DesiredState, key: Key) -> str:
    return drop_sql(qualified(state.database, state.schema, key[0]), key[1])


def _rel(state: DesiredState, path: Path) -> str:
    try:
        return path.relative_to(state.root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- reasons


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
    """Why the spec hash changed, attribute by attribute, from the metadata in the live COMMENT."""
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
                           f"(sha256 {files[staged.file_name][:4]}... -> {staged.digest[:4]}...)")
    reasons += [f"import {name} removed" for name in sorted(set(files) - {s.file_name for s in function.files})]
    handler_reasons = _handler_attributes(meta, live, model)
    reasons += handler_reasons
    if meta.get("handler") != short_hash(function.handler) and not handler_reasons:
        # Nothing the manifest says explains it: the template that writes handlers changed.
        old_version = meta.get("version")
        reasons.append(f"handler template of deployer {old_version} -> {__version__}"
                       if old_version and old_version != __version__ else "handler code changed")
    if meta.get("packages") is not None:
        reasons += package_changes(meta["packages"], function.packages)
    if meta.get("runtime") and meta["runtime"] != model.runtime_version:
        reasons.append(f"runtime {meta['runtime']} -> {model.runtime_version}")
    if "args" in meta and meta.get("log_level") != model.log_level:
        reasons.append(f"log_level {_unset(meta.get('log_level'))} -> {_unset(model.log_level)}")
    return reasons or ["definition changed (options of the CREATE FUNCTION statement)"]


def _handler_attributes(meta: dict, live: LiveFunction, model) -> list[str]:
    """Argument names, return type and batch size: what the metadata records of the signature."""
    reasons = []
    names = meta.get("args")
    if isinstance(names, list) and len(names) == len(model.features):
        reasons += [f"argument {old} renamed to {new.name}" for old, new in zip(names, model.features)
                    if old != new.name]
    desired_returns = model.returns
    old_returns = meta.get("returns")  # else SHOW's form, which prints NUMBER(38,0) as NUMBER
    changed = old_returns != desired_returns if old_returns else \
        bool(live.returns) and _base(live.returns) != _base(desired_returns)
    if changed:
        reasons.append(f"returns {old_returns or live.returns} -> {desired_returns}")
    if "args" in meta and meta.get("batch") != model.max_batch_size:  # "args": a version that records batch
        reasons.append(f"max_batch_size {_unset(meta.get('batch'))} -> {_unset(model.max_batch_size)}")
    return reasons


def _base(sql_type: str) -> str:
    """NUMBER(38,0) -> NUMBER: how SHOW prints a type."""
    return sql_type.split("(", 1)[0].strip().upper()


def _unset(value: object) -> str:
    return "unset" if value is None else str(value)


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
