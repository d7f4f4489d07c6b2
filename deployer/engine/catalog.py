"""The account's catalog: databases, schemas, stages and functions.

Pure data plus JSON (de)serialisation. On disk it is a snapshot (catalog.json) plus a
journal (catalog.log) of function changes since: creating or dropping a function appends
one line instead of rewriting every function, so an apply of N models writes O(N) bytes,
not O(N^2). Other changes, and a journal grown longer than the catalog, rewrite the
snapshot (atomically) and empty the journal. Tables live in DuckDB, not here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

from deployer import atomic
from deployer.engine import sqltypes


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class Stage:
    database: str
    schema: str
    name: str
    created_on: str
    comment: str | None = None
    encryption: str = "SNOWFLAKE_FULL"


@dataclass(frozen=True)
class Function:
    database: str
    schema: str
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]  # full types
    arg_defaults: tuple[str | None, ...]
    returns: str  # full type, or "TABLE" for a table function (its columns below)
    handler: str
    runtime_version: str
    created_on: str
    columns: tuple[tuple[str, str], ...] = ()  # a table function's output: (stored name, full type)
    secure: bool = False
    strict: bool = False
    volatility: str = "VOLATILE"
    comment: str | None = None
    imports: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    installed_packages: tuple[str, ...] = ()
    external_access_integrations: tuple[str, ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()
    log_level: str | None = None
    trace_level: str | None = None
    body: str | None = None

    @property
    def is_table(self) -> bool:
        return self.returns == "TABLE"

    @property
    def short_types(self) -> tuple[str, ...]:
        return tuple(sqltypes.short(t) for t in self.arg_types)

    @property
    def key(self) -> tuple:
        return (self.database, self.schema, self.name, self.short_types)

    @property
    def duck_name(self) -> str:
        """A DuckDB function name unique to this overload."""
        raw = "__".join((self.database, self.schema, self.name) + self.short_types)
        return "udf__" + "".join(c if c.isalnum() else "_" for c in raw).lower() + "_" + \
            format(abs(hash_text(raw)), "x")


def hash_text(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16)


class Catalog:
    def __init__(self, databases: dict | None = None, stages: list[Stage] | None = None,
                 functions=()):
        self.databases: dict[str, dict] = databases if databases is not None else {}  # name -> {created_on, schemas: {name: created_on}}
        self.stages: list[Stage] = stages if stages is not None else []
        # Functions by key, in creation order: lookups stay O(1) with thousands of them.
        self._by_key: dict[tuple, Function] = {}
        self._names: dict[tuple, dict[tuple, Function]] = {}
        for f in functions:
            self._add(f)
        self.journal: list[str] = []  # function changes not yet written (JSON lines)
        self.journal_lines = 0  # lines already in the journal file
        self.snapshot_dirty = False  # a change the journal cannot express

    @property
    def functions(self) -> list[Function]:
        return list(self._by_key.values())

    # -- databases and schemas --------------------------------------------
    def has_database(self, db: str) -> bool:
        return db in self.databases

    def has_schema(self, db: str, schema: str) -> bool:
        return db in self.databases and schema in self.databases[db]["schemas"]

    def add_database(self, db: str) -> None:
        self.databases[db] = {"created_on": now(), "schemas": {"PUBLIC": now()}}
        self.snapshot_dirty = True

    def add_schema(self, db: str, schema: str) -> None:
        self.databases[db]["schemas"][schema] = now()
        self.snapshot_dirty = True

    def drop_database(self, db: str) -> None:
        del self.databases[db]
        self.stages = [s for s in self.stages if s.database != db]
        self._drop_where(lambda f: f.database == db)

    def drop_schema(self, db: str, schema: str) -> None:
        del self.databases[db]["schemas"][schema]
        self.stages = [s for s in self.stages if (s.database, s.schema) != (db, schema)]
        self._drop_where(lambda f: (f.database, f.schema) == (db, schema))

    # -- stages -----------------------------------------------------------
    def stage(self, db: str, schema: str, name: str) -> Stage | None:
        for s in self.stages:
            if (s.database, s.schema, s.name) == (db, schema, name):
                return s
        return None

    def put_stage(self, stage: Stage) -> None:
        self.drop_stage(stage.database, stage.schema, stage.name)
        self.stages.append(stage)

    def drop_stage(self, db: str, schema: str, name: str) -> None:
        self.stages = [s for s in self.stages if (s.database, s.schema, s.name) != (db, schema, name)]
        self.snapshot_dirty = True

    # -- functions ----------------------------------------------------------
    def function(self, db: str, schema: str, name: str, short_types: tuple[str, ...]) -> Function | None:
        return self._by_key.get((db, schema, name, tuple(short_types)))

    def overloads(self, db: str, schema: str, name: str) -> list[Function]:
        return list(self._names.get((db, schema, name), {}).values())

    def put_function(self, fn: Function) -> None:
        self._forget(fn.key)
        self._add(fn)
        self.journal.append(json.dumps({"put": _fields(fn)}, sort_keys=True))

    def drop_function(self, fn: Function) -> None:
        self._forget(fn.key)
        self.journal.append(json.dumps({"drop": list(fn.key[:3]) + [list(fn.key[3])]}))

    def update_function(self, fn: Function, **changes) -> Function:
        new = replace(fn, **changes)
        self.drop_function(fn)
        self.put_function(new)
        return new

    def _add(self, fn: Function) -> None:
        self._by_key[fn.key] = fn
        self._names.setdefault(fn.key[:3], {})[fn.key] = fn

    def _forget(self, key: tuple) -> None:
        if self._by_key.pop(key, None) is not None:
            same = self._names.get(key[:3], {})
            same.pop(key, None)
            if not same:
                self._names.pop(key[:3], None)

    def _drop_where(self, test) -> None:
        for key in [k for k, f in self._by_key.items() if test(f)]:
            self._forget(key)
        self.snapshot_dirty = True

    def replay(self, line: str) -> None:
        entry = json.loads(line)
        if "put" in entry:
            self._add(_function(entry["put"]))
        else:
            db, schema, name, types = entry["drop"]
            self._forget((db, schema, name, tuple(types)))

    # -- JSON ---------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({
            "format": 1,
            "databases": self.databases,
            "stages": [asdict(s) for s in self.stages],
            "functions": [_fields(f) for f in self.functions],
        }, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Catalog":
        data = json.loads(text)
        fns = [_function(f) for f in data.get("functions", [])]
        return cls(data.get("databases", {}), [Stage(**s) for s in data.get("stages", [])], fns)


_FUNCTION_FIELDS = tuple(f.name for f in fields(Function))


def _fields(fn: Function) -> dict:
    """The function's fields for JSON: its values are strings, numbers, booleans, None and
    tuples of them, which json writes as they are (asdict's deep copy took ~0.3 ms each)."""
    return {name: getattr(fn, name) for name in _FUNCTION_FIELDS}


def _function(f: dict) -> Function:
    for k, v in f.items():
        if isinstance(v, list):
            f[k] = tuple(tuple(x) if isinstance(x, list) else x for x in v)
    return Function(**f)


def journal_path(path: Path) -> Path:
    return path.with_suffix(".log")


def load(path: Path) -> Catalog:
    try:
        catalog = Catalog.from_json(path.read_text()) if path.exists() else Catalog()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path.name} is truncated or corrupt ({type(exc).__name__}: {exc})") from None
    log = journal_path(path)
    if log.exists():
        lines = log.read_text().splitlines()
        for i, line in enumerate(lines):
            try:
                catalog.replay(line)
            except (ValueError, TypeError, KeyError) as exc:
                if i == len(lines) - 1 and isinstance(exc, ValueError):
                    break  # a line cut short by a crash: that change never completed
                raise ValueError(f"{log.name} line {i + 1} is corrupt ({type(exc).__name__}: {exc})") from None
        catalog.journal_lines = len(lines)
    return catalog


def save(catalog: Catalog, path: Path) -> None:
    """Append the function changes to the journal; rewrite the snapshot when something else
    changed or the journal outgrew the catalog (so replaying it stays cheap)."""
    log = journal_path(path)
    written = catalog.journal_lines + len(catalog.journal)
    if catalog.snapshot_dirty or written > max(256, 2 * len(catalog.functions)) or not path.exists():
        # Write to a temporary file then rename, so a crash never leaves half a catalog;
        # the journal is emptied only once the snapshot holding its changes is in place.
        for left in atomic.leftovers(path):  # a writer killed mid-write (we hold the lock)
            left.unlink(missing_ok=True)
        atomic.write_text(path, catalog.to_json())
        log.unlink(missing_ok=True)
        catalog.journal_lines = 0
    elif catalog.journal:
        with open(log, "a") as fh:
            fh.write("".join(line + "\n" for line in catalog.journal))
        catalog.journal_lines = written
    catalog.journal.clear()
    catalog.snapshot_dirty = False
