"""MLflow: a model folder with an MLmodel file.

Its sklearn flavor is loaded natively (joblib/pickle, no MLflow needed in the function);
otherwise the python_function flavor through mlflow.pyfunc. The MLmodel signature fills in
the features and the output type a manifest leaves out (deployer.manifest.load).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .base import Framework, readable

# MLflow signature types -> manifest types.
SIGNATURE_TYPES = {"double": "float", "float": "float", "long": "int", "integer": "int",
                   "string": "string", "boolean": "boolean"}


def mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    doc = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    return doc if isinstance(doc, dict) else {}


def native_flavor(doc: dict[str, Any]) -> str | None:
    """'sklearn' when the folder holds a pickled scikit-learn model the handler loads itself."""
    flavor = (doc.get("flavors") or {}).get("sklearn") or {}
    if flavor.get("pickled_model") and flavor.get("serialization_format", "cloudpickle") in (
            "pickle", "cloudpickle"):
        return "sklearn"
    return None


def check(full: Path, rel: str) -> Iterator[str]:
    if not full.is_dir():
        yield f"'{rel}' is a file; framework mlflow needs an MLflow model folder (with an MLmodel file)"
        return
    if not (full / "MLmodel").is_file():
        yield f"'{rel}' is a folder but not an MLflow model (no MLmodel file in it)"
        return
    try:
        doc = mlmodel(full)
    except Exception as exc:  # a YAML error: say so, in one line
        yield f"'{rel}/MLmodel' cannot be read: {str(exc).splitlines()[0]}"
        return
    flavors = doc.get("flavors") or {}
    if "python_function" not in flavors and native_flavor(doc) is None:
        yield (f"'{rel}' has no python_function or sklearn flavor "
               f"(flavors: {', '.join(flavors) or 'none'})")
    yield from readable(full / "MLmodel", rel + "/MLmodel")


def signature(folder: Path) -> tuple[list[tuple[str, str]] | None, str | None]:
    """([(column, manifest type)], output type) from the MLmodel signature, None when absent."""
    sig = mlmodel(folder).get("signature") or {}
    features = output = None
    try:
        inputs = json.loads(sig["inputs"]) if sig.get("inputs") else None
        outputs = json.loads(sig["outputs"]) if sig.get("outputs") else None
    except ValueError:
        return None, None
    if isinstance(inputs, list) and all(isinstance(c, dict) and c.get("name") for c in inputs):
        features = [(c["name"], SIGNATURE_TYPES.get(c.get("type"), "float")) for c in inputs]
    if isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], dict):
        output = SIGNATURE_TYPES.get(outputs[0].get("type") or "")
        if output is None and outputs[0].get("type") == "tensor":
            kind = (outputs[0].get("tensor-spec") or {}).get("dtype", "")
            output = ("int" if "int" in kind else "float" if "float" in kind else "boolean" if kind == "bool"
                      else "string" if kind in ("str", "object", "string") else None)
    return features, output


def packages_of(folder: Path) -> tuple[str, ...]:
    try:
        if native_flavor(mlmodel(folder)) == "sklearn":
            return ("scikit-learn", "joblib", "pandas")
    except Exception:  # reported by check()
        pass
    return ("mlflow", "pandas")


def versions(folder: Path) -> dict[str, str]:
    from deployer import provenance

    found: dict[str, str] = {}
    provenance._mlflow(folder, found)
    return found


def context(folder: Path) -> dict:
    doc = mlmodel(folder)
    native = native_flavor(doc)
    pickled = doc["flavors"]["sklearn"]["pickled_model"] if native else None
    return {"native": native, "pickled": pickled}


FRAMEWORK = Framework(
    name="mlflow",
    artifacts="an MLflow model folder with MLmodel; its sklearn flavor is loaded natively, else python_function",
    packages=("mlflow", "pandas"),
    modules=("joblib",),
    check=check,
    versions=versions,
    packages_of=packages_of,
    context=context,
    methods=None,
)
