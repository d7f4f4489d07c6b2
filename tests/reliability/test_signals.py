"""Item 6: a signal to the CLI ends it cleanly; no worker, handler child or temp folder survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import ROOT, invoke

# The model's class ships in imports; while FLAG exists, predict starts a child process and
# one in a session of its own (out of the worker's process group), writes
# "<worker pid> <child pid> <own-session child pid>" and sleeps.
SLOW = """\
import os, subprocess, sys, time
FLAG = {flag!r}
class Slow:
    def predict(self, x):
        if os.path.exists(FLAG):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            apart = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                     start_new_session=True)
            with open(FLAG + ".pids", "a") as fh:
                fh.write(f"{{os.getpid()}} {{child.pid}} {{apart.pid}}\\n")
            time.sleep(120)
        return x.iloc[:, 0]
"""

MANIFEST = """\
version: 1
database: ML
schema: S
stage: ST
models:
  - name: m
    framework: sklearn
    artifact: models/m.joblib
    imports: [slow_model.py]
    features: [{name: A, type: float}, {name: B, type: float}]
    output: {type: float}
"""


def slow_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "models").mkdir(exist_ok=True)
    (folder / "slow_model.py").write_text(SLOW.format(flag=str(folder / "SLOW")))
    subprocess.run([sys.executable, "-c", "import joblib, slow_model; "
                    "joblib.dump(slow_model.Slow(), 'models/m.joblib')"], cwd=folder, check=True)
    (folder / "deploy.yaml").write_text(MANIFEST)
    return folder / "deploy.yaml"


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for a parent that does not reap counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def leaked_folders(pid: int) -> list[str]:
    import tempfile
    return [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("deployer-") and f"-{pid}-" in n]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    manifest = slow_project(tmp_path_factory.mktemp("signals"))
    result = invoke("apply", "-f", str(manifest), "--no-preflight", "--auto-approve")
    assert result.exit_code == 0, result.output
    (manifest.parent / "SLOW").touch()
    return manifest


def start_slow_query(manifest: Path) -> tuple[subprocess.Popen, list[int]]:
    pids_file = manifest.parent / "SLOW.pids"
    pids_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "deployer.cli", "sql", "-f", str(manifest), "SELECT m(1, 2)"],
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not pids_file.exists() or not pids_file.read_text().endswith("\n"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    return proc, [int(p) for p in pids_file.read_text().split()]


@pytest.mark.parametrize("sig, code, message", [(signal.SIGTERM, 143, "error: interrupted (SIGTERM)"),
                                                (signal.SIGHUP, 129, "error: interrupted (SIGHUP)"),
                                                (signal.SIGINT, 130, "error: interrupted")])
def test_a_signal_during_a_query_ends_the_whole_tree(deployed, sig, code, message):
    proc, pids = start_slow_query(deployed)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert err.strip() == message  # not an engine error, no traceback
    deadline = time.monotonic() + 5
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(p) for p in pids), pids  # the worker and the handler's children, in its group or not
    assert leaked_folders(proc.pid) == []


def test_kill_9_takes_the_workers_along_and_the_next_run_sweeps_its_folder(deployed):
    proc, pids = start_slow_query(deployed)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(p) for p in pids), pids
    assert leaked_folders(proc.pid)  # SIGKILL leaves it ...
    assert invoke("sql", "-f", str(deployed), "SELECT 1").exit_code == 0
    assert leaked_folders(proc.pid) == []  # ... the next session removes it


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 0), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_logs_follow_ends_with_ctrl_c_and_reports_other_signals(deployed, sig, code):
    proc = subprocess.Popen([sys.executable, "-m", "deployer.cli", "logs", "-f", str(deployed), "--follow"],
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # past the first read: polling
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    if code:
        assert err.strip().endswith(f"error: interrupted ({signal.Signals(sig).name})")
