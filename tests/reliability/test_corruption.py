"""Item 3: the local engine checks staged files against the digest in their path, without --verify."""

from __future__ import annotations

import json

from tests.test_rollout import run, write


def corrupt_staged(root, name: str) -> bytes:
    (staged,) = [p for p in (root / ".deployer" / "local").rglob(name)]
    data = bytearray(staged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    staged.write_bytes(bytes(data))
    return bytes(data)


def test_same_size_corruption_is_drift_without_verify_and_a_query_fails_clearly(tmp_path):
    manifest = write(tmp_path, "m")
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    corrupt_staged(tmp_path, "m.joblib")
    err = run(manifest, "sql", "SELECT m(1, 2)", expect=1).stderr
    assert "m.joblib of function M(FLOAT, FLOAT) does not match the SHA-256 digest" in err
    assert "in sync" not in run(manifest, "status").stdout
    plan = json.loads(run(manifest, "plan", "--no-preflight", "--format", "json").stdout)
    (repair,) = [c for c in plan["changes"] if c["actions"] != ["no-op"]]
    assert repair["type"] == "file" and repair["name"].endswith("m.joblib")
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    run(manifest, "plan", "--no-preflight", "--detailed-exitcode")  # the query after it: tests/test_rollout.py
