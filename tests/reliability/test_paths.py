"""Items 4, 5 and 11: only regular files inside the manifest's folder (or allow_paths) are shipped;
folders are walked without leaving them; special files end at once with a located message."""

from __future__ import annotations

import os

import pytest

from .helpers import BASE, invoke, make_project, rejected, rejected_in_time

FAST = 10  # seconds: the bound a subprocess case must end within (they take well under 2 s)


WITH_IMPORT = BASE + "    imports: [PATH]\n"


@pytest.mark.parametrize("path", ["/proc/self/environ", "/etc/passwd", "../outside.py"])
def test_import_outside_the_folder_is_refused(tmp_path, path):
    (tmp_path / "outside.py").write_text("X = 1\n")
    manifest = make_project(tmp_path, WITH_IMPORT.replace("PATH", path))
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert f"deploy.yaml:13:15: models[0].imports[0]: '{path}' is outside the manifest's folder" in err


def test_home_connections_file_through_env_is_refused(tmp_path):
    home = tmp_path / "home"
    (home / ".snowflake").mkdir(parents=True)
    (home / ".snowflake" / "connections.toml").write_text("[prod]\npassword = 'hunter2'\n")
    manifest = make_project(tmp_path, WITH_IMPORT.replace("PATH", "'{{ env.HOME }}/.snowflake/connections.toml'"))
    err = rejected("validate", "-f", str(manifest), "--no-preflight", env={"HOME": str(home)})
    assert "models[0].imports[0]:" in err and "is outside the manifest's folder" in err
    assert "hunter2" not in err


def test_symlink_inside_the_folder_leading_out_is_refused(tmp_path):
    manifest = make_project(tmp_path, WITH_IMPORT.replace("PATH", "models/link.py"))
    (tmp_path / "secret.py").write_text("KEY = 1\n")
    os.symlink(tmp_path / "secret.py", manifest.parent / "models" / "link.py")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert "'models/link.py' is outside the manifest's folder" in err


def test_allow_paths_admits_the_named_place(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "helpers.py").write_text("X = 1\n")
    text = WITH_IMPORT.replace("PATH", "../shared/helpers.py")
    manifest = make_project(tmp_path, text)
    assert "is outside the manifest's folder" in rejected("validate", "-f", str(manifest), "--no-preflight")
    manifest.write_text("allow_paths: [../shared]\n" + text)
    result = invoke("validate", "-f", str(manifest), "--no-preflight")
    assert result.exit_code == 0, result.output


def test_fifo_artifact_is_refused(tmp_path):
    manifest = make_project(tmp_path, BASE.replace("models/model.joblib", "models/pipe.joblib"))
    os.mkfifo(manifest.parent / "models" / "pipe.joblib")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert "deploy.yaml:8:15: models[0].artifact: 'models/pipe.joblib' is not a regular file" in err


def test_fifo_artifact_with_preflight(tmp_path):
    manifest = make_project(tmp_path, BASE.replace("models/model.joblib", "models/pipe.joblib"))
    os.mkfifo(manifest.parent / "models" / "pipe.joblib")
    err, _ = rejected_in_time("validate", "-f", str(manifest), timeout=FAST)
    assert "deploy.yaml:8:15: models[0].artifact: 'models/pipe.joblib' is not a regular file" in err


def test_dev_zero_artifact(tmp_path):
    manifest = make_project(tmp_path, BASE.replace("models/model.joblib", "models/zero.joblib"))
    os.symlink("/dev/zero", manifest.parent / "models" / "zero.joblib")
    err, _ = rejected_in_time("validate", "-f", str(manifest), timeout=FAST)
    assert "deploy.yaml:8:15: models[0].artifact: 'models/zero.joblib' is outside the manifest's folder" in err
    manifest.write_text("allow_paths: [/dev/zero]\n" + manifest.read_text())
    err, _ = rejected_in_time("validate", "-f", str(manifest), timeout=FAST)
    assert "deploy.yaml:9:15: models[0].artifact: 'models/zero.joblib' is not a regular file" in err


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_manifest_that_never_ends(tmp_path, special):
    path = special
    if special == "fifo":
        path = str(tmp_path / "deploy.yaml")
        os.mkfifo(path)
    err, _ = rejected_in_time("validate", "-f", path, "--no-preflight", timeout=FAST)
    assert f"{path}: not a regular file" in err


KERAS_FOLDER = BASE.replace("framework: sklearn", "framework: keras").replace(
    "models/model.joblib", "models/saved_model")


def test_savedmodel_symlink_out_of_the_folder_is_refused(tmp_path):
    manifest = make_project(tmp_path, KERAS_FOLDER)
    (tmp_path / "private.key").write_text("secret")
    os.symlink(tmp_path / "private.key", manifest.parent / "models" / "saved_model" / "assets.key")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert ("deploy.yaml:8:15: models[0].artifact: 'models/saved_model': assets.key is a symlink "
            "leading outside the folder") in err


def test_savedmodel_symlink_inside_the_folder_is_shipped(tmp_path):
    manifest = make_project(tmp_path, KERAS_FOLDER)
    folder = manifest.parent / "models" / "saved_model"
    (folder / "variables").mkdir()
    (folder / "variables" / "variables.index").write_bytes(b"i")
    os.symlink("variables", folder / "vars")
    result = invoke("validate", "-f", str(manifest), "--no-preflight")
    assert result.exit_code == 0, result.output


def test_savedmodel_symlink_loop(tmp_path):
    manifest = make_project(tmp_path, BASE.replace("framework: sklearn", "framework: keras").replace(
        "models/model.joblib", "models/saved_model"))
    os.symlink(".", manifest.parent / "models" / "saved_model" / "again")
    err, _ = rejected_in_time("validate", "-f", str(manifest), "--no-preflight", timeout=FAST)
    assert "deploy.yaml:8:15: models[0].artifact: 'models/saved_model': again is a symlink loop" in err


def test_dangling_symlink_in_savedmodel(tmp_path):
    manifest = make_project(tmp_path, BASE.replace("framework: sklearn", "framework: keras").replace(
        "models/model.joblib", "models/saved_model"))
    os.symlink("gone.pb", manifest.parent / "models" / "saved_model" / "fingerprint.pb")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert ("deploy.yaml:8:15: models[0].artifact: 'models/saved_model': fingerprint.pb is a symlink to "
            "'gone.pb', which does not resolve") in err
