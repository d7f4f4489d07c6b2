"""A small project on disk and ways to run the CLI on it, in process or with a timeout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from deployer.cli import cli

CASES = Path(__file__).resolve().parents[1] / "corpus" / "cases"
ROOT = Path(__file__).resolve().parents[2]

BASE = """\
version: 1
database: ML
schema: DATA_MODEL
stage: MLOPS_STAGE
models:
  - name: predict
    framework: sklearn
    artifact: models/model.joblib
    features:
      - {name: FEATURE_1, type: float}
      - {name: FEATURE_2, type: float}
    output: {type: float}
"""


def make_project(tmp_path: Path, text: str = BASE) -> Path:
    """`tmp_path/project` with the corpus's model files and `text` as deploy.yaml; returns the manifest."""
    project = tmp_path / "project"
    shutil.copytree(CASES / "models", project / "models")
    manifest = project / "deploy.yaml"
    manifest.write_text(text)
    return manifest


def invoke(*args: str, env: dict | None = None):
    """The CLI in process, with `env` added to the environment."""
    result = CliRunner().invoke(cli, list(args), env=env)
    return result


def rejected(*args: str, env: dict | None = None) -> str:
    """Run the CLI, check it failed cleanly (exit 1, no traceback, no stdout); return stderr."""
    result = invoke(*args, env=env)
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output + result.stderr
    assert "internal error" not in result.stderr, result.stderr
    assert result.stdout == ""
    return result.stderr


def rejected_in_time(*args: str, timeout: float = 20, cwd: Path | None = None) -> tuple[str, float]:
    """Run the CLI in a subprocess that is killed after `timeout` s; check it failed cleanly.

    Returns (stderr, seconds taken).
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "deployer.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)
    took = time.monotonic() - start
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr) < 2000, proc.stderr[:2000]
    return proc.stderr, took
