"""What one framework plug-in declares."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator


def _no_versions(path: Path) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Framework:
    name: str
    artifacts: str  # what it accepts, in words: "joblib or pickle file"
    packages: tuple[str, ...]  # what its handler imports, as Snowflake's channel spells them
    modules: tuple[str, ...]  # modules preflight needs in this Python to run the handler
    # Problems with the artifact at `full` (shown as `rel`), as messages; it exists.
    check: Callable[[Path, str], Iterator[str]]
    # Writer versions recorded in the artifact ({package: version}); never raises for bad files.
    versions: Callable[[Path], dict[str, str]] = _no_versions
    pickled: bool = False  # the model file is a pickle: preflight lists the modules it needs
    methods: tuple[str, ...] | None = None  # the only methods it can call; None: any attribute
    default_method: str = "predict"
    # The packages a particular artifact implies, when that depends on the artifact (MLflow).
    packages_of: Callable[[Path], tuple[str, ...]] | None = None

    # Values the handler fragment needs from the artifact, read at render time (as `extra`).
    context: Callable[[Path], dict] | None = None

    def implied(self, artifact: Path) -> tuple[str, ...]:
        if self.packages_of is not None and artifact.exists():
            return self.packages_of(artifact)
        return self.packages

    @property
    def template(self) -> str:
        return f"frameworks/{self.name}.py.j2"


def readable(full: Path, rel: str) -> Iterator[str]:
    if not os.access(full, os.R_OK):
        yield f"'{rel}' is not readable"


def by_suffix(name: str, suffixes: tuple[str, ...], what: str, folder: bool = False):
    """A check accepting files ending in `suffixes` (and folders when `folder`)."""

    def check(full: Path, rel: str) -> Iterator[str]:
        if full.is_dir():
            if not folder:
                yield f"'{rel}' is a folder; framework {name} needs {what}"
            return
        suffix = full.suffix.lower()
        if suffix not in suffixes:
            owner = owner_of(suffix)
            hint = f"{suffix} files are framework {owner}" if owner and owner != name else \
                f"got {suffix or 'no suffix'}"
            yield f"'{rel}' does not fit framework {name} (expected {what}; {hint})"
            return
        yield from readable(full, rel)

    return check


# The suffixes only one framework writes, for "that file is framework X" hints.
OWNED_SUFFIXES = {
    ".h5": "keras", ".hdf5": "keras", ".keras": "keras",
    ".onnx": "onnx", ".ubj": "xgboost",
}


def owner_of(suffix: str) -> str | None:
    return OWNED_SUFFIXES.get(suffix)
