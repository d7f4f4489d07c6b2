"""Benchmark: the isolated environment with TensorFlow, cold and warm, and what it adds to a plan.

1. Builds the environment configs/example resolves to (tensorflow, keras, scikit-learn, pandas,
   joblib, pinned from the channel snapshot) into an empty deployer cache: with uv's own cache
   as it is, and with --cold also with an empty uv cache (everything downloaded).
2. Looks it up again (warm): the cost every later preflight pays to find it.
3. Times `deployer plan` on a copy of configs/example: without preflight, with preflight in
   the (warm) isolated environment, and with preflight in this Python (--no-isolated-env).
   The isolation's overhead is the difference of the last two (target: under 3 s).

    .venv/bin/python benchmarks/packages_env.py [--cold]
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

ROOT = Path(__file__).resolve().parents[1]


def timed(label: str, func):
    start = time.perf_counter()
    value = func()
    elapsed = time.perf_counter() - start
    print(f"{label}: {elapsed:.2f} s", flush=True)
    return value, elapsed


def plan(project: Path, env: dict, *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "deployer.cli", "plan", *args], cwd=project, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"plan {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", action="store_true", help="also build with an empty uv cache (downloads ~700 MB)")
    opts = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    from deployer import channel, envs, pins
    from deployer.manifest.load import load_manifest

    work = Path(tempfile.mkdtemp(prefix="deployer-bench-"))
    try:
        project = work / "example"
        shutil.copytree(ROOT / "configs" / "example", project, ignore=shutil.ignore_patterns(".deployer"))
        state = load_manifest(str(project / "deploy.yaml"), target=None, overrides={})
        model = state.models[0]
        pinned = pins.resolve_state(state).pins(model.name)
        bounds = channel.constraints(model.runtime_version, pinned)
        print(f"pins: {' '.join(pinned)}")
        quiet = lambda line: None  # noqa: E731

        if opts.cold:
            os.environ["UV_CACHE_DIR"] = str(work / "uv-cache")
            os.environ["DEPLOYER_CACHE_DIR"] = str(work / "cache-cold")
            timed("first build, empty uv cache (download + install + bytecode)",
                  lambda: envs.ensure(pinned, model.runtime_version, constraints=bounds, progress=quiet))
            os.environ.pop("UV_CACHE_DIR")
        os.environ["DEPLOYER_CACHE_DIR"] = str(work / "cache")
        timed("first build, uv's cache as it is (install + bytecode)",
              lambda: envs.ensure(pinned, model.runtime_version, constraints=bounds, progress=quiet))
        timed("warm lookup", lambda: envs.ensure(pinned, model.runtime_version, constraints=bounds, progress=quiet))

        env = dict(os.environ, PYTHONPATH=str(ROOT), DEPLOYER_ISOLATED_ENV="1")
        base = plan(project, env, "--no-preflight")
        isolated = plan(project, env)
        here = plan(project, env, "--no-isolated-env")
        print(f"plan --no-preflight: {base:.2f} s")
        print(f"plan, preflight in the warm isolated environment: {isolated:.2f} s (+{isolated - base:.2f} s)")
        print(f"plan, preflight in this Python (--no-isolated-env): {here:.2f} s (+{here - base:.2f} s)")
        print(f"isolation overhead on a warm plan: {isolated - here:+.2f} s (target < 3 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
