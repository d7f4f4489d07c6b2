"""An unchanged manifest document is not validated against the JSON Schema again; any change
to the document, the schema or the validator validates it again, and problems are never kept."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deployer import schema_cache
from deployer.errors import ManifestError
from deployer.manifest.load import load_manifest

CASES = Path(__file__).parent / "corpus" / "cases"
BASE = (CASES / "missing-version.yaml").read_text().replace("database: ML", "version: 1\ndatabase: ML")


@pytest.fixture()
def project(tmp_path):
    shutil.copytree(CASES / "models", tmp_path / "models")
    (tmp_path / "deploy.yaml").write_text(BASE)
    return tmp_path


def passed(project) -> list[str]:
    path = project / schema_cache.FILE
    return json.loads(path.read_text())["passed"] if path.exists() else []


def counting(monkeypatch) -> list:
    """Count calls of the real validator."""
    from deployer.manifest import schema

    calls = []
    real = schema.errors
    monkeypatch.setattr(schema, "errors", lambda data: calls.append(1) or real(data))
    return calls


def test_a_passing_document_is_validated_once(project, monkeypatch):
    calls = counting(monkeypatch)
    first = load_manifest(project / "deploy.yaml")
    assert len(calls) == 1 and len(passed(project)) == 1
    assert load_manifest(project / "deploy.yaml") == first
    assert len(calls) == 1  # answered from the cache
    (project / "deploy.yaml").write_text(BASE.replace("MLOPS_STAGE", "OTHER_STAGE"))
    load_manifest(project / "deploy.yaml")
    assert len(calls) == 2 and len(passed(project)) == 2


def test_a_variable_that_changes_the_document_validates_again(project, monkeypatch):
    (project / "deploy.yaml").write_text(BASE.replace("    output: {type: float}", "    output: {type: '{{ var.t }}'}")
                                         .replace("version: 1", "version: 1\nvars: {t: float}"))
    calls = counting(monkeypatch)
    load_manifest(project / "deploy.yaml")
    load_manifest(project / "deploy.yaml")
    assert len(calls) == 1
    with pytest.raises(ManifestError, match="'floaty' is not one of"):
        load_manifest(project / "deploy.yaml", overrides={"t": "floaty"})
    assert len(calls) == 2
    load_manifest(project / "deploy.yaml", overrides={"t": "string"})
    assert len(calls) == 3 and len(passed(project)) == 2


def test_problems_are_never_kept(project, monkeypatch):
    (project / "deploy.yaml").write_text(BASE.replace("version: 1", "version: 1\nunknown_key: 1"))
    calls = counting(monkeypatch)
    for _ in range(2):
        with pytest.raises(ManifestError, match="unknown key 'unknown_key'"):
            load_manifest(project / "deploy.yaml")
    assert len(calls) == 2 and passed(project) == []


def test_values_differ_by_type():
    keys = {schema_cache.key(v) for v in ({"a": 1}, {"a": 1.0}, {"a": True}, {"a": "1"}, {1: 1}, {"a": [1]},
                                           {"a": None}, {"a": "None"}, ["a", "b"], ["ab"])}
    assert len(keys) == 10 and None not in keys


def test_other_values_are_never_cached(project, monkeypatch):
    assert schema_cache.key({"taken": datetime.date(2026, 1, 1)}) is None
    (project / "deploy.yaml").write_text(BASE.replace("version: 1", "version: 1\nproject: 2026-01-01"))
    calls = counting(monkeypatch)
    for _ in range(2):
        with pytest.raises(ManifestError):
            load_manifest(project / "deploy.yaml")
    assert len(calls) == 2


def test_a_changed_schema_or_validator_misses(project, monkeypatch, tmp_path):
    document = {"version": 1}
    before = schema_cache.key(document)
    schema_file = tmp_path / "deploy.schema.json"
    schema_file.write_text('{"type": "object"}')
    monkeypatch.setattr(schema_cache, "_SCHEMA_CANDIDATES", (schema_file,))
    after = schema_cache.key(document)
    assert after != before
    schema_file.write_text('{"type": "object", "required": ["x"]}')
    assert schema_cache.key(document) not in (before, after)
    monkeypatch.setattr(schema_cache, "_SCHEMA_CANDIDATES", (tmp_path / "missing.json",))
    assert schema_cache.key(document) is None  # the schema not found: never cached
    monkeypatch.undo()
    fake = tmp_path / "site" / "jsonschema"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "jsonschema", raising=False)
    import importlib

    importlib.invalidate_caches()
    assert schema_cache.key(document) not in (before, None)


def test_an_unchanged_manifest_does_not_import_jsonschema(project):
    load_manifest(project / "deploy.yaml")  # the pass is kept
    code = f"""
        import sys
        from deployer.manifest.load import load_manifest
        load_manifest({str(project / "deploy.yaml")!r})
        print("jsonschema" in sys.modules)
    """
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"


def test_an_unwritable_folder_still_validates(project, monkeypatch):
    monkeypatch.setattr(schema_cache, "FILE", Path("no-such-dir") / "file" / "x.json")
    (project / "no-such-dir").write_text("a file where a folder belongs")
    calls = counting(monkeypatch)
    load_manifest(project / "deploy.yaml")
    load_manifest(project / "deploy.yaml")
    assert len(calls) == 2
