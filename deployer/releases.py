"""Release records: what each successful deployment of a function was, kept with the target.

A record is a small JSON file on the managed stage, `@STAGE/<MODEL>/.releases/<id>.json`,
written by apply once a function's smoke tests passed on the target. It holds the exact
CREATE statement, the content addresses it imports, the tests it passed, the manifest, the
git commit, who, when and from which host, so any checkout sees the same history and
`rollback` can re-create the function without uploading anything.

A function whose spec has no record has not passed its tests since it was created (a failed
or interrupted apply): plans show it and apply tests it again.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

FOLDER = ".releases"
FORMAT = 1
_RECORD = re.compile(r"(?:^|/)(?P<model>[^/]+)/\.releases/(?P<id>[^/]+)\.json$")


@dataclass(frozen=True)
class Release:
    id: str  # "20261128T083700Z-3f2a9c1b0d4e": when, then the spec hash's start
    model: str
    spec: str
    signature: str
    arg_types: tuple[str, ...]
    statement: str  # the exact CREATE statement apply sent
    imports: tuple[str, ...]  # paths under the stage (content addresses)
    features: tuple[tuple[str, str], ...]  # (name, manifest type), for the smoke tests
    tests: tuple[dict, ...]  # {"inputs": [...], "expect": ..., "tolerance": ...}
    created_at: str
    manifest: str | None = None
    commit: str | None = None
    who: str | None = None
    host: str | None = None
    tool_version: str | None = None
    columns: tuple[str, ...] | None = None  # a table function's outputs, for its smoke tests

    @property
    def path(self) -> str:
        """Where the record lies under the stage."""
        return f"{self.model}/{FOLDER}/{self.id}.json"


def is_record(path: str) -> bool:
    return bool(_RECORD.search(path))


def record_path(path: str) -> tuple[str, str] | None:
    """(model folder, release id) for a record's path under the stage, else None."""
    match = _RECORD.search(path)
    return (match["model"], match["id"]) if match else None


def draft(*, model: str, spec: str, signature: str, arg_types: tuple[str, ...], statement: str,
          imports: tuple[str, ...], features: tuple[tuple[str, str], ...], tests: tuple[dict, ...],
          manifest: str | None, commit: str | None, tool_version: str,
          columns: tuple[str, ...] | None = None) -> dict[str, Any]:
    """What the plan knows of a release; `finish` adds who, when and where at write time."""
    record = {"format": FORMAT, "model": model, "spec": spec, "signature": signature, "arg_types": list(arg_types),
              "statement": statement, "imports": list(imports), "features": [list(f) for f in features],
              "tests": list(tests), "manifest": manifest, "commit": commit, "tool_version": tool_version}
    if columns is not None:
        record["columns"] = list(columns)
    return record


def finish(record: dict[str, Any], now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """(file name, complete record) for writing."""
    now = now or datetime.now(timezone.utc)
    try:
        who = getpass.getuser()
    except Exception:  # no login name in some containers
        who = "unknown"
    release_id = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{record['spec'].split(':')[-1][:12]}"
    done = {**record, "id": release_id, "created_at": now.isoformat(timespec="microseconds"),
            "who": who, "host": os.uname().nodename}
    return f"{release_id}.json", done


def parse(text: str) -> Release | None:
    """A record read back from the stage, or None when it is not one of ours."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        return Release(
            id=str(data["id"]), model=str(data["model"]), spec=str(data["spec"]), signature=str(data["signature"]),
            arg_types=tuple(data["arg_types"]), statement=str(data["statement"]), imports=tuple(data["imports"]),
            features=tuple((str(n), str(t)) for n, t in data["features"]), tests=tuple(data["tests"]),
            created_at=str(data["created_at"]), manifest=data.get("manifest"), commit=data.get("commit"),
            who=data.get("who"), host=data.get("host"), tool_version=data.get("tool_version"),
            columns=tuple(map(str, data["columns"])) if isinstance(data.get("columns"), list) else None)
    except (ValueError, KeyError, TypeError):
        return None


def newest_first(releases: list[Release] | tuple[Release, ...]) -> list[Release]:
    return sorted(releases, key=lambda r: (r.created_at, r.id), reverse=True)
