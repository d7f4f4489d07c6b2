"""Keras: an .h5/.keras file or a TensorFlow SavedModel folder, called with predict_on_batch."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .base import Framework, readable

SUFFIXES = (".h5", ".hdf5", ".keras")
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle", ".sav", ".ct")


def check(full: Path, rel: str) -> Iterator[str]:
    if full.is_dir():
        if not (full / "saved_model.pb").is_file():
            yield f"'{rel}' is a folder but not a SavedModel (no saved_model.pb in it)"
        return
    suffix = full.suffix.lower()
    if suffix not in SUFFIXES:
        other = ".joblib/pickle files are framework sklearn" if suffix in PICKLE_SUFFIXES else \
            "got " + (suffix or "no suffix")
        yield f"'{rel}' does not fit framework keras (expected .h5, .keras or a SavedModel folder; {other})"
        return
    yield from readable(full, rel)


def versions(path: Path) -> dict[str, str]:
    from deployer import provenance

    if path.is_dir():
        return provenance._saved_model(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        return provenance._h5(path)
    return provenance._keras_zip(path)


FRAMEWORK = Framework(
    name="keras",
    artifacts=".h5, .keras or a SavedModel folder",
    packages=("tensorflow", "pandas"),
    modules=("tensorflow", "keras", "joblib"),
    check=check,
    versions=versions,
    methods=("predict",),
)
