"""Frameworks as plug-ins: everything the product knows about one framework, in one module.

Each module here defines FRAMEWORK (a Framework) and ships one handler fragment,
deployer/templates/frameworks/<name>.py.j2. The manifest schema's enum, the manifest checks,
codegen, preflight and provenance all read REGISTRY; tests/frameworks/test_registry.py asserts
the schema agrees. Adding a framework: one module, one template, its tests.
"""

from __future__ import annotations

from .base import Framework
from . import keras, lightgbm, mlflow, onnx, sklearn, xgboost

REGISTRY: dict[str, Framework] = {
    m.FRAMEWORK.name: m.FRAMEWORK for m in (keras, sklearn, xgboost, lightgbm, onnx, mlflow)
}


def get(name: str) -> Framework | None:
    return REGISTRY.get(name)


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def schema_description() -> str:
    """The `framework` key's description in the manifest schema."""
    return ("The framework that saved the artifact: "
            + "; ".join(f"{f.name} ({f.artifacts})" for f in REGISTRY.values()) + ".")
