"""Content addressing: digests, deterministic zips, stage paths and the digest cache."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from deployer.artifacts import (
    ArtifactError,
    DigestCache,
    folder_zip,
    model_files,
    zip_bytes,
)
from deployer.desired import Feature, Model, Step

from .conftest import make_state


def _model(root: Path, artifact: Path, **changes) -> Model:
    values = dict(
        name="PREDICT",
        framework="sklearn",
        artifact=artifact,
        features=(Feature("X", "float"),),
        output_type="float",
    )
    values.update(changes)
    return Model(**values)


def _tree(root: Path, files: dict[str, bytes], order=None) -> Path:
    for rel in order or files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(files[rel])
    return root


SAVED_MODEL = {
    "saved_model.pb": b"graph" * 100,
    "variables/variables.index": b"index",
    "variables/variables.data-00000-of-00001": b"weights" * 1000,
    "fingerprint.pb": b"fp",
}


def test_file_digest_is_sha256_of_bytes(tmp_path):
    f = tmp_path / "model.pkl"
    f.write_bytes(b"abc" * 100_000)
    digest, size = DigestCache().file_digest(f)
    assert digest == hashlib.sha256(b"abc" * 100_000).hexdigest()
    assert size == 300_000


def test_zip_is_identical_whatever_mtime_permissions_and_creation_order(tmp_path):
    a = _tree(tmp_path / "a" / "saved_model", SAVED_MODEL)
    (a / "assets").mkdir()  # an empty folder must survive too
    b = _tree(tmp_path / "b" / "saved_model", SAVED_MODEL, order=reversed(list(SAVED_MODEL)))
    (b / "assets").mkdir()
    for p in b.rglob("*"):
        os.utime(p, ns=(1_000_000_000, 1_700_000_000_123_456_789))
        if p.is_file():
            p.chmod(0o600)
    assert zip_bytes(a) == zip_bytes(b)
    names = zipfile.ZipFile(io.BytesIO(zip_bytes(a))).namelist()
    assert names == sorted(names) and "assets/" in names


def test_zip_changes_when_content_or_layout_changes(tmp_path):
    a = _tree(tmp_path / "a" / "m", SAVED_MODEL)
    before = zip_bytes(a)
    (a / "variables" / "variables.index").write_bytes(b"index2")
    changed_content = zip_bytes(a)
    (a / "variables" / "variables.index").rename(a / "variables" / "renamed.index")
    changed_name = zip_bytes(a)
    assert len({before, changed_content, changed_name}) == 3


def test_zip_round_trips(tmp_path):
    a = _tree(tmp_path / "m", SAVED_MODEL)
    out = tmp_path / "out"
    path, digest, size = folder_zip(a, tmp_path / "zips", DigestCache())
    zipfile.ZipFile(path).extractall(out)
    for rel, data in SAVED_MODEL.items():
        assert (out / rel).read_bytes() == data
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() and size == path.stat().st_size


def test_stage_path_changes_exactly_when_content_changes(tmp_path):
    art = tmp_path / "model.pkl"
    art.write_bytes(b"v1")
    state = make_state(tmp_path)
    first = model_files(state, _model(tmp_path, art))[0]
    assert first.stage_dir == f"@ML.DATA_MODEL.MLOPS_STAGE/PREDICT/{first.digest[:12]}"
    assert first.stage_path == first.stage_dir + "/model.pkl"
    os.utime(art, ns=(5, 5_000_000_000))  # touched, same bytes
    assert model_files(state, _model(tmp_path, art))[0].stage_path == first.stage_path
    art.write_bytes(b"v2")
    second = model_files(state, _model(tmp_path, art))[0]
    assert second.stage_path != first.stage_path
    assert second.file_name == first.file_name
    art.write_bytes(b"v1")
    assert model_files(state, _model(tmp_path, art))[0].stage_path == first.stage_path


def test_folder_artifact_is_shipped_as_zip(tmp_path):
    folder = _tree(tmp_path / "saved_model", SAVED_MODEL)
    state = make_state(tmp_path)
    (f,) = model_files(state, _model(tmp_path, folder, framework="keras"))
    assert f.file_name == "saved_model.zip" and f.role == "model"
    assert f.local_path.read_bytes() == zip_bytes(folder)
    assert f.local_path.is_relative_to(tmp_path / ".deployer" / "cache")


def test_roles_order_and_shared_file_shipped_once(tmp_path):
    art, scaler, helper = (tmp_path / n for n in ("m.pkl", "scaler.ct", "helper.py"))
    for p in (art, scaler, helper):
        p.write_bytes(p.name.encode())
    m = _model(
        tmp_path, art,
        preprocess=(Step(scaler, "transform"),),
        postprocess=(Step(scaler, "inverse_transform"),),
        imports=(helper,),
    )
    files = model_files(make_state(tmp_path), m)
    assert [(f.role, f.file_name) for f in files] == [
        ("model", "m.pkl"), ("preprocess", "scaler.ct"), ("import", "helper.py")
    ]


def test_two_files_with_one_name_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "scaler.ct").write_bytes(b"1")
    (tmp_path / "b" / "scaler.ct").write_bytes(b"2")
    (tmp_path / "m.pkl").write_bytes(b"m")
    m = _model(tmp_path, tmp_path / "m.pkl", preprocess=(Step(tmp_path / "a" / "scaler.ct", "transform"),),
               postprocess=(Step(tmp_path / "b" / "scaler.ct", "inverse_transform"),))
    with pytest.raises(ArtifactError, match="also named 'scaler.ct'.*one folder"):
        model_files(make_state(tmp_path), m)


@pytest.mark.parametrize("name", ["my model.pkl", "model's.pkl", "a$$b.pkl", "m.pkl;DROP", ".hidden", "é.pkl"])
def test_unsafe_file_names_are_refused(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"x")
    with pytest.raises(ArtifactError, match="not safe in a stage path"):
        model_files(make_state(tmp_path), _model(tmp_path, p))


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ArtifactError, match="model file not found"):
        model_files(make_state(tmp_path), _model(tmp_path, tmp_path / "nope.pkl"))


def test_cache_skips_reading_unchanged_files(tmp_path, monkeypatch):
    art = tmp_path / "model.pkl"
    art.write_bytes(b"x" * 1000)
    folder = _tree(tmp_path / "saved_model", SAVED_MODEL)
    state = make_state(tmp_path)
    cache = DigestCache.for_state(state)
    first = model_files(state, _model(tmp_path, art, imports=(folder,)), cache)
    assert cache.reads == 2
    cache.save()

    # A fresh process: the persisted cache answers; opening any of these files would fail.
    reloaded = DigestCache.for_state(state)
    real_open = open

    def guarded_open(path, *args, **kwargs):
        if Path(path).resolve().is_relative_to(tmp_path.resolve()) and ".deployer" not in str(path):
            raise AssertionError(f"read {path}")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    again = model_files(state, _model(tmp_path, art, imports=(folder,)), reloaded)
    monkeypatch.undo()
    assert again == first and reloaded.reads == 0

    art.write_bytes(b"y" * 1000)  # same size: mtime/inode still tell
    (folder / "fingerprint.pb").write_bytes(b"f2")
    changed = model_files(state, _model(tmp_path, art, imports=(folder,)), reloaded)
    assert reloaded.reads == 2
    assert [f.digest for f in changed] != [f.digest for f in first]


def test_corrupt_cache_is_ignored(tmp_path):
    path = tmp_path / "digests.json"
    path.write_text("{not json")
    art = tmp_path / "m.pkl"
    art.write_bytes(b"1")
    cache = DigestCache(path)
    assert cache.file_digest(art)[0] == hashlib.sha256(b"1").hexdigest()
    cache.save()
    assert DigestCache(path).lookup(str(art), DigestCache._key(art.stat())) is not None
