"""scikit-learn: an estimator or pipeline saved with joblib or pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .base import Framework, readable
from .keras import SUFFIXES as KERAS_SUFFIXES


def check(full: Path, rel: str) -> Iterator[str]:
    if full.is_dir():
        yield f"'{rel}' is a folder; framework sklearn needs a joblib or pickle file"
        return
    suffix = full.suffix.lower()
    if suffix in KERAS_SUFFIXES:
        yield f"'{rel}' does not fit framework sklearn ({suffix} files are framework keras)"
        return
    yield from readable(full, rel)


def versions(path: Path) -> dict[str, str]:
    from deployer import provenance

    version = provenance.sklearn_version(path.read_bytes())
    return {"scikit-learn": version} if version else {}


FRAMEWORK = Framework(
    name="sklearn",
    artifacts="joblib or pickle file of an estimator or pipeline",
    packages=("scikit-learn", "joblib", "pandas"),
    modules=("sklearn", "joblib"),
    check=check,
    versions=versions,
    pickled=True,
)
