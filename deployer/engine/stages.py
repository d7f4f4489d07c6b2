"""Stage files on disk: one folder per stage, paths inside it as in Snowflake.

Writes go to a temporary file then `os.replace`, so a reader (or a function's
import directory made of hard links) never sees a half-written file.

LIST reports an MD5 per file. Digests are kept in `<account>/stages/.md5.json`, keyed by
path, size, mtime and inode: a file unchanged since it was written or last listed is not
read again, so listing a stage holding a 1 GB model reads nothing.

deployer stores files at content-addressed paths (`<MODEL>/<sha256[:12]>/<file>`). The engine
checks a file there against its address and treats one that no longer matches as lost: LIST
omits it and no worker loads it. So the one reading path above the session interface (live.py
sees a missing file, apply uploads it again) repairs same-size corruption here as a lost file
on Snowflake, without --verify and without a second code path.
"""

from __future__ import annotations

import functools
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from deployer import atomic
from deployer.errors import SQLError
from deployer.session import Progress

_COMPRESSED = (".gz", ".bz2", ".zst", ".zip", ".br", ".deflate")


@dataclass(frozen=True)
class StagedFile:
    path: str  # relative to the stage root, '/'-separated
    size: int
    md5: str
    mtime: float


@functools.lru_cache(maxsize=256)
def stage_root(account: Path, db: str, schema: str, stage: str) -> Path:
    return account / "stages" / quote(db, safe="") / quote(schema, safe="") / quote(stage, safe="")


_ADDRESSED = re.compile(r"[^/]+/[0-9a-f]{12}/[^/]+")  # deployer's layout, as live.py reads it


def _digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file in one read."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


class Md5Cache:
    """MD5 and SHA-256 of staged files by (size, mtime_ns, inode); `reads` counts files
    actually hashed. Not by ctime: the engine's own hard links (a worker's import folder)
    change a file's ctime at every worker start and stop, and would make each one re-read
    a 1 GB model; an in-place rewrite changes mtime."""

    def __init__(self, path: Path | None):
        self.path = path
        self.reads = 0
        self._entries: dict[str, list] = {}
        self._dirty = False
        self._lock = threading.Lock()  # workers start from several threads
        if path is not None and path.is_file():
            try:
                self._entries = dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                self._entries = {}  # a broken cache only costs a re-read

    @staticmethod
    def _key(st: os.stat_result) -> list:
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def digests(self, path: Path, st: os.stat_result) -> tuple[str, str]:
        name, key = str(path), self._key(st)
        with self._lock:
            entry = self._entries.get(name)
        if entry is not None and len(entry) == 5 and entry[:3] == key:
            return entry[3], entry[4]
        found = _digests(path)
        with self._lock:
            self.reads += 1
        self.remember(path, st, found)
        return found

    def md5(self, path: Path, st: os.stat_result) -> str:
        return self.digests(path, st)[0]

    def intact(self, path: Path, rel: str) -> bool:
        """False when `rel` is a content-addressed path whose file's SHA-256 does not start
        with the digest in it (the file was corrupted after it was written)."""
        if not _ADDRESSED.fullmatch(rel):
            return True
        return self.digests(path, path.stat())[1].startswith(rel.rsplit("/", 2)[-2])

    def remember(self, path: Path, st: os.stat_result, found: tuple[str, str]) -> None:
        with self._lock:
            self._entries[str(path)] = self._key(st) + list(found)
            self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        # forget files that are gone, so the cache does not grow with every release
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if os.path.exists(k)}
        atomic.write_text(self.path, json.dumps(self._entries))
        self._dirty = False


_NO_CACHE = Md5Cache(None)


def safe_rel(rel: str) -> str:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise SQLError(f"invalid stage path '{rel}'")
    return "/".join(parts)


def put(root: Path, rel_dir: str, local_pattern: str, *, auto_compress: bool,
        overwrite: bool, link: bool = False, cache: Md5Cache = _NO_CACHE,
        progress: Progress | None = None) -> list[tuple]:
    """Upload files matching `local_pattern`; one PUT result row per file.

    `link`: hard-link the file instead of copying it when the file system allows (a
    throwaway engine whose source files do not change while it lives: preflight).
    `progress(bytes done, total)` is called as each file is copied."""
    sources = sorted(glob.glob(os.path.expanduser(local_pattern))) if any(
        c in local_pattern for c in "*?[") else [os.path.expanduser(local_pattern)]
    sources = [s for s in sources if os.path.isfile(s)]
    if not sources:
        raise SQLError(f"File doesn't exist: ['{local_pattern}']")
    rows = []
    rel_dir = safe_rel(rel_dir)
    for src in sources:
        name = os.path.basename(src)
        compress = auto_compress and not name.lower().endswith(_COMPRESSED)
        target_name = name + ".gz" if compress else name
        rel = f"{rel_dir}/{target_name}" if rel_dir else target_name
        dest = root / rel
        if dest.is_dir():
            raise SQLError(f"cannot upload {name}: a folder stands where the stage file belongs ({dest}); "
                           "`deployer engine repair` moves it aside")
        size = os.path.getsize(src)
        if dest.exists() and not overwrite:
            rows.append((name, target_name, size, dest.stat().st_size, "NONE",
                         "GZIP" if compress else "NONE", "SKIPPED", ""))
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        found = None
        if compress:
            with open(src, "rb") as fin, gzip.open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            if progress is not None:
                progress(size, size)
        elif not (link and _link(src, tmp)):
            found = _copy_hashing(src, tmp, progress)  # the copy reads every byte anyway: LIST need not
        elif progress is not None:
            progress(size, size)
        os.replace(tmp, dest)
        if found is not None:
            cache.remember(dest, dest.stat(), found)
        rows.append((name, target_name, size, dest.stat().st_size, "NONE",
                     "GZIP" if compress else "NONE", "UPLOADED", ""))
    return rows


def _link(src: str, dest: Path) -> bool:
    try:
        os.link(src, dest)
        return True
    except OSError:
        return False


def _copy_hashing(src: str, dest: Path, progress: Progress | None = None) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    total, done = os.path.getsize(src), 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        for chunk in iter(lambda: fin.read(1 << 20), b""):
            md5.update(chunk)
            sha.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if progress is not None and done == 0:
        progress(0, 0)  # an empty file is done too
    return md5.hexdigest(), sha.hexdigest()


def list_files(root: Path, prefix: str, pattern: str | None = None, *,
               cache: Md5Cache = _NO_CACHE, md5: bool = True) -> list[StagedFile]:
    """Files whose stage path starts with `prefix` (a string prefix, as Snowflake matches).

    `md5=False` leaves the digest empty, for callers that only need the paths."""
    if not root.exists():
        return []
    prefix = prefix.lstrip("/")
    regex = _compile(pattern)
    out = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            if atomic.is_temporary(n):
                continue
            full = Path(dirpath) / n
            rel = full.relative_to(root).as_posix()
            if not rel.startswith(prefix):
                continue
            if regex and not regex.fullmatch(rel):
                continue
            st = full.stat()
            if not md5:
                out.append(StagedFile(rel, st.st_size, "", st.st_mtime))
            elif cache.intact(full, rel):
                out.append(StagedFile(rel, st.st_size, cache.md5(full, st), st.st_mtime))
    return sorted(out, key=lambda f: f.path)


def get(root: Path, prefix: str, local_dir: str, pattern: str | None = None) -> list[tuple]:
    """Copy the files under `prefix` into `local_dir` by base name; one GET result row each."""
    folder = Path(os.path.expanduser(local_dir))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in list_files(root, prefix, pattern, md5=False):
        shutil.copyfile(root / f.path, folder / os.path.basename(f.path))
        rows.append((os.path.basename(f.path), f.size, "DOWNLOADED", ""))
    return rows


def _compile(pattern: str | None):
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SQLError(f"SQL compilation error: invalid PATTERN '{pattern}': {exc}") from None


def remove(root: Path, prefix: str, pattern: str | None = None) -> list[str]:
    removed = []
    for f in list_files(root, prefix, pattern, md5=False):
        (root / f.path).unlink()
        removed.append(f.path)
    # drop folders left empty, as a stage has no real directories
    for dirpath, _, _ in sorted(os.walk(root), key=lambda w: -len(w[0])):
        if Path(dirpath) != root and not os.listdir(dirpath):
            os.rmdir(dirpath)
    return removed


def file_path(root: Path, rel: str) -> Path | None:
    path = root / safe_rel(rel)
    return path if path.is_file() else None
