"""`deployer serve` as a user runs it: prints the connection entry, serves, stops on Ctrl-C."""

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = textwrap.dedent("""\
    version: 1
    project: tests/serve
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    targets:
      local: {type: local}
      prod: {type: snowflake, connection: prod}
    models:
      - name: predict
        framework: sklearn
        artifact: models/model.joblib
        features: [{name: X, type: float}]
        output: {type: float}
    """)


@pytest.fixture
def manifest(tmp_path):
    (tmp_path / "deploy.yaml").write_text(MANIFEST)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.joblib").write_bytes(b"")  # serve never loads it
    return tmp_path / "deploy.yaml"


def deployer(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "deployer.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def read_entry(proc, timeout=60):
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("schema = "):
            return "".join(lines)
    raise AssertionError("no connection entry printed: " + "".join(lines) + proc.stderr.read())


def test_serve_port_0_prints_an_entry_that_connects(manifest, tmp_path):
    import snowflake.connector

    proc = deployer("serve", "-f", str(manifest), "--port", "0")
    try:
        entry = read_entry(proc)
        assert "[local]" in entry and 'protocol = "http"' in entry and 'database = "ML"' in entry
        port = int(re.search(r"^port = (\d+)$", entry, re.M).group(1))
        assert port != 0
        con = snowflake.connector.connect(host="127.0.0.1", port=port, protocol="http", account="local",
                                          user="u", password="p", database="ML", schema="DATA_MODEL")
        cur = con.cursor()
        assert cur.execute("SELECT CURRENT_SCHEMA()").fetchone() == ("DATA_MODEL",)
        assert cur.execute("SELECT 40 + 2 AS answer").fetchone() == (42,)
        con.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert proc.returncode == 0
    from deployer.engine import LocalSession

    # the engine was closed: its folder's lock is free again
    LocalSession(manifest.parent / ".deployer" / "local", lock_timeout=1).close()


def test_serve_refuses_a_snowflake_target(manifest):
    proc = deployer("serve", "-f", str(manifest), "-t", "prod")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "serve needs a local target" in err and "Traceback" not in err


def test_serve_reports_a_port_in_use(manifest):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = deployer("serve", "-f", str(manifest), "--port", str(taken.getsockname()[1]))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "cannot listen on 127.0.0.1" in err and "Traceback" not in err


def test_serve_warns_when_not_on_loopback(manifest):
    proc = deployer("serve", "-f", str(manifest), "--host", "0.0.0.0", "--port", "0")
    try:
        read_entry(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert "warning: serving on 0.0.0.0" in err
