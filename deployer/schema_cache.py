"""Which rendered manifest documents already passed the JSON Schema, so an unchanged
manifest is not validated (nor jsonschema imported, ~0.1 s) again.

A document's key is a SHA-256 over the document itself, encoded with the type of every
value and key (1, 1.0, True and "1" differ, as they do to the schema), the schema's text,
the jsonschema package in use (where it is installed and when) and deployer's version.
Only passes are kept (in `<manifest folder>/.deployer/cache/schema.json`); a document with
problems is validated every time, so every message comes from the validator itself. A
document holding anything but mappings, lists, strings, numbers, booleans and nulls (a
YAML date, say) is never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from deployer import __version__

VERSION = 1
LIMIT = 64  # documents kept: a few targets and variable sets of a manifest
FILE = Path(".deployer") / "cache" / "schema.json"

# Where deployer.manifest.schema reads the schema from, in its order; the module's own text
# is part of the key too, so moving the schema elsewhere can only miss, never hit stale.
_SCHEMA_MODULE = Path(__file__).resolve().parent / "manifest" / "schema.py"
_SCHEMA_CANDIDATES = (
    Path(__file__).resolve().parent / "schema" / "deploy.schema.json",
    Path(__file__).resolve().parents[1] / "schemas" / "deploy.schema.json",
)


class _Uncacheable(Exception):
    pass


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if value is None:
        out.append("n")
    elif kind is bool:
        out.append("t" if value else "f")
    elif kind is int:
        out.append(f"i{value};")
    elif kind is float:
        out.append(f"d{value!r};")
    elif kind is str:
        out.append(f"s{len(value)}:")
        out.append(value)
    elif kind is list:
        out.append(f"l{len(value)}[")
        for item in value:
            _encode(item, out)
        out.append("]")
    elif kind is dict:
        out.append(f"m{len(value)}{{")
        for k, v in value.items():
            _encode(k, out)
            _encode(v, out)
        out.append("}")
    else:
        raise _Uncacheable(kind.__name__)


def _environment() -> str | None:
    """The schema, its reader and the validator package, or None when the schema is not found."""
    digest = hashlib.sha256()
    for path in _SCHEMA_CANDIDATES:
        if path.is_file():
            digest.update(path.read_bytes())
            break
    else:
        return None
    try:
        digest.update(_SCHEMA_MODULE.read_bytes())
    except OSError:
        return None
    import importlib.util

    spec = importlib.util.find_spec("jsonschema")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent
    for name in sorted(os.listdir(folder)):  # an upgrade rewrites the package's files
        if name.endswith(".py"):
            st = os.stat(folder / name)
            digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    digest.update(f"{folder};{__version__};{VERSION}".encode())
    return digest.hexdigest()


def key(document: Any) -> str | None:
    """The document's key, or None when it cannot be cached."""
    environment = _environment()
    if environment is None:
        return None
    out: list[str] = []
    try:
        _encode(document, out)
    except _Uncacheable:
        return None
    digest = hashlib.sha256(environment.encode())
    for part in out:
        digest.update(part.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _read(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("format") != VERSION or not isinstance(data.get("passed"), list):
        return []
    return [k for k in data["passed"] if isinstance(k, str)]


def _write(path: Path, passed: list[str]) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".schema-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": VERSION, "passed": passed[-LIMIT:]}, fh)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only folder: the next run validates again


def errors(document: Any, root: Path, validate: Callable[[Any], Iterable]) -> list:
    """`validate(document)`'s problems as a list; none, without calling it, when this exact
    document passed before (in the manifest folder `root`)."""
    path = root / FILE
    found = key(document)
    if found is not None and found in _read(path):
        return []
    problems = list(validate(document))
    if found is not None and not problems:
        passed = [k for k in _read(path) if k != found] + [found]
        _write(path, passed)
    return problems
