"""XGBoost: a Booster saved as JSON or UBJSON, or an sklearn-API model saved with joblib/pickle."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from .base import Framework, readable
from .keras import SUFFIXES as KERAS_SUFFIXES

BOOSTER_SUFFIXES = (".json", ".ubj")


def check(full: Path, rel: str) -> Iterator[str]:
    if full.is_dir():
        yield f"'{rel}' is a folder; framework xgboost needs a .json/.ubj Booster or a joblib/pickle file"
        return
    if full.suffix.lower() in KERAS_SUFFIXES or full.suffix.lower() == ".onnx":
        yield (f"'{rel}' does not fit framework xgboost (expected a .json/.ubj Booster or a "
               f"joblib/pickle file)")
        return
    yield from readable(full, rel)


# UBJSON: the key, an array marker (optionally with a type and/or a count), then three
# int8/uint8 values.
_UBJ_VERSION = re.compile(
    rb"version\[(?:\$[iU])?(?:#(?:[iU].|L.{8}))?[iU](.)[iU](.)[iU](.)", re.S)


def versions(path: Path) -> dict[str, str]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        version = json.loads(path.read_text(encoding="utf-8")).get("version")
    elif suffix == ".ubj":
        with open(path, "rb") as fh:  # the version is the last key of the top-level object
            fh.seek(max(0, path.stat().st_size - 4096))
            m = _UBJ_VERSION.search(fh.read())
        version = [g[0] for g in m.groups()] if m else None
    else:
        return {}
    if isinstance(version, list) and len(version) == 3:
        return {"xgboost": ".".join(str(int(v)) for v in version)}
    return {}


FRAMEWORK = Framework(
    name="xgboost",
    artifacts="a Booster saved as .json or .ubj, or an sklearn-API model saved with joblib or pickle",
    packages=("xgboost", "scikit-learn", "joblib", "pandas"),
    modules=("xgboost", "joblib"),
    check=check,
    versions=versions,
    pickled=True,
)
