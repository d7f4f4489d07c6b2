"""`deployer status`: what is deployed, from what, and whether it drifted from the manifest."""

from __future__ import annotations

from typing import Any

from deployer import live, pins, stagepath
from deployer.desired import DesiredState
from deployer.identifiers import qualified
from deployer.planner import UNTESTED, differences, is_candidate, owned, stage_relative
from deployer.session import Session
from deployer.workflow import render_all


def collect(state: DesiredState, session: Session, *, verify: bool = False) -> list[dict[str, Any]]:
    resolution = pins.resolve_state(state, session)  # the pins plan would render
    _, functions = render_all(state, resolution=resolution)
    current = live.read(session, state, refresh=True, verify=verify)
    stage = stagepath.StageLocation(state.database, state.schema, state.stage, "")
    by_sig = {(f.name, f.arg_types): f for f in current.functions}
    entries = []
    for function in functions:
        found = by_sig.pop((function.model.name, function.model.arg_types), None)
        entry = {"function": function.signature, "model": function.model.name, "declared": True,
                 "resolved": resolution.models[function.model.name].to_json(state.root)}
        if found is None:
            entries.append({**entry, "deployed": False, "drift": ["not deployed"]})
            continue
        drift = differences(state, function, found)
        missing = [p for p in found.imports or () if stage_relative(p, stage) not in current.files]
        drift += [f"import {p} is missing from the stage" for p in missing]
        drift += [f"{stage_relative(s.stage_path, stage)} on the stage does not match its SHA-256 address "
                  "(corrupt); apply uploads it again" for s in function.files
                  if stage_relative(s.stage_path, stage) in current.corrupt]
        if found.meta is not None and not any(r.model == found.meta.get("model") and r.spec == found.meta.get("spec")
                                              for r in current.releases):
            drift.append(UNTESTED)
        if found.hidden:
            entry["note"] = ("Snowflake hides this function's body and imports (SECURE, or owned by another role): "
                             "compared by the spec hash in its comment only")
        entries.append({**entry, **_deployed(found), "drift": drift})
    for (name, types), found in sorted(by_sig.items()):
        if owned(found, state) and not is_candidate(found):
            signature = f"{qualified(state.database, state.schema, name)}({', '.join(types)})"
            entries.append({"function": signature, "model": found.meta.get("model", name), "declared": False,
                            **_deployed(found), "drift": ["no longer in the manifest (plan will delete it)"]})
    return entries


def _deployed(found: live.LiveFunction) -> dict[str, Any]:
    meta = found.meta or {}
    return {"deployed": True, "deployed_at": found.created_on, "manifest": meta.get("manifest"),
            "commit": meta.get("commit"), "tool_version": meta.get("version"), "spec": meta.get("spec"),
            "artifacts": [_canonical(p) for p in found.imports or ()], "packages": list(found.packages),
            "runtime_version": found.runtime_version}


def _canonical(location: str) -> str:
    """Imports as the manifest would write them, whatever form DESCRIBE echoed."""
    try:
        return str(stagepath.parse(location))
    except stagepath.StagePathError:
        return location


def out_of_sync(entries: list[dict[str, Any]]) -> bool:
    """Anything drifted, missing, or deployed but no longer declared: `status --detailed-exitcode` exits 2."""
    return any(e["drift"] or not e["deployed"] for e in entries)


def as_text(state: DesiredState, entries: list[dict[str, Any]], color: bool = False) -> str:
    if not entries:
        return f"Nothing declared or deployed on target {state.target.name}."
    lines = [f"Target {state.target.name} ({state.target.type}):"]
    for e in entries:
        mark = "in sync" if e["deployed"] and not e["drift"] else "DRIFTED" if e["deployed"] else "not deployed"
        if color:
            from deployer.console import style

            mark = style(mark, "green" if mark == "in sync" else "bold red" if mark == "DRIFTED" else "yellow")
        lines.append(f"  {e['function']}: {mark}")
        lines.extend("      " + line for line in pins.status_lines(e.get("resolved")))
        if e["deployed"]:
            source = f"{e['manifest']}" + (f" at commit {e['commit'][:12]}" if e.get("commit") else "")
            lines.append(f"      deployed {e['deployed_at']} from {source} (deployer {e['tool_version']})")
            lines.extend(f"      artifact {a}" for a in e["artifacts"])
        lines.extend(f"      drift: {d}" for d in e["drift"] if e["deployed"])
        if e.get("note"):
            lines.append(f"      note: {e['note']}")
    return "\n".join(lines)
