"""The CLI on a real terminal: `deployer apply` and `plan` under a pseudo-terminal.

What a person sees is the screen after the terminal has applied the cursor codes, so the
output is replayed on a minimal screen (carriage return, new line, cursor up, erase line)
before checking that no spinner frame is left behind.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPINNER = re.compile("[\u2800-\u28ff]")  # the braille frames of rich's "dots" spinner

MANIFEST = textwrap.dedent("""\
    version: 1
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    models:
      - name: predict
        framework: sklearn
        artifact: models/model.joblib
        imports: [models/big.bin]
        features: [{name: FEATURE_1, type: float}, {name: FEATURE_2, type: float}]
        output: {type: float}
        tests:
          - input: {FEATURE_1: 1.0, FEATURE_2: 2.0}
            expect: 5.0
            tolerance: 0.001
    """)


def on_a_terminal(folder: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on one pseudo-terminal; everything it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environ.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", **env)
    proc = subprocess.Popen([sys.executable, "-m", "deployer.cli", *args, "-f", str(folder / "deploy.yaml")],
                            stdin=slave, stdout=slave, stderr=slave, env=environ, cwd=folder)
    os.close(slave)
    out, deadline = b"", time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.wait(), out.decode("utf-8", errors="replace")


def screen(raw: str) -> list[str]:
    """The lines left on a terminal once `raw` is written to it."""
    lines, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", raw):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif token.startswith("\x1b["):
            if token[-1] == "A":
                row = max(0, row - int(token[2:-1] or 1))
            elif token[-1] == "K":
                lines[row] = "" if token[2:-1] == "2" else lines[row][:col]
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token):]
            col += len(token)
    while lines and not lines[-1].strip():
        lines.pop()
    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]


@pytest.fixture
def project(tmp_path):
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    (tmp_path / "models").mkdir()
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ [1.0, 2.0]), tmp_path / "models" / "model.joblib")
    (tmp_path / "models" / "big.bin").write_bytes(b"\1" * (2 << 20))  # large enough to count its bytes
    (tmp_path / "deploy.yaml").write_text(MANIFEST)
    return tmp_path


def test_apply_on_a_terminal_spins_counts_bytes_and_leaves_a_clean_screen(project):
    code, raw = on_a_terminal(project, "apply", "--auto-approve", "--no-preflight", DEPLOYER_ISOLATED_ENV="0")
    shown = screen(raw)
    assert code == 0, "\n".join(shown)
    assert SPINNER.search(raw) and "reading the state of target local" in raw  # the spinner ran
    assert "\x1b[32m" in raw  # colour on a terminal
    assert "function ML.DATA_MODEL.PREDICT(FLOAT, FLOAT): test" in raw  # each operation as it starts
    # The live byte count, from its first frame to its last.
    assert "uploading models/big.bin  0 B / 2.0 MiB" in raw and "uploading models/big.bin  2.0 MiB / 2.0 MiB" in raw
    assert not any(SPINNER.search(line) for line in shown), shown  # no frame left on the screen
    assert not any("uploading " in line for line in shown), shown
    assert any(line.startswith("    uploaded models/big.bin: 2.0 MiB in ") for line in shown), shown
    assert shown[-2].startswith("Apply complete: 4 change(s).") and shown[-1].startswith("Time: "), shown[-3:]


def test_no_color_on_a_terminal_writes_no_escape_codes(project):
    code, raw = on_a_terminal(project, "plan", "--no-preflight", NO_COLOR="1")
    assert code == 0, raw
    assert "\x1b" not in raw and not SPINNER.search(raw), raw[:500]
    assert "Plan: 4 to create, 0 to update, 0 to delete." in raw
