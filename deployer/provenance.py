"""Which library versions wrote an artifact, read from the file without importing the framework.

- Keras `.h5`: the root attributes `keras_version` and `backend` (h5py only, no TensorFlow).
- Keras `.keras`: the zip's `metadata.json` (`keras_version`).
- TensorFlow SavedModel folders: `saved_model.pb`'s MetaInfoDef.tensorflow_version (read from
  the protobuf bytes), and `keras_metadata.pb`'s keras_version when Keras 2 wrote it.
- Pickles and joblib files: the `_sklearn_version` every scikit-learn estimator stores in its
  state, found by scanning the pickle stream (nothing is unpickled, so no code runs). joblib
  files may hold raw numpy buffers between opcodes, so the scan is on bytes, not opcodes.
  zlib/gzip/bz2/lzma-compressed joblib files are decompressed first (lz4 when installed).
- MLflow-style metadata beside the artifact (or inside an artifact folder): `MLmodel`
  (flavor versions, `python_version`), `python_env.yaml`, `requirements.txt` pins.

Versions are keyed by the package name as Snowflake's channel spells it (keras, tensorflow,
scikit-learn ...). Reading never fails: an unreadable file simply tells nothing, with a note.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR

from deployer import atomic
from deployer.artifacts import RealPaths
from deployer.packages import PackageSpec

_SKLEARN_KEY = b"_sklearn_version"
# After the key: optional memo opcodes (MEMOIZE, BINPUT n, LONG_BINPUT n), then a string.
_MEMO = re.compile(rb"(?:\x94|q.|r....)?", re.S)
_MLFLOW_FLAVORS = {"sklearn": ("sklearn_version", "scikit-learn"), "keras": ("keras_version", "keras"),
                   "tensorflow": ("tf_version", "tensorflow")}
# MLflow's requirements.txt is the whole logging environment (pandas, numpy, rich ...); only the
# packages that load a model count as its writers.
_MLFLOW_LOADERS = frozenset({"mlflow", "scikit-learn", "keras", "tensorflow", "xgboost", "lightgbm",
                             "onnx", "onnxruntime"})


@dataclass(frozen=True)
class Provenance:
    path: Path
    versions: dict[str, str] = field(default_factory=dict)  # package -> version that wrote it
    python: str | None = None  # the Python that wrote it, when recorded (MLflow)
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [f"{k} {v}" for k, v in sorted(self.versions.items())]
        if self.python:
            parts.append(f"python {self.python}")
        return ", ".join(parts) if parts else "versions not recorded"


def read(path: Path, framework: str | None = None, *, beside: dict | None = None) -> Provenance:
    """The writer versions recorded in one artifact (a file or a folder); `framework`: the
    plug-in (deployer.frameworks) that reads its own formats (an XGBoost JSON Booster ...);
    `beside`: the MLflow metadata of folders already read in this pass (Cache one_pass)."""
    path = Path(path)
    versions: dict[str, str] = {}
    notes: list[str] = []
    python = None
    scanned = False  # the file's bytes were scanned for _sklearn_version
    try:
        if path.is_dir():
            versions.update(_saved_model(path))
            python = _mlflow(path, versions)
        else:
            suffix = path.suffix.lower()
            if suffix in (".h5", ".hdf5"):
                versions.update(_h5(path))
            elif suffix == ".keras":
                versions.update(_keras_zip(path))
            else:
                data = path.read_bytes()  # once: ten thousand small pickles were opened three times
                if zipfile.is_zipfile(io.BytesIO(data)):
                    versions.update(_keras_zip(path))
                else:
                    scanned = True
                    version = sklearn_version(data)
                    if version:
                        versions["scikit-learn"] = version
            mlflow_python = _mlflow(path.parent, versions, only_if_missing=True, memo=beside)
            python = python or mlflow_python
        if framework is not None:
            from deployer import frameworks

            plugin = frameworks.get(framework)
            # The sklearn plug-in's versions are the scan just made of the same bytes.
            if plugin is not None and not (scanned and plugin.name == "sklearn"):
                for package, version in plugin.versions(path).items():
                    versions.setdefault(package, version)
    except (OSError, ValueError, KeyError, ImportError, zipfile.BadZipFile) as exc:
        notes.append(f"{path.name}: cannot read writer versions: {exc}")
    return Provenance(path, versions, python, tuple(notes))


_MLFLOW_FILES = ("MLmodel", "python_env.yaml", "requirements.txt")


class Cache:
    """Provenances of files already read, keyed by the stat of the file and of the MLflow
    files beside it: an unchanged 1 GB pickle is not read again (nor h5py imported) on every
    command. Folders are read each time. Persisted as JSON beside the digest cache.

    `one_pass`: for one command's pass over many models (ten thousand files in one folder):
    each folder's real path and MLflow files are looked at once, not once per file."""

    def __init__(self, path: Path | None, one_pass: bool = False):
        self.path, self.reads, self._dirty = path, 0, False
        self._real = RealPaths.shared() if one_pass else None
        self._beside: dict[Path, list] | None = {} if one_pass else None
        self._mlflow: dict[Path, tuple] | None = {} if one_pass else None
        self._entries: dict[str, dict] = {}
        if path is not None and path.is_file():
            try:
                self._entries = dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                self._entries = {}

    @staticmethod
    def _key(path: Path, beside: dict[Path, list] | None = None, st: os.stat_result | None = None) -> list:
        def stat(p: Path, st=None):
            try:
                st = st or p.stat()
            except OSError:
                return None
            return [st.st_size, st.st_mtime_ns, st.st_ino]
        folder = path.parent
        meta = beside.get(folder) if beside is not None else None
        if meta is None:
            meta = [stat(folder / name) for name in _MLFLOW_FILES]
            if beside is not None:
                beside[folder] = meta
        # The leading tag changes when what is read changes: older entries are read again.
        return ["loaders-only"] + [stat(path, st)] + meta

    def read(self, path: Path, framework: str | None = None) -> Provenance:
        path = Path(path)
        try:  # one stat: whether it is a folder, and the key
            st = os.stat(path)
        except OSError:
            st = None
        if st is not None and S_ISDIR(st.st_mode):
            return read(path, framework)
        name = self._real.resolve(path, text=True) if self._real is not None else str(path.resolve())
        key = self._key(path, self._beside, st)
        entry = self._entries.get(name)
        if entry is not None and entry["key"] == key:
            return Provenance(path, dict(entry["versions"]), entry["python"], tuple(entry["notes"]))
        found = read(path, framework, beside=self._mlflow)
        self.reads += 1
        if not found.notes:  # a file that could not be read is tried again next time
            self._entries[name] = {"key": key, "versions": found.versions, "python": found.python,
                                   "notes": list(found.notes)}
            self._dirty = True
        return found

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            atomic.write_text(self.path, json.dumps(self._entries))
        except OSError:
            pass  # a cache that cannot be written only costs a re-read
        self._dirty = False


def _h5(path: Path) -> dict[str, str]:
    import h5py  # a small C library binding, not the framework

    with h5py.File(path, "r") as fh:
        version = _text(fh.attrs.get("keras_version"))
    # Keras 2 files were written by tf.keras; its version is still the keras package's series.
    return {"keras": version} if version else {}


def _text(value) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _keras_zip(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        if "metadata.json" not in zf.namelist():
            return {}
        meta = json.loads(zf.read("metadata.json"))
    version = meta.get("keras_version")
    return {"keras": str(version)} if version else {}


# MetaInfoDef field 5 (tensorflow_version, tag 0x2a) then field 6 (tensorflow_git_version,
# tag 0x32, "v2.17.0-..."): the pair is distinctive enough to find without a protobuf parser.
_TF_VERSION = re.compile(rb"\x2a([\x01-\x20])([0-9]+\.[0-9]+\.[0-9][0-9A-Za-z.+-]*)\x32[\x01-\x7f]v")


def _saved_model(folder: Path) -> dict[str, str]:
    out = {}
    pb = folder / "saved_model.pb"
    if pb.is_file():
        for m in _TF_VERSION.finditer(pb.read_bytes()):
            if m.group(1)[0] == len(m.group(2)):
                out["tensorflow"] = m.group(2).decode()
                break
    meta = folder / "keras_metadata.pb"
    if meta.is_file():
        m = re.search(rb'"keras_version":\s*"([0-9][0-9A-Za-z.+-]*)"', meta.read_bytes())
        if m:
            out["keras"] = m.group(1).decode()
    return out


def _decompress(data: bytes) -> bytes:
    """joblib's compressed formats, recognised by their magic bytes."""
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00" or data[:1] == b"\x5d":
        try:
            return lzma.decompress(data)
        except lzma.LZMAError:
            return data
    if data[:4] == b"\x04\x22\x4d\x18":
        try:
            import lz4.frame
        except ImportError:
            raise ValueError("lz4-compressed; install lz4 to read it") from None
        return lz4.frame.decompress(data)
    if data[:1] == b"\x78":  # zlib header (joblib's compress=True / 'zlib')
        try:
            return zlib.decompress(data)
        except zlib.error:
            return data
    return data


def sklearn_version(data: bytes) -> str | None:
    """The `_sklearn_version` recorded in a pickle or joblib stream, or None.

    A stream may hold several estimators; they were written by one scikit-learn, and the
    key's string is memoised after its first use, so the first occurrence is the one to read.
    """
    data = _decompress(data)
    at = data.find(_SKLEARN_KEY)
    while at >= 0:
        pos = at + len(_SKLEARN_KEY)
        memo = _MEMO.match(data, pos)
        pos = memo.end() if memo else pos
        value = _pickle_string(data, pos)
        if value and re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", value):
            return value
        at = data.find(_SKLEARN_KEY, at + 1)
    return None


def _pickle_string(data: bytes, pos: int) -> str | None:
    """The string a pickle opcode at `pos` pushes: SHORT_BINUNICODE, BINUNICODE or SHORT_BINSTRING."""
    if pos >= len(data):
        return None
    op = data[pos:pos + 1]
    if op in (b"\x8c", b"U"):  # SHORT_BINUNICODE, SHORT_BINSTRING: one length byte
        size, start = data[pos + 1] if pos + 1 < len(data) else 0, pos + 2
    elif op == b"X":  # BINUNICODE: four length bytes
        size, start = int.from_bytes(data[pos + 1:pos + 5], "little"), pos + 5
    else:
        return None
    raw = data[start:start + size]
    try:
        return raw.decode("utf-8") if len(raw) == size and size < 64 else None
    except UnicodeDecodeError:
        return None


def _mlflow(folder: Path, versions: dict[str, str], *, only_if_missing: bool = False,
            memo: dict | None = None) -> str | None:
    """Merge MLflow metadata found in `folder` into `versions`; the recorded Python, if any.
    `memo`: folder -> what was found there, for a pass over many files in one folder."""
    if memo is None or folder not in memo:
        found_python = _mlflow_found(folder)
        if memo is not None:
            memo[folder] = found_python
    found, python = found_python if memo is None else memo[folder]
    for package, version in found.items():
        if not only_if_missing or package not in versions:
            versions.setdefault(package, version)
    return str(python) if python else None


def _mlflow_found(folder: Path) -> tuple[dict[str, str], object]:
    import yaml

    found: dict[str, str] = {}
    python = None
    mlmodel = folder / "MLmodel"
    if mlmodel.is_file():
        doc = yaml.safe_load(mlmodel.read_text()) or {}
        flavors = doc.get("flavors") or {}
        for flavor, (key, package) in _MLFLOW_FLAVORS.items():
            value = (flavors.get(flavor) or {}).get(key)
            if value:
                found[package] = str(value)
        python = (flavors.get("python_function") or {}).get("python_version")
    env = folder / "python_env.yaml"
    if env.is_file():
        doc = yaml.safe_load(env.read_text()) or {}
        python = doc.get("python") or python
    requirements = folder / "requirements.txt"
    if requirements.is_file():
        for line in requirements.read_text().splitlines():
            m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([0-9][0-9A-Za-z.+-]*)\s*(?:#.*)?", line)
            name = PackageSpec(m.group(1), "").key if m else None
            name = "mlflow" if name == "mlflow-skinny" else name  # the same modules
            if name in _MLFLOW_LOADERS:
                found.setdefault(name, m.group(2))
    return found, python


def merged(provenances: list[Provenance]) -> tuple[dict[str, tuple[str, Path]], list[str]]:
    """One writer version per package over a model's artifacts: {package: (version, file)}.

    Two artifacts written by different versions of one package are reported: they cannot
    both be loaded by the exact version they were written with.
    """
    out: dict[str, tuple[str, Path]] = {}
    conflicts = []
    for p in provenances:
        for package, version in p.versions.items():
            if package in out and out[package][0] != version:
                conflicts.append(f"{package}: {out[package][1].name} was written by {out[package][0]}, "
                                 f"{p.path.name} by {version}")
                continue
            out.setdefault(package, (version, p.path))
    return out, conflicts
