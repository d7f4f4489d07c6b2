"""The README's main command, run as written (minus the install) on a copy of configs/example."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_readme import commands

ROOT = Path(__file__).resolve().parents[1]
DEPLOYER = str(Path(sys.executable).parent / "deployer")

pytest.importorskip("tensorflow")


@pytest.mark.slow
def test_readme_deployment_runs_and_answers(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(ROOT / "configs" / "example", project, ignore=shutil.ignore_patterns(".deployer"))
    steps = commands()[0].split(" && ")
    assert steps[2] == "cd configs/example"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    outputs = []
    for step in steps[3:]:
        argv = shlex.split(step)
        assert argv[0] == "../../.venv/bin/deployer"
        done = subprocess.run([DEPLOYER, *argv[1:]], cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    assert "ok   PREDICT(12.5, -2.5) = 506.5" in outputs[0]
    rows = outputs[-1].strip().splitlines()
    assert rows[1].split() == ["|", "FEATURE_1", "|", "FEATURE_2", "|", "PRICE", "|"]
    assert rows[-1] == "5 rows"

    # Run twice, the second run does nothing; the prices follow the generating formula.
    again = subprocess.run([DEPLOYER, "plan", "--detailed-exitcode", "--no-preflight"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    query = ("SELECT feature_1, feature_2, predict(feature_1, feature_2) AS price FROM houses")
    done = subprocess.run([DEPLOYER, "sql", "--format", "json", query], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result) == 1000
    errors = [abs(r["PRICE"] - (300 + 15 * r["FEATURE_1"] - 8 * r["FEATURE_2"])) for r in result]
    assert sum(errors) / len(errors) < 10
