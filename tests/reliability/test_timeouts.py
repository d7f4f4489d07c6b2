"""Item 13: a hanging model costs one timeout; the limit is set per target and per command."""

from __future__ import annotations

import time

from deployer.manifest.load import load_manifest

from .helpers import rejected
from .test_signals import gone, slow_project


def test_a_hanging_model_fails_validate_once_and_says_how_to_raise_the_limit(tmp_path):
    manifest = slow_project(tmp_path)
    manifest.write_text(manifest.read_text() + "targets:\n  local: {type: local, udf_timeout: 600}\n")
    (tmp_path / "SLOW").touch()
    start = time.monotonic()
    err = rejected("validate", "-f", str(manifest), "--no-isolated-env", "--udf-timeout", "2")
    assert time.monotonic() - start < 60  # the command's 2 s, not the target's 600
    assert "preflight M: " in err and "exceeded the time limit of 2 s" in err
    assert "--udf-timeout SECONDS or the target's udf_timeout" in err
    (line,) = (tmp_path / "SLOW.pids").read_text().splitlines()  # one call, one timeout
    assert all(gone(int(pid)) for pid in line.split())  # the worker and its handler's child


def test_the_target_sets_the_limit_and_preflight_defaults_shorter(tmp_path):
    manifest = slow_project(tmp_path)
    text = manifest.read_text()
    manifest.write_text(text + "targets:\n  local: {type: local}\n  slow: {type: local, udf_timeout: 900}\n")
    assert load_manifest(str(manifest), target="slow").target.timeout(preflight=True) == 900
    default = load_manifest(str(manifest)).target
    assert default.timeout(preflight=True) < default.timeout() == 180
    manifest.write_text(text + "targets:\n  local: {type: local, udf_timeout: 0}\n")
    assert "udf_timeout" in rejected("validate", "-f", str(manifest), "--no-preflight")
