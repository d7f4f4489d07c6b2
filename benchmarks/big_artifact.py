"""Benchmark: what a no-op plan reads when a model ships a 1 GB file.

A scikit-learn model imports a 1 GB data file (sparse on disk, so making it is instant).
After one apply, `plan` (preflight included) is run again: it should find everything
unchanged from file sizes and times, not by reading the gigabyte. Prints the bytes the plan
process and its workers read and wrote (/proc/self/io rchar, wchar) and its time.
Target: under 50 MB read.

    PYTHONPATH=. python benchmarks/big_artifact.py [--gb 1] [--command plan]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import deployer, deployer_io  # noqa: E402
from scale import project  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--command", default="plan")
    opts = ap.parse_args()
    folder = project(Path(tempfile.mkdtemp(prefix="big-artifact-")), 1, tests=True)
    with open(folder / "big.bin", "wb") as fh:
        fh.truncate(int(opts.gb * 2**30))
    manifest = folder / "deploy.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    framework: sklearn\n", "    framework: sklearn\n    imports: [big.bin]\n"))
    first = deployer("apply", "--auto-approve", cwd=folder)
    assert first.returncode == 0, first.stderr
    for label in ("first no-op", "second no-op"):
        r, io = deployer_io(*opts.command.split(), cwd=folder)
        assert r.returncode == 0, r.stderr
        print(f"{label} {opts.command}: read {io['rchar'] / 2**20:8.1f} MB, wrote {io['wchar'] / 2**20:7.1f} MB, "
              f"{r.seconds:.2f} s (target: read < 50 MB)")


if __name__ == "__main__":
    main()
