"""MLflow: a model folder with an MLmodel file.

Its sklearn flavor (a pickle) and its keras flavor (a .keras or .h5 file, written by
mlflow.keras or mlflow.tensorflow) are loaded natively, without MLflow in the function;
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


def native_flavor(doc: dict[str, Any], folder: Path | None = None) -> str | None:
    """'sklearn' or 'keras' when the folder holds a model the handler loads itself."""
    flavor = (doc.get("flavors") or {}).get("sklearn") or {}
    if flavor.get("pickled_model") and flavor.get("serialization_format", "cloudpickle") in (
            "pickle", "cloudpickle"):
        return "sklearn"
    if folder is not None and keras_file(doc, folder):
        return "keras"
    return None


def keras_file(doc: dict[str, Any], folder: Path) -> str | None:
    """The Keras model file inside the folder, as MLflow lays it out, or None.

    mlflow.keras (Keras 3): flavors.keras, `<data>/model.keras` (an exported SavedModel is
    left to pyfunc). mlflow.tensorflow: flavors.tensorflow with model_type keras,
    `<data>/model.h5` (save_format h5) or `<data>/model.keras`; an older SavedModel folder is
    left to pyfunc. Custom objects are cloudpickled beside the model: pyfunc too.
    """
    flavors = doc.get("flavors") or {}
    keras_flavor, tf_flavor = flavors.get("keras") or {}, flavors.get("tensorflow") or {}
    if keras_flavor and not keras_flavor.get("save_exported_model"):
        names, data = ["model.keras"], keras_flavor.get("data") or "data"
    elif tf_flavor.get("model_type") == "keras":
        names = ["model.h5"] if tf_flavor.get("save_format") == "h5" else ["model.keras"]
        data = tf_flavor.get("data") or "data"
    else:
        return None
    if not isinstance(data, str) or any((folder / data / f).exists() for f in CUSTOM_OBJECTS):
        return None
    for name in names:
        if (folder / data / name).is_file():
            return f"{data}/{name}"
    return None


CUSTOM_OBJECTS = ("custom_objects.cloudpickle", "global_custom_objects.cloudpickle")


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
    if "python_function" not in flavors and native_flavor(doc, full) is None:
        yield (f"'{rel}' has no python_function, sklearn or keras flavor "
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
        native = native_flavor(mlmodel(folder), folder)
    except Exception:  # reported by check()
        native = None
    if native == "sklearn":
        return ("scikit-learn", "joblib", "pandas")
    if native == "keras":  # keras too: the version that wrote the file is pinned (as for framework keras)
        return ("tensorflow", "keras", "pandas")
    return ("mlflow", "pandas")


def versions(folder: Path) -> dict[str, str]:
    from deployer import provenance

    from . import keras

    found: dict[str, str] = {}
    provenance._mlflow(folder, found)
    try:
        doc = mlmodel(folder)
        model = keras_file(doc, folder)
    except Exception:  # reported by check()
        return found
    if model:
        # The file's own record first: mlflow.tensorflow's keras_version is TensorFlow's version.
        found.update(keras.versions(folder / model))
        tf_flavor = (doc.get("flavors") or {}).get("tensorflow") or {}
        if tf_flavor.get("keras_version"):
            found.setdefault("tensorflow", str(tf_flavor["keras_version"]))
    return found


def context(folder: Path) -> dict:
    doc = mlmodel(folder)
    native = native_flavor(doc, folder)
    model = (doc["flavors"]["sklearn"]["pickled_model"] if native == "sklearn" else
             keras_file(doc, folder) if native == "keras" else None)
    return {"native": native, "pickled": model}


FRAMEWORK = Framework(
    name="mlflow",
    artifacts="an MLflow model folder with MLmodel; its sklearn and keras flavors are loaded natively, else python_function",
    packages=("mlflow", "pandas"),
    modules=("joblib",),
    check=check,
    versions=versions,
    packages_of=packages_of,
    context=context,
    methods=None,
)
