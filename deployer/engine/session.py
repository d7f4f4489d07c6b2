"""LocalSession: a Snowflake-like account in a folder.

Layout of the folder:
  catalog.json            databases, schemas, stages, functions (catalog.py)
  catalog.log             function changes since catalog.json was written (catalog.py)
  data/<DB>.duckdb        one DuckDB file per database, attached as "DB"; schemas inside
  data/SNOWFLAKE.duckdb   the event table SNOWFLAKE.TELEMETRY.EVENTS (events.py)
  stages/<DB>/<S>/<ST>/   stage files (stages.py)
  .lock                   held while a session is open (lock.py)
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote as urlquote

from deployer import atomic, channel, identifiers, tempdirs
from deployer.engine import catalog as cat
from deployer.engine import events, lock, shapes, sqltypes, stages
from deployer.engine import statements as st
from deployer.errors import NotSupportedError, SQLError
from deployer.session import Progress, Result

# DuckDB (~0.15 s to import), the function workers (deployer.engine.udf) and the CREATE
# FUNCTION checks are imported when a statement first needs them: SHOW, LIST, DESCRIBE,
# GET and the catalog's DDL are answered from the catalog and the stage folders, so a plan
# never loads them.
_DUCK_TYPES_CACHE: dict | None = None


def _duck_types() -> dict:
    global _DUCK_TYPES_CACHE
    if _DUCK_TYPES_CACHE is None:
        import duckdb

        _DUCK_TYPES_CACHE = {"DOUBLE": duckdb.sqltypes.DOUBLE, "BIGINT": duckdb.sqltypes.BIGINT,
                             "VARCHAR": duckdb.sqltypes.VARCHAR, "BOOLEAN": duckdb.sqltypes.BOOLEAN,
                             "JSON": duckdb.sqltypes.DuckDBPyType("JSON")}
    return _DUCK_TYPES_CACHE


def _is_duck_error(exc: BaseException) -> bool:
    """A DuckDB error (none can happen before DuckDB is imported)."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(exc, duckdb.Error)
_DONE = "Statement executed successfully."
_COUNT_COLUMNS = {"INSERT": "number of rows inserted", "UPDATE": "number of rows updated",
                  "DELETE": "number of rows deleted"}


def _status(text: str) -> Result:
    return Result(("status",), ((text,),))


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class LocalSession:
    def __init__(self, path: Path, database: str | None = None, schema: str | None = None, *,
                 udf_timeout: float = 180.0, lock_timeout: float = 10.0,
                 udf_workers: int | None = None,
                 max_live_workers: int | None = None, worker_idle: float = 30.0,
                 reuse_workers: bool | None = None,
                 log_level: str = "INFO",
                 packages_rows: list[tuple] | None = None,
                 isolated_env: bool | None = None,
                 warnings_as_errors: tuple[str, ...] = (),
                 progress=None, command: str = "session"):
        self.path = Path(path)
        # INFORMATION_SCHEMA.PACKAGES rows (name, version, language, runtime): the channel
        # snapshot by default (deployer.channel.local_rows).
        self._packages_rows = packages_rows
        self.isolated_env = isolated_env  # None: deployer.envs.enabled()
        self.warnings_as_errors = tuple(warnings_as_errors)
        self.progress = progress  # where isolated-environment builds report; stderr by default
        self.interpreter_notes: list[str] = []
        self._interpreters: dict[tuple, str | SQLError] = {}
        self._build_locks: dict[tuple, threading.Lock] = {}
        self.path.mkdir(parents=True, exist_ok=True)
        self.udf_timeout = udf_timeout
        # Workers per function: one per core by default (at most 2); a second one starts
        # only when a query keeps the first busy.
        self.udf_workers = udf_workers or min(2, os.cpu_count() or 1)
        self.log_level = log_level  # for functions created without LOG_LEVEL
        self._lock = lock.acquire(self.path, lock_timeout, command)
        # Live workers across all functions: a worker holds its framework and model (up to
        # ~700 MiB with TensorFlow), so an apply that tests 200 models keeps a few, not 200.
        # A dropped or replaced function's idle worker loads the next function started with
        # the same interpreter (its handler module fresh, the frameworks already imported):
        # an apply's candidates then import scikit-learn once, not once per model.
        # DEPLOYER_REUSE_WORKERS=0 starts a new process for every function.
        self._workers_args = (
            max_live_workers or int(os.environ.get("DEPLOYER_MAX_WORKERS", 0)) or max(4, 2 * (os.cpu_count() or 1)),
            worker_idle, os.environ.get("DEPLOYER_REUSE_WORKERS", "1") != "0"
            if reuse_workers is None else reuse_workers)
        self._workers = None  # made when a function first runs (self.workers)
        self._closed = False
        self._pools: dict[tuple, object] = {}  # function key -> deployer.engine.udf.Pool
        self._pending_events: list[tuple] = []
        self._udf_error: SQLError | None = None
        self._guard = threading.Lock()
        tempdirs.sweep()  # what an earlier run killed with SIGKILL left behind
        self._workdir = tempdirs.make("engine")
        self.parameters: dict[str, str] = {}  # ALTER SESSION SET ...
        self._con = None  # DuckDB, connected when a statement first needs it (self.con)
        self._row_tables: dict[str, None] = {}  # temporary tables of lifted rows made so far, oldest first
        self._shape_cache = None  # translations kept by shape (deployer.engine.translate.ShapeCache)
        try:
            self.catalog = cat.load(self.path / "catalog.json")
            self._md5 = stages.Md5Cache(self.path / "stages" / ".md5.json")
            (self.path / "data").mkdir(exist_ok=True)
            # Functions are registered with DuckDB when a statement first calls them, and the
            # PACKAGES view is built when a statement first names it: opening an account costs
            # the same with 0 or 10,000 functions, and a plan that never asks pays nothing.
            self._registered: set[tuple] = set()
            self._offered_by_runtime: dict | None = None
            self._installed_for: dict[tuple, tuple | SQLError] = {}  # (packages, runtime) -> pins or error
            self._packages_table = False
            self.database: str | None = None
            self.schema: str | None = None
            if database is not None:
                self.database = identifiers.normalize(database)
                if not self.catalog.has_database(self.database):
                    self._create_database(self.database)
                self.schema = "PUBLIC"
            if schema is not None:
                if self.database is None:
                    raise SQLError("a schema needs a database: pass database= too")
                self.schema = identifiers.normalize(schema)
                if not self.catalog.has_schema(self.database, self.schema):
                    self._create_schema(self.database, self.schema)
        except BaseException as exc:
            self.close()
            if isinstance(exc, SQLError) or not isinstance(exc, Exception):
                raise
            raise SQLError(f"cannot open the local account at {self.path}: {type(exc).__name__}: "
                           f"{str(exc)[:300]}; `deployer engine check` says what is wrong and "
                           "`deployer engine repair` rebuilds what it can") from None

    @property
    def con(self):
        """The DuckDB connection, opened (every database attached) on first use."""
        if self._con is None:
            if self._closed:
                raise SQLError("the local session is closed")
            self._con = self._connect()
        return self._con

    def _connect(self):
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            # Enough DuckDB threads to keep every function worker busy: a thread waiting on
            # a worker's pipe uses no CPU, so more threads than cores is fine here.
            con.execute(f"SET threads = {max(os.cpu_count() or 1, self.udf_workers)}")
            for db in [*self.catalog.databases, events.DATABASE]:
                con.execute(f"ATTACH {_sql_literal(str(self._db_file(db)))} AS {_qid(db)}")
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{events.DATABASE}"."{events.SCHEMA}"')
            con.execute(events.DDL)
            # Snowflake's context function that DuckDB lacks; the engine needs no warehouse.
            con.execute("CREATE OR REPLACE MACRO current_warehouse() AS 'LOCAL'")
        except BaseException as exc:
            con.close()
            if not isinstance(exc, Exception):
                raise
            raise SQLError(f"cannot open the local account at {self.path}: {type(exc).__name__}: "
                           f"{str(exc)[:300]}; `deployer engine check` says what is wrong and "
                           "`deployer engine repair` rebuilds what it can") from None
        return con

    @property
    def workers(self):
        """The live function workers across all functions (deployer.engine.udf.Workers)."""
        if self._workers is None:
            from deployer.engine.udf import Workers

            with self._guard:  # start_ahead's thread may ask first
                if self._workers is None:
                    cap, idle, reuse = self._workers_args
                    self._workers = Workers(cap, idle, reuse=reuse)
        return self._workers

    def _rows(self) -> list[tuple]:
        if self._packages_rows is None:
            self._packages_rows = channel.local_rows()
        return self._packages_rows

    @property
    def _offered(self) -> dict:
        """runtime -> {package key: sorted versions}, for CREATE FUNCTION's PACKAGES check."""
        if self._offered_by_runtime is None:
            found: dict[str, dict[str, list[str]]] = {}
            for name, version, _, runtime in self._rows():
                found.setdefault(runtime, {}).setdefault(channel.key(name), []).append(version)
            self._offered_by_runtime = {rt: {n: channel.sort_versions(v) for n, v in pkgs.items()}
                                        for rt, pkgs in found.items()}
        return self._offered_by_runtime

    def _need_packages(self, sql: str) -> None:
        """Build SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES before the first statement naming it."""
        if self._packages_table or "PACKAGES" not in sql.upper():
            return
        db, schema = events.DATABASE, events.INFO_SCHEMA_STORED
        self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{db}"."{schema}"')
        self.con.execute(f'CREATE OR REPLACE TABLE "{db}"."{schema}"."PACKAGES" ("PACKAGE_NAME" VARCHAR, '
                         '"VERSION" VARCHAR, "LANGUAGE" VARCHAR, "RUNTIME_VERSION" VARCHAR)')
        rows = self._rows()
        for start in range(0, len(rows), 2000):  # literal VALUES: no pandas, one parse per chunk
            values = ", ".join("(" + ", ".join("NULL" if v is None else _sql_literal(str(v)) for v in r) + ")"
                               for r in rows[start:start + 2000])
            self.con.execute(f'INSERT INTO "{db}"."{schema}"."PACKAGES" VALUES {values}')
        self._packages_table = True

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "LocalSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        idle = [w for pool in self._pools.values() for w in pool.close(wait=True)]
        self._pools.clear()
        workers = getattr(self, "_workers", None)
        if workers is not None:
            workers.stop()  # first: a worker start_ahead begins from now on is not kept
            idle += workers.drain()
        if idle:
            from deployer.engine.udf import close_all

            close_all(idle)  # together: one grace period, not one per worker
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
        md5 = getattr(self, "_md5", None)
        if md5 is not None:
            try:
                md5.save()
            except OSError:
                pass  # a lost cache only costs a re-read
        shutil.rmtree(self._workdir, ignore_errors=True)
        self._lock.release()

    # -- public interface --------------------------------------------------
    def run(self, sql: str) -> Result:
        return self._guarded(lambda: self._dispatch(st.parse(sql), sql), sql)

    def describe(self, sql: str) -> Result:
        """The columns (and types where known) `sql` would return, without rows.

        For a client's describe-only request: a query is bound but not run; SHOW, DESCRIBE
        and LIST are run (they change nothing); other statements are not run at all and
        report the status column they would return.
        """
        return self._guarded(lambda: self._describe(sql), sql)

    def stage_folder(self, location: str) -> tuple[Path, str]:
        """'@st/dir' -> (the stage's folder on disk, 'dir'); the stage must exist.

        A server hands these folders to a client, which copies PUT and GET files itself.
        """
        loc = st.parse_location(location[1:] if location.startswith("@") else location)
        _, root = self._guarded(lambda: self._stage(loc))
        return root, stages.safe_rel(loc.path)

    def _guarded(self, action, sql: str | None = None):
        if self._closed:
            raise SQLError("the local session is closed")
        self._udf_error = None
        try:
            return action()
        except SQLError:
            raise
        except identifiers.IdentifierError as exc:
            raise SQLError(f"SQL compilation error: {exc}") from None
        except Exception as exc:  # never let a raw exception escape
            if _is_duck_error(exc):
                raise self._udf_error or _duck_error(exc, sql) from None
            raise SQLError(f"local engine error: {type(exc).__name__}: {exc}") from None
        finally:
            self._flush_events()

    def put(self, local_path: Path, stage_dir: str, *, overwrite: bool = True,
            link: bool = False, progress: Progress | None = None) -> Result:
        """PUT one file. `link`: hard-link it instead of copying (a throwaway engine: the
        caller promises the file does not change while the session uses it)."""
        loc = st.parse_location(stage_dir[1:] if stage_dir.startswith("@") else stage_dir)
        stmt = st.Put(str(local_path), loc, auto_compress=False, overwrite=overwrite)
        try:
            return self._put(stmt, link=link, progress=progress)
        except SQLError:
            raise
        except Exception as exc:
            raise SQLError(f"local engine error: {type(exc).__name__}: {exc}") from None

    # -- dispatch ------------------------------------------------------------
    def _describe(self, sql: str) -> Result:
        stmt = st.parse(sql)
        if isinstance(stmt, (st.Show, st.DescribeFunction, st.ListFiles)):
            r = self._dispatch(stmt, sql)
            return Result(r.columns, (), r.types)
        if isinstance(stmt, st.Put):
            return Result(shapes.PUT_COLUMNS)
        if isinstance(stmt, st.Get):
            return Result(shapes.GET_COLUMNS)
        if isinstance(stmt, st.Remove):
            return Result(shapes.REMOVE_COLUMNS)
        if stmt is not None:
            return Result(("status",), (), ("VARCHAR",))
        self._need_packages(sql)
        t = self._translated(sql)
        self._create_rows(t)
        if t.kind == "SELECT":
            described = self.con.execute("DESCRIBE " + t.sql).fetchall()
            return Result(tuple(d[0] for d in described), (), tuple(d[1] for d in described))
        if t.kind in _COUNT_COLUMNS:
            return Result((_COUNT_COLUMNS[t.kind],), (), ("BIGINT",))
        return Result(("status",), (), ("VARCHAR",))

    def _dispatch(self, stmt, sql: str) -> Result:
        if stmt is None:
            return self._generic(sql)
        handler = getattr(self, "_" + type(stmt).__name__.lower())
        return handler(stmt)

    # -- names -----------------------------------------------------------------
    def _schema_of(self, name: st.Name) -> tuple[str, str, str]:
        """(db, schema, object) for a 1-3 part object name, checked to exist."""
        if len(name) == 3:
            db, schema, obj = name
        elif len(name) == 2:
            db, (schema, obj) = self.database, name
        else:
            db, schema, obj = self.database, self.schema, name[0]
        if db is None or schema is None:
            raise SQLError("SQL compilation error: Cannot perform operation. This session does "
                           "not have a current database/schema. Call 'USE DATABASE', or use a "
                           "qualified name.")
        if not self.catalog.has_database(db):
            raise SQLError(f"SQL compilation error: Database '{db}' does not exist or not authorized.")
        if not self.catalog.has_schema(db, schema):
            raise SQLError(f"SQL compilation error: Schema '{db}.{schema}' does not exist or not "
                           "authorized.")
        return db, schema, obj

    def _save(self) -> None:
        cat.save(self.catalog, self.path / "catalog.json")

    # -- databases and schemas ---------------------------------------------------
    def _db_file(self, db: str) -> Path:
        return self.path / "data" / (urlquote(db, safe="") + ".duckdb")

    def _attach(self, db: str) -> None:
        self.con.execute(f"ATTACH {_sql_literal(str(self._db_file(db)))} AS {_qid(db)}")

    def _create_database(self, db: str) -> None:
        self._attach(db)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {_qid(db)}.\"PUBLIC\"")
        self.catalog.add_database(db)
        self._save()

    def _create_schema(self, db: str, schema: str) -> None:
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {_qid(db)}.{_qid(schema)}")
        self.catalog.add_schema(db, schema)
        self._save()

    def _createdatabase(self, s: st.CreateDatabase) -> Result:
        if s.name == events.DATABASE:
            raise SQLError(f"SQL compilation error: Database '{s.name}' is reserved.")
        if self.catalog.has_database(s.name):
            if s.if_not_exists:
                return _status(f"{s.name} already exists, statement succeeded.")
            if not s.or_replace:
                raise SQLError(f"SQL compilation error: Object '{s.name}' already exists.")
            self._drop_database(s.name)
        self._create_database(s.name)
        self.database, self.schema = s.name, "PUBLIC"
        return _status(f"Database {s.name} successfully created.")

    def _createschema(self, s: st.CreateSchema) -> Result:
        db = s.name[0] if len(s.name) == 2 else self.database
        schema = s.name[-1]
        if db is None:
            raise SQLError("SQL compilation error: Cannot perform CREATE SCHEMA. This session does"
                           " not have a current database. Call 'USE DATABASE', or use a qualified name.")
        if not self.catalog.has_database(db):
            raise SQLError(f"SQL compilation error: Database '{db}' does not exist or not authorized.")
        if self.catalog.has_schema(db, schema):
            if s.if_not_exists:
                return _status(f"{schema} already exists, statement succeeded.")
            if not s.or_replace:
                raise SQLError(f"SQL compilation error: Object '{schema}' already exists.")
            self._drop_schema(db, schema)
        self._create_schema(db, schema)
        self.database, self.schema = db, schema
        return _status(f"Schema {schema} successfully created.")

    def _drop_database(self, db: str) -> None:
        for fn in [f for f in self.catalog.functions if f.database == db]:
            self._unregister(fn)
        self.con.execute(f"DETACH {_qid(db)}")
        self._db_file(db).unlink(missing_ok=True)
        shutil.rmtree(self.path / "stages" / urlquote(db, safe=""), ignore_errors=True)
        self.catalog.drop_database(db)
        self._save()
        if self.database == db:
            self.database = self.schema = None

    def _drop_schema(self, db: str, schema: str) -> None:
        for fn in [f for f in self.catalog.functions if (f.database, f.schema) == (db, schema)]:
            self._unregister(fn)
        self.con.execute(f"DROP SCHEMA IF EXISTS {_qid(db)}.{_qid(schema)} CASCADE")
        shutil.rmtree(stages.stage_root(self.path, db, schema, "x").parent, ignore_errors=True)
        self.catalog.drop_schema(db, schema)
        self._save()
        if (self.database, self.schema) == (db, schema):
            self.schema = None

    def _drop(self, s: st.Drop) -> Result:
        if s.kind == "DATABASE":
            db = s.name[0]
            if len(s.name) != 1 or not self.catalog.has_database(db):
                if s.if_exists:
                    return _status(f"Drop statement executed successfully ({db} already dropped).")
                raise SQLError(f"SQL compilation error: Database '{db}' does not exist or not authorized.")
            self._drop_database(db)
            return _status(f"{db} successfully dropped.")
        if s.kind == "SCHEMA":
            db = s.name[0] if len(s.name) == 2 else self.database
            schema = s.name[-1]
            if db is None or not self.catalog.has_schema(db, schema):
                if s.if_exists:
                    return _status(f"Drop statement executed successfully ({schema} already dropped).")
                raise SQLError(f"SQL compilation error: Schema '{db}.{schema}' does not exist or not authorized.")
            self._drop_schema(db, schema)
            return _status(f"{schema} successfully dropped.")
        # STAGE
        try:
            db, schema, name = self._schema_of(s.name)
        except SQLError:
            if s.if_exists:
                return _status(f"Drop statement executed successfully ({s.name[-1]} already dropped).")
            raise
        if self.catalog.stage(db, schema, name) is None:
            if s.if_exists:
                return _status(f"Drop statement executed successfully ({name} already dropped).")
            raise SQLError(f"SQL compilation error: Stage '{db}.{schema}.{name}' does not exist or not authorized.")
        self.catalog.drop_stage(db, schema, name)
        shutil.rmtree(stages.stage_root(self.path, db, schema, name), ignore_errors=True)
        self._save()
        return _status(f"{name} successfully dropped.")

    def _use(self, s: st.Use) -> Result:
        if s.kind == "DATABASE" or (s.kind == "" and len(s.name) == 1):
            if len(s.name) != 1:
                raise SQLError("SQL compilation error: a database name has one part")
            db = s.name[0]
            if not self.catalog.has_database(db):
                raise SQLError(f"SQL compilation error: Object does not exist, or operation cannot "
                               f"be performed: Database '{db}' does not exist or not authorized.")
            self.database = db
            self.schema = "PUBLIC" if self.catalog.has_schema(db, "PUBLIC") else None
            return _status(_DONE)
        db = s.name[0] if len(s.name) == 2 else self.database
        schema = s.name[-1]
        if db is None or not self.catalog.has_schema(db, schema):
            raise SQLError(f"SQL compilation error: Object does not exist, or operation cannot be "
                           f"performed: Schema '{db}.{schema}' does not exist or not authorized.")
        self.database, self.schema = db, schema
        return _status(_DONE)

    # -- SHOW ------------------------------------------------------------------
    def _in_scope(self, s: st.Show, db: str, schema: str) -> bool:
        if s.scope == "ACCOUNT":
            return True
        if s.scope == "DATABASE":
            want = s.scope_name[0] if s.scope_name else self.database
            return db == want
        if s.scope == "SCHEMA":
            if len(s.scope_name) == 2:
                want = s.scope_name
            elif len(s.scope_name) == 1:
                want = (self.database, s.scope_name[0])
            else:
                want = (self.database, self.schema)
            return (db, schema) == tuple(want)
        # no IN: the current database, else the account
        return self.database is None or db == self.database

    def _check_scope(self, s: st.Show) -> None:
        if s.scope == "SCHEMA":
            name = s.scope_name if len(s.scope_name) == 2 else (self.database, (s.scope_name or (self.schema,))[0])
            if name[0] is None or name[1] is None or not self.catalog.has_schema(*name):
                raise SQLError(f"SQL compilation error: Schema '{name[0]}.{name[1]}' does not exist or not authorized.")
        if s.scope == "DATABASE":
            db = s.scope_name[0] if s.scope_name else self.database
            if db is None or not self.catalog.has_database(db):
                raise SQLError(f"SQL compilation error: Database '{db}' does not exist or not authorized.")

    def _show(self, s: st.Show) -> Result:
        self._check_scope(s)
        if s.kind == "PARAMETERS":
            cols, rows = shapes.show_parameters(s.like, s.scope, self.parameters)
        elif s.kind == "USER FUNCTIONS":
            fns = [f for f in self.catalog.functions
                   if self._in_scope(s, f.database, f.schema) and shapes.like(s.like, f.name)]
            cols, rows = shapes.show_functions(fns)
        elif s.kind == "STAGES":
            items = [x for x in self.catalog.stages
                     if self._in_scope(s, x.database, x.schema) and shapes.like(s.like, x.name)]
            cols, rows = shapes.show_stages(items)
        elif s.kind == "DATABASES":
            dbs = {k: v for k, v in self.catalog.databases.items() if shapes.like(s.like, k)}
            cols, rows = shapes.show_databases(dbs, self.database)
        else:
            items = [(d, name, created) for d, v in self.catalog.databases.items()
                     for name, created in v["schemas"].items()
                     if (s.scope == "ACCOUNT" or d == (s.scope_name[0] if s.scope_name else self.database))
                     and shapes.like(s.like, name)]
            cols, rows = shapes.show_schemas(items, (self.database, self.schema))
        return Result(tuple(cols), tuple(rows))

    # -- stages ----------------------------------------------------------------
    def _createstage(self, s: st.CreateStage) -> Result:
        db, schema, name = self._schema_of(s.name)
        if self.catalog.stage(db, schema, name) is not None:
            if s.if_not_exists:
                return _status(f"{name} already exists, statement succeeded.")
            if not s.or_replace:
                raise SQLError(f"SQL compilation error: Object '{name}' already exists.")
            # replacing a stage discards its files, as in Snowflake
            shutil.rmtree(stages.stage_root(self.path, db, schema, name), ignore_errors=True)
        self.catalog.put_stage(cat.Stage(db, schema, name, cat.now(), s.comment,
                                         s.encryption or "SNOWFLAKE_FULL"))
        stages.stage_root(self.path, db, schema, name).mkdir(parents=True, exist_ok=True)
        self._save()
        return _status(f"Stage area {name} successfully created.")

    def _alterstage(self, s: st.AlterStage) -> Result:
        try:
            db, schema, name = self._schema_of(s.name)
        except SQLError:
            if s.if_exists:
                return _status("Statement executed successfully.")
            raise
        stage = self.catalog.stage(db, schema, name)
        if stage is None:
            if s.if_exists:
                return _status("Statement executed successfully.")
            raise SQLError(f"SQL compilation error: Stage '{db}.{schema}.{name}' does not exist or not authorized.")
        self.catalog.put_stage(replace(stage, comment=s.comment))
        self._save()
        return _status(_DONE)

    def _altersession(self, s: st.AlterSession) -> Result:
        # Session parameters (QUERY_TAG, ...) are kept and otherwise change nothing here.
        self.parameters.update(s.sets)
        for key in s.unsets:
            self.parameters.pop(key, None)
        return _status(_DONE)

    def _stage(self, loc: st.Location) -> tuple[cat.Stage, Path]:
        db, schema, name = self._schema_of(loc.stage)
        stage = self.catalog.stage(db, schema, name)
        if stage is None:
            raise SQLError(f"SQL compilation error: Stage '{db}.{schema}.{name}' does not exist or "
                           "not authorized.")
        return stage, stages.stage_root(self.path, db, schema, name)

    def _put(self, s: st.Put, link: bool = False, progress: Progress | None = None) -> Result:
        _, root = self._stage(s.target)
        rows = stages.put(root, s.target.path, s.local, auto_compress=s.auto_compress,
                          overwrite=s.overwrite, link=link, cache=self._md5, progress=progress)
        return Result(shapes.PUT_COLUMNS, tuple(rows))

    def _get(self, s: st.Get) -> Result:
        _, root = self._stage(s.source)
        rows = stages.get(root, s.source.path, s.local_dir, s.pattern)
        return Result(shapes.GET_COLUMNS, tuple(rows))

    def _listfiles(self, s: st.ListFiles) -> Result:
        stage, root = self._stage(s.target)
        cols, rows = shapes.list_rows(stage, stages.list_files(root, s.target.path, s.pattern,
                                                                   cache=self._md5))
        return Result(cols, tuple(rows))

    def _remove(self, s: st.Remove) -> Result:
        stage, root = self._stage(s.target)
        cols, rows = shapes.remove_rows(stage.name, stages.remove(root, s.target.path, s.pattern))
        return Result(cols, tuple(rows))

    # -- functions ---------------------------------------------------------------
    def _resolve_import(self, text: str) -> tuple[str, Path]:
        """'@st/x/m.h5' -> ('@DB.S.ST/x/m.h5', staged file), or SQLError if missing."""
        if not text.startswith("@"):
            raise NotSupportedError(f"imports that are not on a stage ({text})")
        loc = st.parse_location(text[1:])
        stage, root = self._stage(loc)
        canonical = "@" + identifiers.qualified(stage.database, stage.schema, stage.name) + "/" + loc.path
        found = stages.file_path(root, loc.path) if loc.path else None
        if found is None:
            raise SQLError(f"SQL compilation error: Import file '{text}' does not exist on the "
                           "stage or not authorized.")
        return canonical, found

    def _createfunction(self, s: st.CreateFunction) -> Result:
        db, schema, name = self._schema_of(s.name)
        short = tuple(sqltypes.short(a.type) for a in s.args)
        existing = self.catalog.function(db, schema, name, short)
        if existing is not None:
            if s.if_not_exists:
                return _status(f"{name} already exists, statement succeeded.")
            if not s.or_replace:
                raise SQLError(f"SQL compilation error: Object '{name}' already exists.")
        from deployer.engine import checks

        runtime = checks.check_runtime(s.runtime_version)
        imports, files = [], {}
        for text in s.imports:
            canonical, path = self._resolve_import(text)
            if path.name in files:
                raise SQLError(f"SQL compilation error: two imports are named '{path.name}'; "
                               "import file names must be unique")
            imports.append(canonical)
            files[path.name] = path
        checks.check_handler(s.handler, s.body, files)
        checks.check_columns(s.columns)
        installed = self._installed(s.packages, runtime)
        if s.log_level is not None and s.log_level.upper() not in (
                "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"):
            raise SQLError(f"SQL compilation error: invalid LOG_LEVEL '{s.log_level}'")
        fn = cat.Function(
            database=db, schema=schema, name=name,
            arg_names=tuple(a.name for a in s.args), arg_types=tuple(a.type for a in s.args),
            arg_defaults=tuple(a.default for a in s.args), returns=s.returns, columns=s.columns,
            handler=s.handler,
            runtime_version=runtime, created_on=cat.now(), secure=s.secure, strict=s.strict,
            volatility=s.volatility, comment=s.comment, imports=tuple(imports),
            packages=s.packages, installed_packages=installed,
            external_access_integrations=s.external_access_integrations, secrets=s.secrets,
            log_level=s.log_level, trace_level=s.trace_level, body=s.body)
        if existing is not None:
            self._unregister(existing)
        self.catalog.put_function(fn)
        self._save()
        self._warm_spare(fn)
        return _status(f"Function {name} successfully created.")

    def _installed(self, packages: tuple[str, ...], runtime: str) -> tuple[str, ...]:
        """checks.check_packages against this session's channel, once per package list (a
        candidate and the function replacing it name the same ones)."""
        from deployer.engine import checks

        key = (packages, runtime)
        found = self._installed_for.get(key)
        if found is None:
            try:
                found = checks.check_packages(packages, self._offered.get(runtime, {}),
                                              f"local engine: {channel.load_snapshot().describe()}")
            except SQLError as exc:
                found = exc
            if len(self._installed_for) >= 64:
                self._installed_for.pop(next(iter(self._installed_for)))
            self._installed_for[key] = found
        if isinstance(found, SQLError):
            raise SQLError(str(found))
        return found

    def _warm_spare(self, fn: cat.Function) -> None:
        """Load a function just created into a spare worker (one a dropped function left) at
        once: apply tests each candidate right after creating it, and the load then overlaps
        the statements before the call. Only a spare running a known interpreter: a function
        that is not called costs a spare's reload, never a new process or environment."""
        if self._workers is None:
            return
        python = self._known_python(fn)
        if python is not None and self._workers.has_spare(python):
            self._register(fn)
            self._pools[fn.key].warm(spare_only=True)

    def _known_python(self, fn: cat.Function) -> str | None:
        """The interpreter of `fn`'s workers if already found (never builds one)."""
        with self._guard:
            python = self._interpreters.get((fn.installed_packages, fn.runtime_version))
        return python if isinstance(python, str) else None

    def _find_function(self, ref: st.FunctionRef, if_exists: bool) -> cat.Function | None:
        try:
            db, schema, name = self._schema_of(ref.name)
        except SQLError:
            if if_exists:
                return None
            raise
        fn = self.catalog.function(db, schema, name, ref.arg_types)
        if fn is None and not if_exists:
            raise SQLError(f"SQL compilation error: Function '{db}.{schema}.{name}"
                           f"({', '.join(ref.arg_types)})' does not exist or not authorized.")
        return fn

    def _dropfunction(self, s: st.DropFunction) -> Result:
        fn = self._find_function(s.ref, s.if_exists)
        if fn is None:
            return _status(f"Drop statement executed successfully ({s.ref.name[-1]} already dropped).")
        self._unregister(fn)
        self.catalog.drop_function(fn)
        self._save()
        return _status(f"{fn.name} successfully dropped.")

    def _describefunction(self, s: st.DescribeFunction) -> Result:
        fn = self._find_function(s.ref, False)
        cols, rows = shapes.describe_function(fn)
        return Result(cols, tuple(rows))

    def _alterfunction(self, s: st.AlterFunction) -> Result:
        fn = self._find_function(s.ref, s.if_exists)
        if fn is None:
            return _status(_DONE)
        changes: dict = {}
        for key, value in s.sets.items():
            changes[{"SECURE": "secure"}.get(key, key.lower())] = value
        for key in s.unsets:
            field = key.lower()
            if field not in ("secure", "comment", "log_level", "trace_level",
                             "external_access_integrations", "secrets"):
                raise SQLError(f"SQL compilation error: ALTER FUNCTION cannot unset {key}")
            changes[field] = False if field == "secure" else () if field in (
                "external_access_integrations", "secrets") else None
        if s.rename_to is not None:
            db, schema, name = self._schema_of(s.rename_to)
            if self.catalog.function(db, schema, name, fn.short_types) is not None:
                raise SQLError(f"SQL compilation error: Object '{name}' already exists.")
            changes.update(database=db, schema=schema, name=name)
        self._unregister(fn)
        self.catalog.drop_function(fn)
        new = replace(fn, **changes)
        self.catalog.put_function(new)
        self._save()
        return _status(_DONE)

    # -- running functions ----------------------------------------------------------
    def _label(self, fn: cat.Function) -> str:
        return f"{fn.name}({', '.join(fn.short_types)})"

    def _register(self, fn: cat.Function) -> None:
        import duckdb

        from deployer.engine.udf import Pool, Spec, make_adapter, make_table_adapter

        _DUCK_TYPES = _duck_types()
        files, rels = [], {}
        for text in fn.imports:  # stored fully qualified: @DB.SCHEMA.STAGE/path
            loc = st.parse_location(text[1:])
            files.append(stages.stage_root(self.path, *loc.stage) / loc.path)
            rels[files[-1]] = loc.path

        def check(path: Path, label=self._label(fn)) -> None:
            # Before a worker loads it (cached): a corrupt model fails the query at once
            # instead of hanging or crashing inside the framework.
            if not path.is_file():
                raise SQLError(f"the import {path.name} of function {label} is a folder on its stage, "
                               "not a file; `deployer engine repair` moves it aside")
            if not self._md5.intact(path, rels[path]):
                raise SQLError(f"the import {path.name} of function {label} does not match the "
                               f"SHA-256 digest in its stage path {rels[path]} (corrupt); "
                               "apply uploads it again")

        spec = Spec(self._label(fn), fn.handler, fn.body, tuple(files),
                    fn.log_level or self.log_level, warnings_as_errors=self.warnings_as_errors,
                    arg_names=fn.arg_names,
                    columns=tuple(n for n, _ in fn.columns) if fn.is_table else None, check=check)
        pool = Pool(spec, self._workdir, self.udf_timeout, self.udf_workers,
                    python=lambda build=True, fn=fn: self._python_for(fn) if build else self._known_python(fn),
                    workers=self.workers)
        self._pools[fn.key] = pool
        info = {"database": fn.database, "schema": fn.schema, "name": fn.name,
                "label": f"{fn.name}({', '.join(f'{n} {sqltypes.short(t)}' for n, t in zip(fn.arg_names, fn.arg_types))}):{shapes.returns_short(fn)}"}

        def on_logs(records, info=info):
            with self._guard:
                self._pending_events.extend(events.rows(info, records))

        level = (fn.log_level or self.log_level or "INFO").upper()

        def on_error(exc, info=info, level=level):
            with self._guard:
                if self._udf_error is not None:
                    return  # one statement, one error: the first one fails it
                self._udf_error = exc
                # As Snowflake does, an unhandled exception is an ERROR record in the event table.
                if level not in ("FATAL", "OFF"):
                    self._pending_events.extend(events.rows(info, [events.error_record(str(exc))]))

        if fn.is_table:
            columns = [(n, sqltypes.duckdb_type(t), sqltypes.scale(t)) for n, t in fn.columns]
            adapter = make_table_adapter(pool, len(fn.arg_types), columns, on_logs, on_error,
                                         failed=lambda: self._udf_error)
            returns = duckdb.list_type(duckdb.struct_type({n: _DUCK_TYPES[t] for n, t, _ in columns}))
        else:
            ret = sqltypes.duckdb_type(fn.returns)
            adapter = make_adapter(pool, len(fn.arg_types), ret, on_logs, on_error,
                                   scale=sqltypes.scale(fn.returns), failed=lambda: self._udf_error)
            returns = _DUCK_TYPES[ret]
        self.con.create_function(
            fn.duck_name, adapter, [_DUCK_TYPES[sqltypes.duckdb_type(t)] for t in fn.arg_types],
            returns, type="arrow",
            null_handling="default" if fn.strict else "special", side_effects=False)
        self._registered.add(fn.key)

    def _lock_for(self, key: tuple) -> threading.Lock:
        with self._guard:
            return self._build_locks.setdefault(key, threading.Lock())

    def start_ahead(self, runtime: str, packages: tuple[str, ...], modules: tuple[str, ...],
                    probe: tuple[str, ...] = ()) -> None:
        """A hint: functions with these PACKAGES are about to be created and called (apply,
        before it plans and uploads). One worker of their interpreter starts now, in the
        background, importing `modules` and loading the pickled files `probe` once (the
        first function's model and steps: their classes' modules); the first such function
        loads into it, so the interpreter's start and the frameworks' imports overlap the
        work before its first call. Never builds an environment and never fails: a wrong
        hint costs an idle process until the session closes."""
        threading.Thread(target=self._start_ahead,
                         args=(runtime, tuple(packages), tuple(modules), tuple(probe)), daemon=True).start()

    def _start_ahead(self, runtime: str, packages: tuple[str, ...], modules: tuple[str, ...],
                     probe: tuple[str, ...] = ()) -> None:
        from deployer.engine import checks

        try:
            runtime = checks.check_runtime(runtime)
            installed = self._installed(packages, runtime)
            python = self._interpreter(installed, runtime, "", build=False)
            if python is not None and not self._closed:
                self.workers.start_ahead(python, self._workdir, self.udf_timeout,
                                         (os.cpu_count() or 1) // self.udf_workers, modules, probe)
        except Exception:
            pass  # a hint: the function's own start reports what is wrong

    def _python_for(self, fn: cat.Function) -> str:
        """The interpreter for a function's workers: this one when it has the installed
        packages, else an isolated environment with exactly them (deployer.envs)."""
        return self._interpreter(fn.installed_packages, fn.runtime_version, self._label(fn))

    def _interpreter(self, installed: tuple[str, ...], runtime: str, label: str, build: bool = True) -> str | None:
        """See _python_for; with `build` False, None where an environment would be built, and
        nothing is remembered."""
        from deployer import envs

        key = (installed, runtime)
        with self._lock_for(key):  # one build per pin set, and a failed one is not retried per worker
            with self._guard:
                known = self._interpreters.get(key)
            if isinstance(known, SQLError):
                raise known
            if known is not None:
                return known
            try:
                found = envs.interpreter_for(
                    installed, runtime, isolated=self.isolated_env,
                    constraints=channel.constraints(runtime, installed),
                    progress=self.progress or envs.stderr, build=build)
            except envs.EnvError as exc:
                if not build:
                    return None
                error = SQLError(f"function {label}: {exc}")
                with self._guard:
                    self._interpreters[key] = error
                raise error from None
            if not build:
                return None if found is None else found.python
            with self._guard:
                if found.note and found.isolated:  # e.g. the nearest Python; "isolation off" is the caller's to say
                    self.interpreter_notes.append(f"{label}: {found.note}")
                self._interpreters[key] = found.python
        return found.python

    def _unregister(self, fn: cat.Function) -> None:
        pool = self._pools.pop(fn.key, None)
        if pool is not None:
            pool.close()
        if fn.key not in self._registered:
            return
        self._registered.discard(fn.key)
        import duckdb

        try:
            self.con.remove_function(fn.duck_name)
        except duckdb.Error:
            pass

    def _resolve_call(self, name: tuple[str, ...], args: list, table: bool = False):
        """(DuckDB name, [(arg expression, DuckDB type)]) for a deployed function, else None.

        `table`: the call is in FROM as TABLE(f(...)); a table function anywhere else, or a
        scalar one there, is an error as in Snowflake."""
        candidates = self._overloads_of(name)
        if not candidates:
            if len(name) > 1:
                raise SQLError(f"SQL compilation error: Unknown function {'.'.join(name)}")
            return None
        fitting = [f for f in candidates
                   if sum(d is None for d in f.arg_defaults) <= len(args) <= len(f.arg_types)]
        if not fitting:
            raise SQLError(f"SQL compilation error: Invalid number of arguments for function "
                           f"{name[-1]}: {len(args)} given, overloads are "
                           + ", ".join(self._label(f) for f in candidates))
        fn = max(fitting, key=lambda f: _fit_score(f, args))
        if fn.is_table and not table:
            raise SQLError(f"SQL compilation error: {fn.name} is a table function; call it in FROM "
                           f"as TABLE({fn.name}(...))")
        if table and not fn.is_table:
            raise SQLError(f"SQL compilation error: {fn.name} is not a table function")
        self._calls(fn)
        import sqlglot

        exprs = list(args) + [sqlglot.parse_one(d, read="snowflake")
                              for d in fn.arg_defaults[len(args):]]
        return fn.duck_name, [sqltypes.duckdb_type(t) for t in fn.arg_types], exprs

    def _translated(self, sql: str):
        if self._shape_cache is None:
            from deployer.engine.translate import ShapeCache

            self._shape_cache = ShapeCache(self._overloads_of, self._calls)
        return _translate(sql, (self.database, self.schema), self._resolve_call, self._shape_cache)

    def _overloads_of(self, name: tuple[str, ...]) -> list[cat.Function]:
        """The deployed functions a call of `name` (1 to 3 parts) may mean."""
        if len(name) > 3:
            return []
        db = name[0] if len(name) == 3 else self.database
        schema = name[-2] if len(name) >= 2 else self.schema
        return self.catalog.overloads(db, schema, name[-1])

    def _calls(self, fn: cat.Function) -> None:
        """A statement calls `fn`: registered with DuckDB, its worker starting meanwhile."""
        if fn.key not in self._registered:
            self._register(fn)
        self._pools[fn.key].warm()

    def _generic(self, sql: str) -> Result:
        answers = _PackagesAnswers(self, sql) if _PACKAGES_QUERY.fullmatch(sql) else None
        if answers is not None:
            known = answers.lookup()
            if known is not None:
                return known
        self._need_packages(sql)
        t = self._translated(sql)
        self._create_rows(t)
        cur = self.con.execute(t.sql)
        if self._udf_error is not None:
            raise self._udf_error
        if t.kind == "SELECT":
            cols = tuple(d[0] for d in cur.description)
            types = tuple(str(d[1]) for d in cur.description)
            rows = cur.fetchall()
            if "JSON" in types:
                rows = [_semi_structured(r, types) for r in rows]
            result = Result(cols, tuple(tuple(r) for r in rows), types)
            if answers is not None:
                answers.store(result)
            return result
        if t.kind in _COUNT_COLUMNS:
            count = cur.fetchone()[0]
            return Result((_COUNT_COLUMNS[t.kind],), ((count,),), ("BIGINT",))
        if t.kind.startswith("CREATE"):
            return _status(f"{t.kind.split()[1].title()} {t.name} successfully created.")
        return _status(f"{t.name} successfully dropped.")

    def _create_rows(self, t) -> None:
        """The temporary tables of lifted rows that `t` reads (deployer.engine.json_rows), each
        made once; past a few the oldest is dropped, so a session keeps little."""
        for rows in t.rows:
            if rows.name in self._row_tables:
                self._row_tables[rows.name] = self._row_tables.pop(rows.name)  # now the newest
                continue
            self.con.execute(rows.create())
            self._row_tables[rows.name] = None
            while len(self._row_tables) > 8:
                oldest = next(iter(self._row_tables))
                del self._row_tables[oldest]
                self.con.execute(f"DROP TABLE IF EXISTS {oldest}")

    def _flush_events(self) -> None:
        with self._guard:
            pending, self._pending_events = self._pending_events, []
        if pending and not self._closed:
            import duckdb

            try:
                self.con.executemany(events.INSERT, pending)
            except duckdb.Error:
                pass  # losing a log record must not fail the user's statement


# A query of INFORMATION_SCHEMA.PACKAGES that names only its columns, string literals, `=`,
# IN and AND: its answer is a function of the PACKAGES rows alone (no other table, no
# function, not even CURRENT_DATE), so it can be kept. Plans ask one such query per runtime
# (deployer.channel.query); answering it from the cache spares sqlglot, DuckDB and building
# the table. Backslashes are refused so that a literal's end is never in doubt.
_PACKAGES_COLUMN = r"(?:PACKAGE_NAME|VERSION|LANGUAGE|RUNTIME_VERSION)"
_LITERAL = r"'(?:[^'\\]|'')*'"
_PREDICATE = (rf"{_PACKAGES_COLUMN}\s*(?:=\s*{_LITERAL}|IN\s*\(\s*{_LITERAL}(?:\s*,\s*{_LITERAL})*\s*\))")
_PACKAGES_QUERY = re.compile(
    rf"\s*SELECT\s+{_PACKAGES_COLUMN}(?:\s*,\s*{_PACKAGES_COLUMN})*\s+FROM\s+SNOWFLAKE\.INFORMATION_SCHEMA\.PACKAGES"
    rf"\s+WHERE\s+{_PREDICATE}(?:\s+AND\s+{_PREDICATE})*\s*", re.I)


class _PackagesAnswers:
    """Answers to such queries, in `<account>/cache/packages.json`, each keyed by everything
    it depends on: the exact query text, the session's current database and schema, the
    PACKAGES rows (the channel snapshot and this Python's distributions, or the rows the
    session was given), the engine's code, DuckDB's version and deployer's. Only a query
    that succeeded is kept; a missing or unreadable file only costs running the query."""

    VERSION = 1
    LIMIT = 64

    def __init__(self, session: "LocalSession", sql: str):
        self.path = session.path / "cache" / "packages.json"
        self.key = self._key(session, sql)

    @staticmethod
    def _key(session: "LocalSession", sql: str) -> str:
        import hashlib
        import json

        from deployer import __version__

        engine = hashlib.sha256()
        here = Path(__file__).parent
        for name in ("session.py", "translate.py"):
            engine.update((here / name).read_bytes())
        rows = hashlib.sha256(repr(session._rows()).encode()).hexdigest()
        payload = {"format": _PackagesAnswers.VERSION, "deployer": __version__, "engine": engine.hexdigest(),
                   "duckdb": channel.installed().get("duckdb"), "sql": sql,
                   "current": [session.database, session.schema], "rows": rows}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _read(self) -> dict:
        import json

        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != self.VERSION or not isinstance(data.get("answers"), dict):
            return {}
        return data["answers"]

    def lookup(self) -> Result | None:
        found = self._read().get(self.key)
        try:
            columns, types, rows = found["columns"], found["types"], found["rows"]
            if not all(isinstance(v, str) or v is None for row in rows for v in row):
                return None
            return Result(tuple(columns), tuple(tuple(row) for row in rows), tuple(types))
        except (TypeError, KeyError):
            return None

    def store(self, result: Result) -> None:
        import json

        if not all(isinstance(v, str) or v is None for row in result.rows for v in row):
            return  # kept exactly only as JSON strings
        answers = self._read()
        answers.pop(self.key, None)
        answers[self.key] = {"columns": list(result.columns), "types": list(result.types),
                             "rows": [list(row) for row in result.rows]}
        while len(answers) > self.LIMIT:
            answers.pop(next(iter(answers)))
        try:
            atomic.write_text(self.path, json.dumps({"format": self.VERSION, "answers": answers}))
        except OSError:
            pass  # a lost answer only costs running the query again


def _translate(sql: str, current, resolve, shapes=None):
    # sqlglot takes ~0.3 s to import: only statements the engine does not parse by hand
    # (queries, DDL on tables) need it, so SHOW/LIST/DESCRIBE-only commands never load it.
    from deployer.engine.translate import translate

    return translate(sql, current, resolve, shapes=shapes)


def _fit_score(fn: cat.Function, args: list) -> int:
    """Prefer the overload whose types match literal arguments (Snowflake's overload choice)."""
    from sqlglot import exp

    score = 0
    for a, t in zip(args, fn.short_types):
        if isinstance(a, exp.Literal):
            if a.is_string:
                score += 2 if t == "VARCHAR" else 0
            else:
                score += 2 if t in ("FLOAT", "NUMBER") else 0
                score += 1 if (t == "NUMBER") == ("." not in a.this and "e" not in a.this.lower()) else 0
        elif isinstance(a, exp.Boolean):
            score += 2 if t == "BOOLEAN" else 0
    return score


def _qid(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# DuckDB's messages, reworded as Snowflake words the same failure (users search for those).
_MISSING = {"Table": "Object", "View": "Object", "Schema": "Schema", "Catalog": "Database"}


def _duck_error(exc: Exception, sql: str | None = None) -> SQLError:
    import duckdb

    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    missing = re.search(r'(Table|View|Schema|Catalog) with name "?([^"\s!]+)"? does not exist', first)
    if isinstance(exc, duckdb.CatalogException) and missing:
        name = ".".join(p.strip('"') for p in missing.group(2).split("."))
        name = name.upper() if name == name.lower() else name  # Snowflake names unquoted objects in upper case
        return SQLError(f"SQL compilation error: {_MISSING[missing.group(1)]} '{name}' does not exist or not authorized.")
    function = re.search(r'(?:Scalar |Aggregate |Table )?Function with name "?([^"\s!]+)"? does not exist', first)
    if isinstance(exc, duckdb.CatalogException) and function:
        return SQLError(f"SQL compilation error: Unknown function {function.group(1).upper()}")
    column = re.search(r'Referenced column "([^"]+)" not found|Column "([^"]+)" referenced that exists in the '
                       r'SELECT clause|does not have a column named "([^"]+)"', first)
    if isinstance(exc, duckdb.BinderException) and column:
        name = next(g for g in column.groups() if g)
        return SQLError(f"SQL compilation error: {_position(sql, name)}invalid identifier '{name.upper()}'")
    syntax = re.search(r'syntax error at or near "([^"]*)"', first)
    if isinstance(exc, duckdb.ParserException) and syntax:
        return SQLError(f"SQL compilation error: syntax {_position(sql, syntax.group(1)) or 'error '}unexpected "
                        f"'{syntax.group(1)}'.")
    first = re.sub(r"^(Binder|Catalog|Parser|Conversion|Invalid Input|Constraint) Error: ", "", first)
    if isinstance(exc, (duckdb.CatalogException, duckdb.BinderException, duckdb.ParserException)):
        return SQLError(f"SQL compilation error: {first}")
    return SQLError(f"SQL execution error: {first}")


def _position(sql: str | None, token: str) -> str:
    """`error line 1 at position 7 `: where `token` first appears in the statement as written.

    DuckDB's own caret points into the translated SQL, so the token is found in the original."""
    if not sql or not token:
        return ""
    found = re.search(r"(?<![\w$])" + re.escape(token) + r"(?![\w$])", sql, re.I)
    if found is None:
        return ""
    before = sql[:found.start()]
    line = before.count("\n") + 1
    return f"error line {line} at position {found.start() - (before.rfind(chr(10)) + 1)} "


def _semi_structured(row, types):
    """OBJECT/VARIANT values as Snowflake's connectors return them: JSON text, 2-space indent."""
    import json

    return tuple(json.dumps(json.loads(v), indent=2) if t == "JSON" and isinstance(v, str) else v
                 for v, t in zip(row, types))
