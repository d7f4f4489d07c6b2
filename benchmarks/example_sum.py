"""Benchmark: the example's `SELECT SUM(PREDICT(FEATURE_1, FEATURE_2))` over a table.

Deploys configs/example to a fresh local target (apply), fills a table with --rows rows,
runs the query once to warm the workers, then times it --repeat times (best counts: the
machine is shared). Prints rows/s.

    PYTHONPATH=. python benchmarks/example_sum.py [--rows 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "example"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    opts = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="example-sum-")) / "example"
    shutil.copytree(EXAMPLE, folder)
    env = dict(os.environ, DEPLOYER_ISOLATED_ENV="0", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-m", "deployer.cli", "apply", "--auto-approve", "--no-preflight"],
                   cwd=folder, env=env, check=True, capture_output=True)
    from deployer.engine import LocalSession

    with LocalSession(folder / ".deployer" / "local", "ML", "DATA_MODEL") as s:
        s.run(f"CREATE OR REPLACE TABLE HOUSES AS SELECT UNIFORM(0::FLOAT, 30::FLOAT, RANDOM()) AS F1, "
              f"UNIFORM(-5::FLOAT, 5::FLOAT, RANDOM()) AS F2 FROM TABLE(GENERATOR(ROWCOUNT => {opts.rows}))")
        query = "SELECT SUM(PREDICT(F1, F2)) FROM HOUSES"
        s.run(query)  # warm: every worker started and its model loaded
        best = float("inf")
        for _ in range(opts.repeat):
            t0 = time.perf_counter()
            total = s.run(query).rows[0][0]
            best = min(best, time.perf_counter() - t0)
    print(f"rows={opts.rows}: {best:.2f} s, {opts.rows / best:,.0f} rows/s (SUM={total:.1f}), best of {opts.repeat}")


if __name__ == "__main__":
    main()
