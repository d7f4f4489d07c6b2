"""LightGBM: a text model file (Booster.save_model) or an sklearn-API model saved with joblib/pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .base import Framework, readable
from .keras import SUFFIXES as KERAS_SUFFIXES


def check(full: Path, rel: str) -> Iterator[str]:
    if full.is_dir():
        yield f"'{rel}' is a folder; framework lightgbm needs a model text file or a joblib/pickle file"
        return
    if full.suffix.lower() in (*KERAS_SUFFIXES, ".onnx", ".json", ".ubj"):
        yield (f"'{rel}' does not fit framework lightgbm (expected a model text file from "
               f"save_model, or a joblib/pickle file)")
        return
    yield from readable(full, rel)


def is_text_model(path: Path) -> bool:
    """LightGBM's text format starts with the line 'tree'."""
    with open(path, "rb") as fh:
        return fh.read(5) == b"tree\n"


FRAMEWORK = Framework(
    name="lightgbm",
    artifacts="a model text file from Booster.save_model, or an sklearn-API model saved with joblib or pickle",
    packages=("lightgbm", "scikit-learn", "joblib", "pandas"),
    modules=("lightgbm", "joblib"),
    check=check,
    pickled=True,
)
