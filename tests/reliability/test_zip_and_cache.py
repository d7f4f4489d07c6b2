"""Artifacts: the plan lists what a folder's zip holds (item 4); the digest cache keys on ctime (item 14)."""

from __future__ import annotations

import os
import zipfile

from deployer.artifacts import DigestCache

from .helpers import BASE, invoke, make_project, rejected


KERAS_FOLDER = BASE.replace("framework: sklearn", "framework: keras").replace(
    "models/model.joblib", "models/saved_model")


def test_plan_lists_what_a_zip_holds(tmp_path):
    manifest = make_project(tmp_path, KERAS_FOLDER)
    folder = manifest.parent / "models" / "saved_model"
    (folder / "variables").mkdir()
    for name in ("variables.index", "variables.data-00000-of-00001"):
        (folder / "variables" / name).write_bytes(b"w")
    (folder / "fingerprint.pb").write_bytes(b"f")
    result = invoke("plan", "-f", str(manifest), "--no-preflight")
    assert result.exit_code == 0, result.output
    assert ("models/saved_model: not on the stage "
            "(zip of 4 files: fingerprint.pb, saved_model.pb, variables/...)") in result.stdout
    zips = list((manifest.parent / ".deployer" / "cache" / "zips").rglob("*.zip"))
    assert sorted(zipfile.ZipFile(zips[0]).namelist()) == [
        "fingerprint.pb", "saved_model.pb", "variables/", "variables/variables.data-00000-of-00001",
        "variables/variables.index"]


def test_digest_cache_sees_same_size_rewrite_with_mtime_restored(tmp_path):
    path = tmp_path / "model.joblib"
    path.write_bytes(b"version one")
    cache = DigestCache(tmp_path / "digests.json")
    first, _ = cache.file_digest(path)
    cache.save()
    st = path.stat()
    with open(path, "r+b") as fh:  # in place: same inode, same size
        fh.write(b"VERSION ONE")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as a copy tool preserving times would
    second, _ = DigestCache(tmp_path / "digests.json").file_digest(path)
    assert second != first


def test_plan_never_zips_a_file_from_outside_the_folder(tmp_path):
    manifest = make_project(tmp_path, KERAS_FOLDER)
    (tmp_path / "id_rsa").write_text("private")
    os.symlink(tmp_path / "id_rsa", manifest.parent / "models" / "saved_model" / "weights.bin")
    err = rejected("plan", "-f", str(manifest), "--no-preflight")
    assert "weights.bin is a symlink leading outside the folder" in err
    assert not list((manifest.parent / ".deployer" / "cache" / "zips").glob("*.zip"))
