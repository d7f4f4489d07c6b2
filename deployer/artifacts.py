"""Content-addressed artifacts: every file a function imports, named by its SHA-256.

A model's files land on the stage under `@STAGE/<MODEL>/<digest prefix>/<file name>`, so a new
version sits beside the old one (never over it) and the function's IMPORTS change exactly when a
file's bytes change. Folders (a Keras SavedModel, any directory) are shipped as a deterministic
zip. Digests are cached by (path, size, mtime_ns, inode, ctime_ns) so planning over unchanged
gigabytes reads nothing. Only regular files are read; a folder's symlinks are followed only to
places inside it, never in a loop.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import atomic
from .desired import DesiredState, Model
from .errors import DeployerError
from .identifiers import qualified

DIGEST_PREFIX = 12  # hex characters of the digest used in the stage path
CHUNK = 1 << 20
CACHE_VERSION = 2  # 2: keys include ctime_ns
MAX_FOLDER_ENTRIES = 100_000
SHOWN_MEMBERS = 5  # top-level names of a zip shown in the plan

# Names that are safe inside a quoted stage path, an IMPORTS literal and a Python import folder.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")

# Fixed zip metadata: 1980-01-01 is the earliest date a zip entry can hold.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE = 0o100644 << 16
_ZIP_DIR_MODE = (0o040755 << 16) | 0x10  # 0x10: MS-DOS directory flag


_PASS: contextvars.ContextVar[RealPaths | None] = contextvars.ContextVar("deployer_real_paths", default=None)


@contextlib.contextmanager
def one_pass() -> Iterator[None]:
    """Within it, RealPaths.shared() is one object: a command that loads a manifest, checks it
    and resolves its packages looks each file's real path up once, not once per step."""
    token = _PASS.set(_PASS.get() or RealPaths())
    try:
        yield
    finally:
        _PASS.reset(token)


class RealPaths:
    """os.path.realpath for many files in few folders: each folder's real path is looked up
    once (with ten thousand models, resolving every part of every path took seconds); a file
    that is itself a link, or a path with `..`, is resolved whole. For one pass over a manifest."""

    def __init__(self) -> None:
        self.folders: dict[str, str] = {}
        self.files: dict[str, str] = {}
        self.resolved: dict[str, Path] = {}

    @classmethod
    def shared(cls) -> RealPaths:
        """The one of the current pass (see one_pass), else a new one."""
        return _PASS.get() or cls()

    def __call__(self, path: str | os.PathLike) -> str:
        raw = os.fspath(path)
        real = self.files.get(raw)
        if real is None:
            real = self.files[raw] = self._real(raw)
        return real

    def _real(self, raw: str) -> str:
        text = os.path.abspath(raw)
        if os.pardir in raw.split(os.sep) or os.path.islink(text):
            return os.path.realpath(raw)
        folder, name = os.path.split(text)
        real = self.folders.get(folder)
        if real is None:
            real = self.folders[folder] = os.path.realpath(folder)
        return os.path.join(real, name) if name else real

    def resolve(self, path: Path, text: bool = False):
        """Path.resolve() (str(...) with `text`), which also reports a link loop: links and
        `..` go through it."""
        raw = os.fspath(path)
        if text:
            return str(self.resolve(path))
        real = self.resolved.get(raw)
        if real is None:
            if os.pardir in raw.split(os.sep) or os.path.islink(raw):
                real = Path(path).resolve()
            else:
                real = Path(self(raw))
            self.resolved[raw] = real
        return real


class ArtifactError(DeployerError):
    """A model file that cannot be shipped as it is."""


class FolderError(ArtifactError):
    """An entry of a folder artifact that cannot be shipped; `reason` names it relative to the folder."""

    def __init__(self, folder: Path, reason: str):
        super().__init__(f"{folder}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class StagedFile:
    """One file a function imports."""

    source: Path  # the local file or folder it comes from
    role: str  # "model" | "preprocess" | "postprocess" | "import"
    file_name: str  # name on the stage and in the import directory
    digest: str  # hex sha256 of the uploaded bytes
    size: int  # bytes uploaded
    stage_dir: str  # "@DB.SCHEMA.STAGE/MODEL/<digest prefix>"
    local_path: Path  # the file to PUT (for a folder: its deterministic zip)
    members: tuple[str, ...] = ()  # for a folder: the files in its zip

    @property
    def contents(self) -> str:
        """' (zip of 5 files: saved_model.pb, variables/...)' for a folder, else ''."""
        if not self.members:
            return ""
        top = list(dict.fromkeys(m.split("/", 1)[0] + ("/..." if "/" in m else "") for m in self.members))
        shown = ", ".join(top[:SHOWN_MEMBERS]) + (", ..." if len(top) > SHOWN_MEMBERS else "")
        return f" (zip of {len(self.members)} file{'s' if len(self.members) != 1 else ''}: {shown})"

    @property
    def stage_path(self) -> str:
        return f"{self.stage_dir}/{self.file_name}"

    @property
    def is_folder(self) -> bool:
        return self.source.is_dir()


# --------------------------------------------------------------------------- digests


def sha256_stream(fh) -> str:
    h = hashlib.sha256()
    for chunk in iter(lambda: fh.read(CHUNK), b""):
        h.update(chunk)
    return h.hexdigest()


class DigestCache:
    """Digests of files already read, keyed by path, size, mtime_ns and inode.

    Persisted as JSON (normally `<manifest folder>/.deployer/cache/digests.json`). A file whose
    stat key is unchanged is not read again. `reads` counts the files actually hashed.
    """

    def __init__(self, path: Path | None = None):
        self.path = path
        self.reads = 0
        self._entries: dict[str, dict] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION:
                    self._entries = dict(data.get("entries", {}))
            except (OSError, ValueError):
                self._entries = {}  # a corrupt cache only costs a re-read

    @classmethod
    def for_state(cls, state: DesiredState) -> "DigestCache":
        return cls(cache_dir(state) / "digests.json")

    @staticmethod
    def _key(st: os.stat_result) -> list[int]:
        # ctime too: an in-place rewrite of the same size can keep (or restore) mtime.
        return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]

    def lookup(self, name: str, key: list) -> str | None:
        entry = self._entries.get(name)
        if entry and entry.get("key") == key:
            return entry["digest"]
        return None

    def store(self, name: str, key: list, digest: str) -> None:
        self._entries[name] = {"key": key, "digest": digest}
        self._dirty = True

    def file_digest(self, path: Path) -> tuple[str, int]:
        """(hex sha256, size) of a file, read only when its stat key changed."""
        path = Path(os.path.abspath(path))
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would never end
            raise ArtifactError(f"{path}: not a regular file")
        key = self._key(st)
        cached = self.lookup(str(path), key)
        if cached is not None:
            return cached, st.st_size
        with open(path, "rb") as fh:
            digest = sha256_stream(fh)
        self.reads += 1
        self.store(str(path), key, digest)
        return digest, st.st_size

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        atomic.write_text(self.path, json.dumps({"version": CACHE_VERSION, "entries": self._entries},
                                                sort_keys=True))
        self._dirty = False


def cache_dir(state: DesiredState) -> Path:
    return state.root / ".deployer" / "cache"


# --------------------------------------------------------------------------- folders


def _walk(folder: Path) -> list[tuple[str, Path]]:
    """Every entry under `folder` as (posix relative path, real path), sorted; dirs end with '/'.

    Raises FolderError for a symlink leading outside the folder, a dangling symlink, a loop,
    anything but regular files and folders, or more than MAX_FOLDER_ENTRIES entries.
    """
    top = Path(os.path.realpath(folder))
    entries: list[tuple[str, Path]] = []
    pending = [(top, "", (top,))]  # (real folder, its relative prefix, real folders above it)
    while pending:
        real_dir, prefix, above = pending.pop()
        try:
            names = sorted(os.listdir(real_dir))
        except OSError as exc:
            raise FolderError(folder, f"{prefix or '.'}: cannot read: {exc.strerror}") from None
        for name in names:
            rel, here = prefix + name, real_dir / name
            real = Path(os.path.realpath(here))
            try:
                st = os.stat(here)
            except OSError as exc:
                if not here.is_symlink():
                    raise FolderError(folder, f"{rel}: cannot read: {exc.strerror}") from None
                raise FolderError(folder, f"{rel} is a symlink to {os.readlink(here)!r}, which does not resolve "
                                          "(missing, or a loop)") from None
            if here.is_symlink() and not real.is_relative_to(top):
                raise FolderError(folder, f"{rel} is a symlink leading outside the folder (to {real})")
            if stat.S_ISDIR(st.st_mode):
                if real in above:
                    raise FolderError(folder, f"{rel} is a symlink loop (back to {real})")
                entries.append((rel + "/", real))
                pending.append((real, rel + "/", above + (real,)))
            elif stat.S_ISREG(st.st_mode):
                entries.append((rel, real))
            else:
                raise FolderError(folder, f"{rel} is not a regular file (a FIFO, socket or device)")
            if len(entries) > MAX_FOLDER_ENTRIES:
                raise FolderError(folder, f"more than {MAX_FOLDER_ENTRIES:,} entries (through symlinks?)")
    entries.sort(key=lambda e: e[0])
    return entries


def folder_members(folder: Path) -> tuple[str, ...]:
    """The files a folder's zip holds, as relative posix paths, sorted."""
    return tuple(rel for rel, _ in _walk(folder) if not rel.endswith("/"))


def write_deterministic_zip(folder: Path, out) -> None:
    """Zip `folder` into the binary stream `out`; same content gives the same bytes.

    Entries are sorted, dated 1980-01-01, mode 644/755, and STORED: deflate output can differ
    between zlib builds, and model weights barely compress anyway.
    """
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel, path in _walk(folder):
            info = zipfile.ZipInfo(rel, date_time=_ZIP_DATE)
            info.create_system = 3  # unix, so external_attr is read as a mode everywhere
            if rel.endswith("/"):
                info.external_attr = _ZIP_DIR_MODE
                zf.writestr(info, b"")
            else:
                info.external_attr = _ZIP_FILE_MODE
                info.compress_type = zipfile.ZIP_STORED
                with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        dst.write(chunk)


def _tree_key(folder: Path) -> list:
    """Stat keys of every entry: any change to a file or to the layout changes it."""
    key = []
    for rel, path in _walk(folder):
        st = path.stat()
        key.append([rel] if stat.S_ISDIR(st.st_mode) else [rel, *DigestCache._key(st)])
    return key


def folder_zip(folder: Path, zip_dir: Path, cache: DigestCache) -> tuple[Path, str, int]:
    """The deterministic zip of `folder` in `zip_dir`: (zip path, digest, size).

    When nothing under the folder changed and the zip is still there, nothing is read.
    """
    folder = Path(os.path.abspath(folder))
    key = _tree_key(folder)
    name = "folder:" + str(folder)
    digest = cache.lookup(name, key)
    if digest is not None:
        cached = zip_dir / digest / f"{folder.name}.zip"
        if cached.is_file():
            return cached, digest, cached.stat().st_size
    zip_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=zip_dir, prefix=".zip-")
    h = hashlib.sha256()
    with os.fdopen(fd, "w+b") as fh:
        write_deterministic_zip(folder, fh)
        fh.seek(0)
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
        size = fh.tell()
    cache.reads += 1
    digest = h.hexdigest()
    # PUT keeps the local file name: the zip must already have the name it has on the stage.
    final = zip_dir / digest / f"{folder.name}.zip"
    final.parent.mkdir(exist_ok=True)
    os.replace(tmp, final)
    cache.store(name, key, digest)
    return final, digest, size


def zip_bytes(folder: Path) -> bytes:
    """The deterministic zip of a folder, in memory (for tests and small folders)."""
    buf = io.BytesIO()
    write_deterministic_zip(folder, buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- layout


def stage_location(state: DesiredState) -> str:
    return "@" + qualified(state.database, state.schema, state.stage)


def check_file_name(name: str, source: Path) -> str:
    if not _SAFE_NAME.fullmatch(name) or name.endswith("."):
        raise ArtifactError(
            f"{source}: the file name {name!r} is not safe in a stage path; "
            "rename it using letters, digits, '_', '-' and '.'"
        )
    return name


def staged_name(source: Path) -> str:
    """The name `source` gets on the stage and in the import directory."""
    source = Path(source)
    return check_file_name(source.name + ".zip" if source.is_dir() else source.name, source)


def _roles(model: Model) -> list[tuple[str, Path]]:
    roles = [("model", model.artifact)]
    roles += [("preprocess", s.artifact) for s in model.preprocess]
    roles += [("postprocess", s.artifact) for s in model.postprocess]
    roles += [("import", p) for p in model.imports]
    return roles


def model_files(
    state: DesiredState, model: Model, cache: DigestCache | None = None
) -> tuple[StagedFile, ...]:
    """Every file `model` imports, in order: model, preprocess, postprocess, imports.

    Raises ArtifactError for a missing file, an unsafe name, or two files that would land under
    the same name in the function's import directory. The same file listed twice (e.g. one
    scaler used before and after) is shipped once.
    """
    cache = cache if cache is not None else DigestCache()
    root = stage_location(state)
    zip_dir = cache_dir(state) / "zips"
    files: list[StagedFile] = []
    seen: dict[str, StagedFile] = {}
    for role, source in _roles(model):
        source = Path(source)
        if not source.exists():
            raise ArtifactError(f"{source}: {role} file not found")
        file_name = staged_name(source)
        members: tuple[str, ...] = ()
        if source.is_dir():
            local, digest, size = folder_zip(source, zip_dir, cache)
            members = folder_members(source)
        else:
            digest, size = cache.file_digest(source)
            local = Path(os.path.abspath(source))
        previous = seen.get(file_name)
        if previous is not None:
            if previous.digest == digest:
                continue
            raise ArtifactError(
                f"{source}: another {previous.role} file is also named {file_name!r} "
                f"({previous.source}); Snowflake puts all imports in one folder, so names must differ"
            )
        staged = StagedFile(
            source=source,
            role=role,
            file_name=file_name,
            digest=digest,
            size=size,
            stage_dir=f"{root}/{model.name}/{digest[:DIGEST_PREFIX]}",
            local_path=local,
            members=members,
        )
        seen[file_name] = staged
        files.append(staged)
    return tuple(files)
