"""`deployer history` and `deployer rollback`: releases read back from the target.

Rollback re-creates a function from a release record's exact statement, through the same
candidate check as apply, with the release's own smoke tests; its files are still on the
stage (apply keeps the last `keep_releases` releases), so nothing is uploaded. The manifest
stays the source of truth: the next plan shows that the target differs from it, and why.
"""

from __future__ import annotations

from typing import Any

from deployer import identifiers, live
from deployer.desired import DesiredState, SmokeTest
from deployer.errors import DeployerError
from deployer.plan import Change, Plan
from deployer.planner import is_candidate, owned, rollout_steps
from deployer.releases import Release
from deployer.session import Session


class RollbackError(DeployerError):
    pass


def _model_name(raw: str) -> str:
    try:
        return identifiers.normalize(raw)
    except identifiers.IdentifierError as exc:
        raise RollbackError(f"model {raw!r}: {exc}") from None


def _live_specs(state: DesiredState, current: live.LiveState) -> dict[str, Any]:
    return {str(f.meta.get("model")): f for f in current.functions
            if owned(f, state) and not is_candidate(f)}


def history(state: DesiredState, session: Session, model: str | None = None) -> list[dict[str, Any]]:
    current = live.read(session, state)
    wanted = _model_name(model) if model else None
    functions = _live_specs(state, current)
    entries = []
    for release in current.releases:  # newest first
        if wanted is not None and release.model != wanted:
            continue
        function = functions.get(release.model)
        entries.append({
            "model": release.model, "release": release.id, "created_at": release.created_at,
            "who": release.who, "host": release.host, "commit": release.commit, "manifest": release.manifest,
            "spec": release.spec, "live": function is not None and function.meta.get("spec") == release.spec,
            "files_on_stage": all(p in current.files for p in release.imports)})
    if wanted is not None and not entries:
        raise RollbackError(f"no releases of {wanted} on target {state.target.name}")
    return entries


def history_text(state: DesiredState, entries: list[dict[str, Any]]) -> str:
    if not entries:
        return f"No releases on target {state.target.name}."
    lines = [f"Releases on target {state.target.name}, newest first:"]
    for e in entries:
        mark = "* live" if e["live"] else "      "
        where = f"{e['who']}@{e['host']}"
        commit = f" commit {e['commit'][:12]}" if e.get("commit") else ""
        files = "" if e["files_on_stage"] else "  (files removed: cannot roll back)"
        lines.append(f"  {mark} {e['model']} {e['release']}  {e['created_at'][:19]}  {where}{commit}{files}")
    return "\n".join(lines)


def choose(releases: list[Release], live_spec: str | None, release_id: str | None) -> Release:
    """The release to go back to: `release_id` (or a unique prefix of it), else the newest
    release older than the live one."""
    if release_id:
        found = [r for r in releases if r.id == release_id] or [r for r in releases if r.id.startswith(release_id)]
        if len(found) != 1:
            known = ", ".join(r.id for r in releases)
            what = "matches several releases" if found else "is not a release"
            raise RollbackError(f"--to {release_id} {what} of {releases[0].model} (releases: {known})")
        return found[0]
    specs = [r.spec for r in releases]
    if live_spec in specs:
        older = releases[specs.index(live_spec) + 1:]
    else:
        older = [r for r in releases if r.spec != live_spec]
    older = [r for r in older if r.spec != live_spec]
    if not older:
        raise RollbackError(f"{releases[0].model} has no release older than the live one to roll back to")
    return older[0]


def plan_rollback(state: DesiredState, session: Session, model: str, release_id: str | None, *,
                  candidates: bool = True) -> tuple[Plan, Release]:
    name = _model_name(model)
    current = live.read(session, state)
    history_of = [r for r in current.releases if r.model == name]
    if not history_of:
        raise RollbackError(f"no releases of {name} on target {state.target.name} (apply writes one per deployment)")
    function = _live_specs(state, current).get(name)
    live_spec = function.meta.get("spec") if function is not None else None
    release = choose(history_of, live_spec, release_id)
    if release.spec == live_spec:
        raise RollbackError(f"release {release.id} of {name} is already live")
    if function is not None and tuple(function.arg_types) != tuple(release.arg_types):
        raise RollbackError(f"release {release.id} of {name} takes ({', '.join(release.arg_types)}) but the live "
                            f"function takes ({', '.join(function.arg_types)}); roll back a signature change by "
                            "applying the older manifest")
    missing = [p for p in release.imports if p not in current.files]
    if missing:
        raise RollbackError(f"release {release.id} of {name} cannot be restored without an upload: "
                            f"{', '.join(missing)} no longer on the stage (apply keeps the last keep_releases releases)")
    tests = tuple(SmokeTest(tuple(t["inputs"]), t["expect"], t.get("tolerance")) for t in release.tests)
    steps = rollout_steps(state, name, release.arg_types, release.statement, release.features, tests,
                          candidates=candidates, columns=release.columns)
    commit = f", commit {release.commit[:12]}" if release.commit else ""
    change = Change("function", release.signature, ("update",),
                    (f"rollback to release {release.id} ({release.created_at[:19]}{commit})",), steps)
    return Plan(state.target.name, (change,), current.fingerprint()), release
