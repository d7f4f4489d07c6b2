"""`deployer engine check` and `deployer engine repair`: what is wrong with a local account
folder (session.py describes its layout), and rebuilding what can be rebuilt.

Repair never deletes: what it cannot read is moved under `<account>/aside/<time>/`, with a
message saying where. The catalog is rebuilt from what survives of it plus the release records
on the stages (each holds the exact CREATE statement of the function it released).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from deployer import atomic, releases
from deployer.engine import catalog as cat
from deployer.engine import events, lock, stages

_ADDRESSED_DIR = re.compile(r"[^/]+/[0-9a-f]{12}/[^/]+")


@dataclass
class Finding:
    path: Path
    problem: str
    way_out: str
    repair: Callable[[], str] | None = None  # returns what it did; None: only apply or the user can fix it

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; {self.way_out}"


def check(account: Path) -> list[Finding]:
    account = Path(account)
    if not account.is_dir():
        return []
    held = lock.acquire(account, 5.0, "engine check")  # no session changes it meanwhile
    try:
        return _findings(account)
    finally:
        held.release()


def _findings(account: Path) -> list[Finding]:
    aside = _Aside(account)
    return _catalog(account, aside) + _databases(account, aside) + _stage_files(account, aside)


def repair(account: Path) -> tuple[list[str], list[Finding]]:
    """(what was done, what is still wrong)."""
    account = Path(account)
    if not account.is_dir():
        return [], []
    done = []
    catalog_done = False
    held = lock.acquire(account, 5.0, "engine repair")
    try:
        for finding in _findings(account):
            if finding.repair is None:
                continue
            if finding.path.name in ("catalog.json", "catalog.log"):
                if catalog_done:
                    continue
                catalog_done = True
            done.append(finding.repair())
    finally:
        held.release()
    if catalog_done:
        done.extend(_replay_releases(account))  # a session: it takes the lock itself
    return done, check(account)


# --------------------------------------------------------------------------- the catalog

def _catalog(account: Path, aside: "_Aside") -> list[Finding]:
    path, log = account / "catalog.json", cat.journal_path(account / "catalog.json")
    found = []
    rebuild = (lambda: _rebuild_catalog(account, aside))
    if path.exists():
        try:
            cat.Catalog.from_json(path.read_text())
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            found.append(Finding(path, f"is not a readable catalog (truncated or corrupt: {_short(exc)})",
                                 "`deployer engine repair` rebuilds it from what is readable and the "
                                 "release records on the stages", rebuild))
    if log.exists():
        probe = cat.Catalog()
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            try:
                probe.replay(line)
            except (ValueError, TypeError, KeyError) as exc:
                found.append(Finding(log, f"line {number} is cut short or corrupt ({_short(exc)})",
                                     "`deployer engine repair` keeps the readable lines and rebuilds "
                                     "the rest from the release records", rebuild))
                break
    return found


def _readable_catalog(account: Path) -> cat.Catalog:
    path = account / "catalog.json"
    try:
        catalog = cat.Catalog.from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        catalog = cat.Catalog()
    log = cat.journal_path(path)
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            try:
                catalog.replay(line)
            except (ValueError, TypeError, KeyError):
                continue  # one damaged line does not cost the others
    return catalog


def _rebuild_catalog(account: Path, aside: "_Aside") -> str:
    catalog = _readable_catalog(account)
    for root in _stage_roots(account):  # every stage folder is a stage, in its schema
        db, schema, name = (unquote(p) for p in root.relative_to(account / "stages").parts)
        if not catalog.has_database(db):
            catalog.add_database(db)
        if not catalog.has_schema(db, schema):
            catalog.add_schema(db, schema)
        if catalog.stage(db, schema, name) is None:
            catalog.put_stage(cat.Stage(db, schema, name, cat.now()))
    moved = [aside.move(p) for p in (account / "catalog.json", cat.journal_path(account / "catalog.json"))
             if p.exists()]
    catalog.snapshot_dirty = True
    catalog.journal.clear()
    catalog.journal_lines = 0
    cat.save(catalog, account / "catalog.json")
    return (f"rebuilt catalog.json ({len(catalog.stages)} stage(s), {len(catalog.functions)} function(s) "
            f"readable); the damaged files are kept in {', '.join(moved)}")


def _replay_releases(account: Path) -> list[str]:
    """Re-create each released function the rebuilt catalog lacks, from its newest record."""
    from deployer.engine.session import LocalSession

    done = []
    with LocalSession(account, lock_timeout=5.0, command="engine repair") as session:
        for st in list(session.catalog.stages):
            root = stages.stage_root(account, st.database, st.schema, st.name)
            newest: dict[str, tuple[str, Path]] = {}
            for f in stages.list_files(root, "", md5=False):
                found = releases.record_path(f.path)
                if found and found[1] > newest.get(found[0], ("",))[0]:
                    newest[found[0]] = (found[1], root / f.path)
            for model, (_, record) in sorted(newest.items()):
                try:
                    data = json.loads(record.read_text())
                    statement, arg_types = str(data["statement"]), tuple(data["arg_types"])
                except (OSError, ValueError, KeyError, TypeError):
                    done.append(f"skipped the unreadable release record {record}")
                    continue
                name = str(data.get("signature", model)).split("(")[0].split(".")[-1].strip('"')
                if any(f.name.upper() == name.upper() and (f.database, f.schema) == (st.database, st.schema)
                       for f in session.catalog.functions):
                    continue
                try:
                    session.run(f"USE SCHEMA \"{st.database}\".\"{st.schema}\"")
                    session.run(statement)
                    done.append(f"re-created function {model}({', '.join(arg_types)}) from {record.name}")
                except Exception as exc:  # one bad record does not stop the others
                    done.append(f"could not re-create {model} from {record.name}: {_short(exc)}")
    return done


# --------------------------------------------------------------------------- DuckDB files

def _databases(account: Path, aside: "_Aside") -> list[Finding]:
    import duckdb

    found = []
    for path in sorted((account / "data").glob("*.duckdb")):
        telemetry = path.name == f"{events.DATABASE}.duckdb"
        try:
            if path.stat().st_size == 0:
                raise ValueError("the file is empty")
            con = duckdb.connect(str(path), read_only=True)
            try:
                con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
            finally:
                con.close()
        except (duckdb.Error, ValueError, OSError) as exc:
            what = "the event table's database" if telemetry else "a database's tables"
            keep = ("repair moves it aside and the next session starts an empty event table"
                    if telemetry else
                    "repair moves it aside (never deletes it: restore it from a backup, or re-create "
                    "its tables) and the next session starts the database empty")
            found.append(Finding(path, f"is not a readable DuckDB file ({what}): {_short(exc)}",
                                 f"`deployer engine repair` {keep.removeprefix('repair ')}",
                                 lambda p=path: f"moved {p.name} to {aside.move(p)}"
                                 + "".join(f" and its {w.suffix} to {aside.move(w)}"
                                           for w in [p.with_name(p.name + ".wal")] if w.exists())))
    return found


# --------------------------------------------------------------------------- stage files

def _stage_roots(account: Path) -> list[Path]:
    return sorted(p for p in (account / "stages").glob("*/*/*") if p.is_dir())


def _stage_files(account: Path, aside: "_Aside") -> list[Finding]:
    found = []
    cache = stages.Md5Cache(account / "stages" / ".md5.json")
    for root in _stage_roots(account):
        for dirpath, dirs, names in os.walk(root):
            for d in list(dirs):
                rel = (Path(dirpath) / d).relative_to(root).as_posix()
                if _ADDRESSED_DIR.fullmatch(rel):  # where deployer puts a file
                    dirs.remove(d)
                    found.append(Finding(Path(dirpath) / d, "is a folder where a staged file belongs",
                                         "`deployer engine repair` moves it aside; then `deployer apply` "
                                         "uploads the file again",
                                         lambda p=Path(dirpath) / d: f"moved the folder {p.name} to {aside.move(p)}"))
            for n in names:
                path = Path(dirpath) / n
                rel = path.relative_to(root).as_posix()
                if atomic.is_temporary(n):
                    continue
                try:
                    intact = cache.intact(path, rel)
                except OSError as exc:
                    found.append(Finding(path, f"cannot be read ({_short(exc)})", "check its permissions"))
                    continue
                if not intact:
                    found.append(Finding(path, "does not match the SHA-256 digest in its path (corrupt)",
                                         "`deployer apply` uploads it again (plan shows it missing)"))
    try:
        cache.save()
    except OSError:
        pass
    return found


# --------------------------------------------------------------------------- helpers

class _Aside:
    def __init__(self, account: Path):
        self.account = account
        self.folder = account / "aside" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")

    def move(self, path: Path) -> str:
        dest = self.folder / path.relative_to(self.account)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), dest)
        return str(dest.relative_to(self.account))


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "..."
