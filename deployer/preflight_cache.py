"""Which models already passed preflight, so an unchanged model is not run again.

A model's key is a SHA-256 over everything its preflight outcome depends on: the rendered
CREATE FUNCTION (handler code, IMPORTS named by content digest, pinned PACKAGES), the
digests of its files, its smoke tests and feature types, the synthetic batch size, whether
it ran isolated, this Python and the versions of its packages here, and the engine's worker.
Only passes are kept (in `<manifest folder>/.deployer/cache/preflight.json`); a failure is
run again every time. `--no-cache` ignores the file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from deployer import __version__, atomic, channel

VERSION = 1
LIMIT = 50_000  # passes kept in the file


def _engine_fingerprint() -> str:
    """The worker decides how a handler runs: a change to it invalidates every pass."""
    worker = Path(__file__).parent / "engine" / "worker.py"
    return hashlib.sha256(worker.read_bytes()).hexdigest()


def model_key(rendered, *, isolated: bool, synthetic_rows: int, pins: tuple[str, ...]) -> str:
    model = rendered.model
    here = channel.installed()
    versions = {}
    for pin in pins:
        name = channel.key(pin.partition("==")[0])
        versions[name] = here.get(name)
    payload = {
        "format": VERSION,
        "deployer": __version__,
        "engine": _engine_fingerprint(),
        "python": [sys.executable, sys.version],
        "sql": rendered.sql,
        "files": [[f.file_name, f.digest] for f in rendered.files],
        "features": [[f.name, f.type] for f in model.features],
        "tests": [[list(t.inputs), t.expect, t.tolerance] for t in model.tests],
        "synthetic_rows": synthetic_rows,
        "isolated": bool(isolated),
        "versions": versions,
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class PreflightCache:
    """Keys of models that passed; `hits` counts models not run again."""

    def __init__(self, path: Path | None):
        self.path = path
        self.hits = 0
        self._passed: dict[str, dict] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("format") == VERSION:
                    self._passed = dict(data.get("passed", {}))
            except (OSError, ValueError):
                self._passed = {}  # a broken cache only costs a re-run

    def passed(self, key: str) -> dict | None:
        entry = self._passed.get(key)
        if entry is not None:
            self.hits += 1
        return entry

    def record(self, key: str, model: str, notes: list[str]) -> None:
        self._passed.pop(key, None)  # re-inserted last: the newest entry
        self._passed[key] = {"model": model, "notes": notes}
        self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        # the newest passes are kept: enough for every model of a large manifest, a few times over
        items = list(self._passed.items())[-LIMIT:]
        atomic.write_text(self.path, json.dumps({"format": VERSION, "passed": dict(items)}))
        self._dirty = False
