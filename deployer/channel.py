"""What a target offers: the package versions its CREATE FUNCTION can install, per runtime.

A Snowflake account answers from INFORMATION_SCHEMA.PACKAGES: one query for every package a
command needs, cached for the life of the session. The local engine answers the same query
from a snapshot of Snowflake's channel shipped with deployer (deployer/data/snowflake_channel.json,
data with its date, rewritten by `deployer packages refresh -t TARGET`), so "would Snowflake
install this?" has an answer without an account. Packages the snapshot does not list are
answered from this Python's installed distributions (the engine runs them there).
"""

from __future__ import annotations

import json
import os
import weakref
from dataclasses import dataclass
from datetime import date
import functools
import sys
from functools import lru_cache
from pathlib import Path

from packaging.version import InvalidVersion, Version

from deployer import atomic
from deployer.errors import DeployerError
from deployer.packages import PackageSpec

SNAPSHOT = Path(__file__).parent / "data" / "snowflake_channel.json"
TABLE = "SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES"


def key(name: str) -> str:
    return PackageSpec(name, "").key


def sort_versions(versions) -> tuple[str, ...]:
    def order(v: str):
        try:
            return (0, Version(v), v)
        except InvalidVersion:
            return (-1, Version("0"), v)
    return tuple(sorted(set(versions), key=order))


@dataclass(frozen=True)
class Offering:
    """Versions offered for one runtime, by package key; `source` says where they came from."""
    runtime: str
    versions: dict[str, tuple[str, ...]]
    source: str

    def of(self, name: str) -> tuple[str, ...]:
        return self.versions.get(key(name), ())


# --------------------------------------------------------------------------- the query


def query(names, runtime: str) -> str:
    """One statement for every package at once."""
    quoted = ", ".join("'" + key(n).replace("'", "''") + "'" for n in sorted(set(names)))
    return (f"SELECT PACKAGE_NAME, VERSION FROM {TABLE} WHERE LANGUAGE = 'python' "
            f"AND RUNTIME_VERSION = '{runtime}' AND PACKAGE_NAME IN ({quoted})")


_CACHE: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def read(session, names, runtime: str, source: str) -> Offering:
    """The target's offering for `names`, one query per session, runtime and set of names."""
    names = frozenset(key(n) for n in names)
    try:
        cache = _CACHE.setdefault(session, {})
    except TypeError:  # an object without weak references: no cache
        cache = {}
    for (cached_runtime, cached_names), offering in cache.items():
        if cached_runtime == runtime and names <= cached_names:
            return offering
    found: dict[str, list[str]] = {}
    for name, version in session.run(query(names, runtime)).rows:
        found.setdefault(key(str(name)), []).append(str(version))
    offering = Offering(runtime, {k: sort_versions(v) for k, v in found.items()}, source)
    cache[(runtime, names)] = offering
    return offering


# --------------------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class Snapshot:
    taken: str
    source: str
    runtimes: dict[str, dict[str, tuple[str, ...]]]  # runtime -> package key -> versions
    path: Path

    def describe(self) -> str:
        return f"the snapshot of Snowflake's channel taken {self.taken}"

    def offering(self, runtime: str) -> Offering:
        return Offering(runtime, dict(self.runtimes.get(runtime, {})), self.describe())


def snapshot_path() -> Path:
    """The snapshot in use: $DEPLOYER_CHANNEL_SNAPSHOT when set (tests, air-gapped setups), else the shipped one."""
    return Path(os.environ.get("DEPLOYER_CHANNEL_SNAPSHOT") or SNAPSHOT)


def load_snapshot(path: Path | None = None) -> Snapshot:
    path = Path(path or snapshot_path())
    return _load(path, path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=4)
def _load(path: Path, _mtime: int) -> Snapshot:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        runtimes = {str(rt): {key(n): sort_versions(vs) for n, vs in pkgs.items()}
                    for rt, pkgs in doc["runtimes"].items()}
        return Snapshot(str(doc["taken"]), str(doc.get("source", "")), runtimes, path)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise DeployerError(f"{path}: not a readable channel snapshot: {exc}") from None


def snapshot_text(taken: str, source: str, runtimes: dict[str, dict[str, tuple[str, ...]]]) -> str:
    """The snapshot file: one line per package, so a refresh reads well in a diff."""
    lines = ["{", f'  "taken": {json.dumps(taken)},', f'  "source": {json.dumps(source)},', '  "runtimes": {']
    rts = sorted(runtimes)
    for i, rt in enumerate(rts):
        lines.append(f"    {json.dumps(rt)}: {{")
        names = sorted(runtimes[rt])
        for j, name in enumerate(names):
            comma = "," if j < len(names) - 1 else ""
            lines.append(f"      {json.dumps(name)}: {json.dumps(list(sort_versions(runtimes[rt][name])))}{comma}")
        lines.append("    }" + ("," if i < len(rts) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def refresh(session, names, source: str, path: Path | None = None) -> Snapshot:
    """Rewrite the snapshot from a target's INFORMATION_SCHEMA.PACKAGES, for `names`, every runtime."""
    names = sorted({key(n) for n in names})
    quoted = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    rows = session.run(f"SELECT PACKAGE_NAME, VERSION, RUNTIME_VERSION FROM {TABLE} "
                       f"WHERE LANGUAGE = 'python' AND PACKAGE_NAME IN ({quoted})").rows
    runtimes: dict[str, dict[str, list[str]]] = {}
    for name, version, runtime in rows:
        if runtime is None:
            continue
        runtimes.setdefault(str(runtime), {}).setdefault(key(str(name)), []).append(str(version))
    if not runtimes:
        raise DeployerError(f"{source}: INFORMATION_SCHEMA.PACKAGES returned no rows for "
                            f"{', '.join(names)}; the snapshot was not changed")
    path = Path(path or snapshot_path())
    text = snapshot_text(date.today().isoformat(), source,
                         {rt: {n: sort_versions(v) for n, v in p.items()} for rt, p in runtimes.items()})
    atomic.write_text(path, text)
    return load_snapshot(path)


# --------------------------------------------------------------------------- the local engine


# Slim distributions that install the same modules as the package Snowflake's channel names.
SLIM_DISTRIBUTIONS = {"mlflow-skinny": "mlflow"}


def installed() -> dict[str, str]:
    """Distributions of this Python: package key -> version (read once per sys.path)."""
    return dict(_installed(tuple(sys.path)))


@functools.lru_cache(maxsize=4)
def _installed(path: tuple[str, ...]) -> dict[str, str]:
    # A wheel's "<name>-<version>.dist-info" folder names both: the folders are listed, not
    # read (importlib.metadata, ~20 ms to import, only for what a name does not tell).
    out: dict[str, str] = {}
    for entry in path:
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:  # a zip on sys.path
            names = None
        except OSError:
            continue
        for name, version in _distributions(entry, names):
            if name:
                out.setdefault(key(name), version)
                if key(name) in SLIM_DISTRIBUTIONS:
                    out.setdefault(SLIM_DISTRIBUTIONS[key(name)], version)
    return out


def _distributions(entry: str, names: list[str] | None):
    """(name, version) of the distributions in one sys.path entry, in listing order;
    importlib.metadata only for a zip or a name that does not tell."""
    if names is None:
        import importlib.metadata as metadata

        for dist in metadata.distributions(path=[entry]):
            yield dist.metadata["Name"], dist.version
        return
    for child in names:
        stem, dot, kind = child.rpartition(".")
        if not dot or kind.lower() not in ("dist-info", "egg-info"):
            continue
        name, sep, version = stem.partition("-")
        if kind.lower() == "dist-info" and sep and version and "-" not in version:
            yield name, version
        else:  # an egg's (or an editable install's) name does not carry the version: its metadata says
            yield _named_in(Path(entry or ".") / child)


def _named_in(info: Path) -> tuple[str | None, str | None]:
    """(Name, Version) from the headers of a dist-info or egg-info (a folder, or an egg-info
    file), read as text; importlib.metadata (~20 ms to import) only when they do not say."""
    try:
        head = info.joinpath("METADATA" if info.suffix.lower() == ".dist-info" else "PKG-INFO") \
            if info.is_dir() else info
        with open(head, encoding="utf-8", errors="replace") as fh:
            fields = {}
            for line in fh:
                if not line.strip():
                    break  # the headers end at the first blank line
                field, colon, value = line.partition(":")
                if colon and field in ("Name", "Version") and field not in fields:
                    fields[field] = value.strip()
        if fields.get("Name") and fields.get("Version"):
            return fields["Name"], fields["Version"]
    except OSError:
        pass
    import importlib.metadata as metadata

    dist = metadata.PathDistribution(info)
    return dist.metadata["Name"], dist.version


def local_rows(snapshot: Snapshot | None = None, runtimes=None) -> list[tuple[str, str, str, str]]:
    """The local engine's INFORMATION_SCHEMA.PACKAGES: the snapshot, plus installed
    distributions of packages the snapshot does not list (for every runtime)."""
    snapshot = snapshot or load_snapshot()
    if runtimes is None:
        from deployer.desired import SUPPORTED_RUNTIMES
        runtimes = SUPPORTED_RUNTIMES
    listed = {name for pkgs in snapshot.runtimes.values() for name in pkgs}
    here = {n: v for n, v in installed().items() if n not in listed}
    rows = []
    for runtime in runtimes:
        for name, versions in sorted(snapshot.runtimes.get(runtime, {}).items()):
            rows.extend((name, v, "python", runtime) for v in versions)
        rows.extend((name, v, "python", runtime) for name, v in sorted(here.items()))
    return rows


def local_offering(runtime: str, snapshot: Snapshot | None = None) -> Offering:
    """What the local target offers without opening it: the same rows as its PACKAGES view."""
    snapshot = snapshot or load_snapshot()
    found: dict[str, list[str]] = {}
    for name, version, _, rt in local_rows(snapshot, (runtime,)):
        found.setdefault(name, []).append(version)
    return Offering(runtime, {k: sort_versions(v) for k, v in found.items()}, snapshot.describe())


def constraints(runtime: str, pins, snapshot: Snapshot | None = None) -> tuple[str, ...]:
    """Upper bounds for the packages a pinned set pulls in without pinning (numpy under
    scikit-learn ...): the newest version the channel snapshot has, as Snowflake's resolver
    cannot pick a newer one either."""
    snapshot = snapshot or load_snapshot()
    pinned = {PackageSpec(p.split("=")[0].split("<")[0].split(">")[0], "").key for p in pins}
    offered = snapshot.runtimes.get(runtime, {})
    return tuple(f"{name}<={versions[-1]}" for name, versions in sorted(offered.items())
                 if versions and name not in pinned)
