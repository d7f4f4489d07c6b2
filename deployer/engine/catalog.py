"""The account's catalog: databases, schemas, stages and functions.

Pure data plus JSON (de)serialisation; session.py loads it at start and saves it
(atomically) after every change. Tables live in DuckDB, not here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

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
    returns: str
    handler: str
    runtime_version: str
    created_on: str
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


@dataclass
class Catalog:
    databases: dict[str, dict] = field(default_factory=dict)  # name -> {created_on, schemas: {name: created_on}}
    stages: list[Stage] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)

    # -- databases and schemas --------------------------------------------
    def has_database(self, db: str) -> bool:
        return db in self.databases

    def has_schema(self, db: str, schema: str) -> bool:
        return db in self.databases and schema in self.databases[db]["schemas"]

    def add_database(self, db: str) -> None:
        self.databases[db] = {"created_on": now(), "schemas": {"PUBLIC": now()}}

    def add_schema(self, db: str, schema: str) -> None:
        self.databases[db]["schemas"][schema] = now()

    def drop_database(self, db: str) -> None:
        del self.databases[db]
        self.stages = [s for s in self.stages if s.database != db]
        self.functions = [f for f in self.functions if f.database != db]

    def drop_schema(self, db: str, schema: str) -> None:
        del self.databases[db]["schemas"][schema]
        self.stages = [s for s in self.stages if (s.database, s.schema) != (db, schema)]
        self.functions = [f for f in self.functions if (f.database, f.schema) != (db, schema)]

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

    # -- functions ----------------------------------------------------------
    def function(self, db: str, schema: str, name: str, short_types: tuple[str, ...]) -> Function | None:
        for f in self.functions:
            if f.key == (db, schema, name, tuple(short_types)):
                return f
        return None

    def overloads(self, db: str, schema: str, name: str) -> list[Function]:
        return [f for f in self.functions if (f.database, f.schema, f.name) == (db, schema, name)]

    def put_function(self, fn: Function) -> None:
        self.functions = [f for f in self.functions if f.key != fn.key]
        self.functions.append(fn)

    def drop_function(self, fn: Function) -> None:
        self.functions = [f for f in self.functions if f.key != fn.key]

    def update_function(self, fn: Function, **changes) -> Function:
        new = replace(fn, **changes)
        self.functions = [new if f.key == fn.key else f for f in self.functions]
        return new

    # -- JSON ---------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({
            "format": 1,
            "databases": self.databases,
            "stages": [asdict(s) for s in self.stages],
            "functions": [asdict(f) for f in self.functions],
        }, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Catalog":
        data = json.loads(text)
        fns = []
        for f in data.get("functions", []):
            for k, v in f.items():
                if isinstance(v, list):
                    f[k] = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            fns.append(Function(**f))
        return cls(data.get("databases", {}), [Stage(**s) for s in data.get("stages", [])], fns)


def load(path: Path) -> Catalog:
    if not path.exists():
        return Catalog()
    return Catalog.from_json(path.read_text())


def save(catalog: Catalog, path: Path) -> None:
    """Write to a temporary file then rename, so a crash never leaves half a catalog."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(catalog.to_json())
    os.replace(tmp, path)
