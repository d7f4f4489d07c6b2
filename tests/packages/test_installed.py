"""The engine's list of installed distributions, read from folder names, agrees with importlib.metadata."""

import importlib.metadata as metadata
import sys

from deployer import channel


def _reference(path):
    out = {}
    for dist in metadata.distributions(path=list(path)):
        name = dist.metadata["Name"]
        if name:
            out.setdefault(channel.key(name), dist.version)
            if channel.key(name) in channel.SLIM_DISTRIBUTIONS:
                out.setdefault(channel.SLIM_DISTRIBUTIONS[channel.key(name)], dist.version)
    return out


def test_this_python_is_read_like_importlib_metadata():
    channel._installed.cache_clear()
    assert channel._installed(tuple(sys.path)) == _reference(sys.path)


def test_names_a_folder_does_not_tell_are_read_from_metadata(tmp_path):
    (tmp_path / "plain_pkg-1.2.3.dist-info").mkdir()
    (tmp_path / "plain_pkg-1.2.3.dist-info" / "METADATA").write_text("Name: plain-pkg\nVersion: 1.2.3\n")
    (tmp_path / "Old_Egg-0.4-py3.11.egg-info").mkdir()  # the version is not alone in the name
    (tmp_path / "Old_Egg-0.4-py3.11.egg-info" / "PKG-INFO").write_text("Name: Old-Egg\nVersion: 0.4\n")
    (tmp_path / "mlflow_skinny-2.16.2.dist-info").mkdir()
    (tmp_path / "mlflow_skinny-2.16.2.dist-info" / "METADATA").write_text("Name: mlflow-skinny\nVersion: 2.16.2\n")
    (tmp_path / "flat_egg-2.0-py3.11.egg-info").write_text("Name: flat-egg\nVersion: 2.0\n")  # a file
    (tmp_path / "editable_pkg.egg-info").mkdir()  # what `pip install -e` leaves in a checkout
    (tmp_path / "editable_pkg.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: editable-pkg\nVersion: 0.1.0\nSummary: x\n\nVersion: not a header\n")
    (tmp_path / "not_a_dist.txt").write_text("")
    found = channel._installed((str(tmp_path), str(tmp_path / "missing")))
    assert found == _reference([str(tmp_path)]) == {
        "plain-pkg": "1.2.3", "old-egg": "0.4", "flat-egg": "2.0", "mlflow-skinny": "2.16.2", "mlflow": "2.16.2",
        "editable-pkg": "0.1.0"}


def test_metadata_headers_are_read_without_importlib_metadata(tmp_path):
    import subprocess

    (tmp_path / "editable_pkg.egg-info").mkdir()
    (tmp_path / "editable_pkg.egg-info" / "PKG-INFO").write_text("Name: editable-pkg\nVersion: 0.1.0\n")
    code = ("import sys; from deployer import channel; "
            f"print(channel._installed(({str(tmp_path)!r},)), 'importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["{'editable-pkg':", "'0.1.0'}", "False"]


def test_preflight_names_the_pins_this_python_does_not_satisfy():
    from deployer import envs

    sklearn = metadata.version("scikit-learn")
    envs._mismatches.cache_clear()
    assert envs.mismatches([f"Scikit_Learn=={sklearn}", "scikit-learn>=0.1", "no-such-dist==1.0",
                            "scikit-learn==0.0.1"]) == [
        "no-such-dist==1.0 (here: not installed)", f"scikit-learn==0.0.1 (here: {sklearn})"]
