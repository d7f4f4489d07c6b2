"""Fast paths for manifests of many models give exactly what the general path gives."""

from __future__ import annotations

import copy
import pickle
import random
import shutil
from pathlib import Path

import pytest

from deployer.errors import ManifestError
from deployer.manifest import schema, yamlpos
from deployer.manifest.load import load_manifest

CASES = Path(__file__).parent / "corpus" / "cases"


def _corpus_documents() -> list[dict]:
    docs = []
    for path in sorted(CASES.glob("*.yaml")):
        try:
            data = yamlpos.parse(path.read_text(encoding="utf-8", errors="replace")).data
        except Exception:  # not YAML: nothing to validate
            continue
        if isinstance(data, dict):
            docs.append(data)
    return docs


VALUES = [None, True, False, 0, 1, -1, 1.0, 1.5, float("nan"), float("inf"), "", "x", "float", "number(10,2)",
          "sklearn", "predict", "1bad", [], [1], ["a"], {}, {"a": 1}, {"name": "A", "type": "float"}, 101, "3.11",
          "table", "local", "snowflake"]


def _mutate(rnd: random.Random, value):
    if isinstance(value, dict) and value and rnd.random() < 0.8:
        value = dict(value)
        key = rnd.choice(list(value))
        r = rnd.random()
        if r < 0.15:
            del value[key]
        elif r < 0.25:
            value[rnd.choice(["extra", "name", "type", "method", "column", "class", "comment"])] = rnd.choice(VALUES)
        elif r < 0.6:
            value[key] = _mutate(rnd, value[key])
        else:
            value[key] = copy.deepcopy(rnd.choice(VALUES))
        return value
    if isinstance(value, list) and value and rnd.random() < 0.8:
        value = list(value)
        i = rnd.randrange(len(value))
        value[i] = _mutate(rnd, value[i])
        return value
    return copy.deepcopy(rnd.choice(VALUES))


def test_compiled_schema_agrees_with_jsonschema():
    assert schema._compiled() is not None  # every keyword the schema uses is compiled
    validator = schema._validator()
    rnd = random.Random(0)
    docs = _corpus_documents()
    verdicts = set()
    for _ in range(3000):
        doc = rnd.choice(docs)
        for _ in range(rnd.randint(0, 3)):
            doc = _mutate(rnd, doc)
        expected = validator.is_valid(doc)
        assert schema.is_valid(doc) == expected, doc
        verdicts.add(expected)
    assert verdicts == {True, False}


def test_an_unknown_keyword_leaves_validation_to_jsonschema():
    with pytest.raises(schema._Unsupported):
        schema._compile({"type": "string", "format": "email"})
    with pytest.raises(schema._Unsupported):
        schema._compile({"enum": [1, "a"]})


def _many(tmp_path: Path, n: int, bad: dict[int, str] | None = None) -> Path:
    shutil.copytree(CASES / "models", tmp_path / "models")
    lines = ["version: 1", "database: ML", "schema: DATA_MODEL", "stage: MLOPS_STAGE",
             "defaults: {runtime_version: '3.11'}", "models:"]
    for i in range(n):
        lines += [f"  - name: m{i}", "    framework: sklearn", "    artifact: models/model.joblib",
                  "    features: [{name: A, type: float}, {name: B, type: float}]",
                  (bad or {}).get(i, "    output: {type: float}")]
    path = tmp_path / "deploy.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _problems(path: Path) -> list:
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    return info.value.problems


@pytest.mark.parametrize("bad", [
    "    output: {type: flot}",
    "    output: {type: float, colour: red}",
    "    output: {type: float}\n    max_batch_size: 0",
    "    output: {type: float}\n    tests: [{input: {A: 1, B: 2}}]",
])
def test_an_invalid_model_among_many_is_reported_as_jsonschema_reports_it(tmp_path, monkeypatch, bad):
    path = _many(tmp_path, 300, {7: bad, 250: bad})
    fast = _problems(path)
    assert {p.path.split(".")[0] for p in fast} == {"models[7]", "models[250]"} and all(p.line for p in fast)
    monkeypatch.setattr(schema, "is_valid", lambda data: False)  # jsonschema for everything
    assert _problems(path) == fast


def test_many_valid_models_load_as_through_jsonschema(tmp_path, monkeypatch):
    path = _many(tmp_path, 300)
    fast = load_manifest(path)
    monkeypatch.setattr(schema, "is_valid", lambda data: False)
    assert load_manifest(path) == fast


def test_provenance_reads_a_pickle_once_and_agrees_with_the_sklearn_plugin(tmp_path):
    """read() skips the sklearn plug-in's second read of the same bytes: it could add nothing."""
    from deployer import frameworks, provenance

    (tmp_path / "m.joblib").write_bytes(pickle.dumps({"_sklearn_version": "1.5.2"}))
    plugin = frameworks.get("sklearn").versions(tmp_path / "m.joblib")
    found = provenance.read(tmp_path / "m.joblib", "sklearn")
    assert plugin and plugin.items() <= found.versions.items() and not found.notes


def test_one_pass_provenance_cache_reads_as_the_plain_one(tmp_path):
    from deployer import provenance

    for i in range(3):
        (tmp_path / f"m{i}.joblib").write_bytes(pickle.dumps({"_sklearn_version": f"1.5.{i}"}))
    (tmp_path / "requirements.txt").write_text("mlflow==2.1.0\nscikit-learn==0.1\n")
    plain = [provenance.Cache(None).read(tmp_path / f"m{i}.joblib", "sklearn") for i in range(3)]
    one_pass = provenance.Cache(None, one_pass=True)
    assert [one_pass.read(tmp_path / f"m{i}.joblib", "sklearn") for i in range(3)] == plain
    assert plain[0].versions["mlflow"] == "2.1.0"


def test_types_are_checked_as_jsonschema_checks_them():
    import jsonschema

    checker = jsonschema.Draft202012Validator.TYPE_CHECKER
    for value in (None, True, False, 0, 1, -3, 1.0, 2.5, float("nan"), float("inf"), "1", [], {}, [1], {"a": 1}):
        for kind in ("string", "object", "array", "boolean", "null", "number", "integer"):
            assert schema._TYPES[kind](value) == checker.is_type(value, kind), (value, kind)


def test_a_valid_manifest_does_not_import_jsonschema(tmp_path):
    import subprocess
    import sys
    import textwrap

    example = Path(__file__).resolve().parents[1] / "configs" / "example" / "deploy.yaml"
    code = f"""
        import sys
        from deployer.manifest.load import load_manifest
        load_manifest({str(example)!r})
        print("jsonschema" in sys.modules)
    """
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"


def test_one_command_resolves_each_file_once_and_the_next_command_afresh(tmp_path):
    from deployer.artifacts import RealPaths, one_pass

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "models"
    link.symlink_to(tmp_path / "a")
    with one_pass():
        shared = RealPaths.shared()
        assert RealPaths.shared() is shared
        assert shared(link / "m.joblib") == str(tmp_path / "a" / "m.joblib")
        assert shared.resolve(link / "m.joblib") == tmp_path / "a" / "m.joblib"
        with one_pass():  # nested: still the command's
            assert RealPaths.shared() is shared
    assert RealPaths.shared() is not shared
    link.unlink()
    link.symlink_to(tmp_path / "b")
    with one_pass():
        assert RealPaths.shared()(link / "m.joblib") == str(tmp_path / "b" / "m.joblib")
        assert RealPaths.shared().resolve(link / "m.joblib", text=True) == str(tmp_path / "b" / "m.joblib")
