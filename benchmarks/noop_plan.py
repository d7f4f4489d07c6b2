"""Benchmark: the commands people run most when nothing changed (issue 10).

Deploys configs/example (a Keras model and scikit-learn scalers) to a fresh local target,
runs each command once to warm its caches, then times whole processes and prints the
median of --repeat runs of each, with its target and the ratio to it:

    no-op plan                   (preflight included: its cache makes it a lookup)  < 1.5 s
    no-op apply --auto-approve   (the same)                                         < 1.5 s
    plan --no-preflight                                                             < 0.4 s

Isolated environments are off (DEPLOYER_ISOLATED_ENV=0), as in every benchmark here. CPU
seconds (user + system, of the command and its children) are printed too: on a shared
machine they move less than wall time.

    PYTHONPATH=. python benchmarks/noop_plan.py [--repeat 5] [--project DIR] [--tree DIR]

--project reuses a folder where the example is already deployed; --tree measures another
checkout of deployer (its folder goes first on PYTHONPATH), for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import deployer  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "example"
COMMANDS = (("no-op plan", ("plan",), 1.5),
            ("no-op apply", ("apply", "--auto-approve"), 1.5),
            ("plan --no-preflight", ("plan", "--no-preflight"), 0.4))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--project", type=Path, help="a folder where configs/example is deployed already")
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                    help="the deployer checkout to measure (default: this one)")
    opts = ap.parse_args()
    env = {"PYTHONPATH": str(opts.tree.resolve())}
    if opts.project is None:
        folder = Path(tempfile.mkdtemp(prefix="noop-plan-")) / "example"
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".deployer"))
        first = deployer("apply", "--auto-approve", cwd=folder, env=env)
        if first.returncode != 0:
            sys.exit(f"apply failed:\n{first.stderr}")
    else:
        folder = opts.project
    for _, args, _ in COMMANDS:  # warm: caches written, files in the page cache
        warm = deployer(*args, cwd=folder, env=env)
        if warm.returncode != 0 or "No changes." not in warm.stdout:
            sys.exit(f"deployer {' '.join(args)} is not a no-op here:\n{warm.stdout}{warm.stderr}")
    print(f"deployer at {opts.tree.resolve()}, project {folder}, {os.cpu_count()} cores, "
          f"median of {opts.repeat}, load average {os.getloadavg()[0]:.1f} (bytecode kept, as installed)")
    for label, args, target in COMMANDS:
        runs = [deployer(*args, cwd=folder, env=env) for _ in range(opts.repeat)]
        if any(r.returncode != 0 for r in runs):
            sys.exit(f"deployer {' '.join(args)} failed:\n{runs[-1].stderr}")
        wall = statistics.median(r.seconds for r in runs)
        cpu = statistics.median(r.cpu for r in runs)
        peak = statistics.median(r.peak_mb for r in runs)
        verdict = "ok" if wall < target else "over"
        print(f"  {label:<22} {wall:5.2f} s wall (target < {target:.1f} s: {wall / target:4.2f}x, {verdict}), "
              f"{cpu:5.2f} s CPU, {peak:4.0f} MB peak")


if __name__ == "__main__":
    main()
