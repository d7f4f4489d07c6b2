"""One apply at a time per schema.

On a Snowflake target the lock is an object in the account whose creation fails when it
exists: a stage named DEPLOYER_LOCK in the deployment's schema, created without IF NOT
EXISTS, with the holder, host, command and time in its COMMENT. A stage needs no privilege
beyond the CREATE STAGE the deployment needs anyway, and creating it first proves that
privilege before anything else is written. It is taken before live state is read and dropped
at the end, on failure and on Ctrl-C; `deployer unlock --force` breaks a stale one.

The local target keeps the engine's file lock (the OS frees it when a process dies), which
writes the same holder record beside it, so both say who holds the lock and since when.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from deployer.codegen import sql_string
from deployer.desired import DesiredState
from deployer.errors import DeployerError, SQLError
from deployer.identifiers import qualified
from deployer.session import Session

LOCK_NAME = "DEPLOYER_LOCK"


class LockedError(DeployerError):
    """Another deployment holds the lock."""


def holder_record(command: str) -> dict:
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return {"deployer_lock": {"holder": user, "host": os.uname().nodename, "pid": os.getpid(),
                              "command": command, "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}}


def describe_holder(record: dict | None, now: datetime | None = None) -> str:
    """`alice@build-7 (deployer apply, since 2026-11-28T08:00:00+00:00, 3m ago)`."""
    info = (record or {}).get("deployer_lock") if isinstance(record, dict) else None
    if not isinstance(info, dict):
        return "an unknown holder"
    since = str(info.get("since", "?"))
    try:
        age = (now or datetime.now(timezone.utc)) - datetime.fromisoformat(since)
        ago = f", {_duration(age.total_seconds())} ago"
    except ValueError:
        ago = ""
    return f"{info.get('holder', '?')}@{info.get('host', '?')} (deployer {info.get('command', '?')}, since {since}{ago})"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _name(state: DesiredState) -> str:
    return qualified(state.database, state.schema, LOCK_NAME)


def read(session: Session, state: DesiredState) -> dict | None:
    """The holder record of the schema's lock, {} when held by something unreadable, None when free."""
    schema = qualified(state.database, state.schema)
    rows = [r for r in session.run(f"SHOW STAGES LIKE '{LOCK_NAME}' IN SCHEMA {schema}").dicts()
            if r.get("name") == LOCK_NAME]
    if not rows:
        return None
    try:
        record = json.loads(rows[0].get("comment") or "")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def acquire(session: Session, state: DesiredState, command: str) -> None:
    comment = json.dumps(holder_record(command), separators=(",", ":"))
    try:
        session.run(f"CREATE STAGE {_name(state)} COMMENT = {sql_string(comment)}")
    except SQLError as exc:
        held = None
        try:
            held = read(session, state)
        except SQLError:
            pass
        if held is not None:
            raise LockedError(
                f"target {state.target.name} is locked: {describe_holder(held)} holds "
                f"{_name(state)}; wait for it to finish, or if it died, run "
                f"`deployer unlock --force -t {state.target.name}`") from None
        raise DeployerError(
            f"cannot take the deployment lock {_name(state)} on target {state.target.name}: {exc} "
            f"(the role needs USAGE on the database and schema and CREATE STAGE on the schema)") from None


def release(session: Session, state: DesiredState) -> None:
    session.run(f"DROP STAGE IF EXISTS {_name(state)}")


@contextmanager
def held(session: Session, state: DesiredState, command: str) -> Iterator[None]:
    """The schema's lock for the body of a command; a local target's file lock already serialises."""
    if state.target.type == "local":
        yield
        return
    acquire(session, state, command)
    try:
        yield
    finally:
        try:
            release(session, state)
        except SQLError as exc:
            print(f"warning: could not release the deployment lock {_name(state)}: {exc}; "
                  f"run `deployer unlock --force -t {state.target.name}`", file=sys.stderr)
