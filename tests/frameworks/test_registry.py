"""The registry is the one list of frameworks: the schema, checks, codegen and preflight agree."""

from __future__ import annotations

import importlib.resources

from deployer import frameworks, preflight
from deployer.manifest.schema import schema


def test_schema_enum_is_the_registry():
    framework = schema()["properties"]["models"]["items"]["properties"]["framework"]
    assert framework["enum"] == list(frameworks.names())
    assert framework["description"] == frameworks.schema_description()


def test_preflight_modules_come_from_the_registry():
    assert preflight.FRAMEWORK_MODULES == {n: f.modules for n, f in frameworks.REGISTRY.items()}


def test_every_framework_has_its_handler_fragment():
    templates = importlib.resources.files("deployer") / "templates" / "frameworks"
    shipped = {p.name for p in templates.iterdir() if p.name.endswith(".py.j2")}
    assert shipped == {f"{name}.py.j2" for name in frameworks.names()}
    for f in frameworks.REGISTRY.values():
        text = (templates / f"{f.name}.py.j2").read_text()
        # the contract the main template calls
        assert "def _takes_array" in text and "def _load_model" in text and "def _model_call" in text


def test_a_file_of_another_framework_is_rejected_with_its_owner(tmp_path):
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"x")
    assert list(frameworks.get("onnx").check(h5, "model.h5")) == [
        "'model.h5' does not fit framework onnx (expected a .onnx file; .h5 files are framework keras)"]
    assert list(frameworks.get("mlflow").check(h5, "model.h5"))[0].startswith("'model.h5' is a file")
