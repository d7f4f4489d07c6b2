"""Stage files on disk: one folder per stage, paths inside it as in Snowflake.

Writes go to a temporary file then `os.replace`, so a reader (or a function's
import directory made of hard links) never sees a half-written file.

LIST reports an MD5 per file. Digests are kept in `<account>/stages/.md5.json`, keyed by
path, size, mtime and inode: a file unchanged since it was written or last listed is not
read again, so listing a stage holding a 1 GB model reads nothing.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from deployer.errors import SQLError
from deployer.session import Progress

_COMPRESSED = (".gz", ".bz2", ".zst", ".zip", ".br", ".deflate")


@dataclass(frozen=True)
class StagedFile:
    path: str  # relative to the stage root, '/'-separated
    size: int
    md5: str
    mtime: float


def stage_root(account: Path, db: str, schema: str, stage: str) -> Path:
    return account / "stages" / quote(db, safe="") / quote(schema, safe="") / quote(stage, safe="")


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Md5Cache:
    """MD5s of staged files by (size, mtime_ns, inode); `reads` counts files actually hashed."""

    def __init__(self, path: Path | None):
        self.path = path
        self.reads = 0
        self._entries: dict[str, list] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                self._entries = dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                self._entries = {}  # a broken cache only costs a re-read

    @staticmethod
    def _key(st: os.stat_result) -> list:
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def md5(self, path: Path, st: os.stat_result) -> str:
        name, key = str(path), self._key(st)
        entry = self._entries.get(name)
        if entry is not None and entry[:3] == key:
            return entry[3]
        digest = _md5(path)
        self.reads += 1
        self.remember(path, st, digest)
        return digest

    def remember(self, path: Path, st: os.stat_result, digest: str) -> None:
        self._entries[str(path)] = self._key(st) + [digest]
        self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        # forget files that are gone, so the cache does not grow with every release
        self._entries = {k: v for k, v in self._entries.items() if os.path.exists(k)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._entries))
        os.replace(tmp, self.path)
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
        size = os.path.getsize(src)
        if dest.exists() and not overwrite:
            rows.append((name, target_name, size, dest.stat().st_size, "NONE",
                         "GZIP" if compress else "NONE", "SKIPPED", ""))
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        digest = None
        if compress:
            with open(src, "rb") as fin, gzip.open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        elif not (link and _link(src, tmp)):
            digest = _copy_md5(src, tmp, progress)  # the copy reads every byte anyway: LIST need not
        elif progress is not None:
            progress(size, size)
        os.replace(tmp, dest)
        if digest is not None:
            cache.remember(dest, dest.stat(), digest)
        rows.append((name, target_name, size, dest.stat().st_size, "NONE",
                     "GZIP" if compress else "NONE", "UPLOADED", ""))
    return rows


def _link(src: str, dest: Path) -> bool:
    try:
        os.link(src, dest)
        return True
    except OSError:
        return False


def _copy_md5(src: str, dest: Path, progress: Progress | None = None) -> str:
    h = hashlib.md5()
    total, done = os.path.getsize(src), 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        for chunk in iter(lambda: fin.read(1 << 20), b""):
            h.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if progress is not None and done == 0:
        progress(0, 0)  # an empty file is done too
    return h.hexdigest()


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
            if n.startswith(".") and n.endswith(".tmp"):
                continue
            full = Path(dirpath) / n
            rel = full.relative_to(root).as_posix()
            if not rel.startswith(prefix):
                continue
            if regex and not regex.fullmatch(rel):
                continue
            st = full.stat()
            out.append(StagedFile(rel, st.st_size, cache.md5(full, st) if md5 else "", st.st_mtime))
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
