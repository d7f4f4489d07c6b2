"""Stage files on disk: one folder per stage, paths inside it as in Snowflake.

Writes go to a temporary file then `os.replace`, so a reader (or a function's
import directory made of hard links) never sees a half-written file.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from deployer.errors import SQLError

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


def safe_rel(rel: str) -> str:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise SQLError(f"invalid stage path '{rel}'")
    return "/".join(parts)


def put(root: Path, rel_dir: str, local_pattern: str, *, auto_compress: bool,
        overwrite: bool) -> list[tuple]:
    """Upload files matching `local_pattern`; one PUT result row per file."""
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
        if compress:
            with open(src, "rb") as fin, gzip.open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        rows.append((name, target_name, size, dest.stat().st_size, "NONE",
                     "GZIP" if compress else "NONE", "UPLOADED", ""))
    return rows


def list_files(root: Path, prefix: str, pattern: str | None = None) -> list[StagedFile]:
    """Files whose stage path starts with `prefix` (a string prefix, as Snowflake matches)."""
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
            out.append(StagedFile(rel, st.st_size, _md5(full), st.st_mtime))
    return sorted(out, key=lambda f: f.path)


def get(root: Path, prefix: str, local_dir: str, pattern: str | None = None) -> list[tuple]:
    """Copy the files under `prefix` into `local_dir` by base name; one GET result row each."""
    folder = Path(os.path.expanduser(local_dir))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in list_files(root, prefix, pattern):
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
    for f in list_files(root, prefix, pattern):
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
