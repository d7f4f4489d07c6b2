"""Benchmark: a cold preflight of N Keras models against one.

Writes a manifest of N copies of the example's Keras model (each its own function, with the
example's scalers and smoke test), then runs `deployer validate --no-cache` (preflight with
nothing remembered) for 1 and for N models. Prints wall time, CPU time and the peak memory
of the process tree. Targets: N=10 under 2x the time of one, peak under 2.5 GB.

    PYTHONPATH=. python benchmarks/preflight_keras.py [--n 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import deployer  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "example"

MODEL = """  - name: predict{i}
    framework: keras
    artifact: models/model.h5
    preprocess: [{{artifact: models/scaler.ct}}]
    postprocess: [{{artifact: models/target_scaler.ct, method: inverse_transform}}]
    features: [{{name: FEATURE_1, type: float}}, {{name: FEATURE_2, type: float}}]
    output: {{type: float}}
    packages: [tensorflow, scikit-learn]
    tests: [{{input: {{FEATURE_1: 12.5, FEATURE_2: -2.5}}, expect: 506.55, tolerance: 0.05}}]
"""


def project(root: Path, n: int) -> Path:
    folder = root / f"keras{n}"
    shutil.copytree(EXAMPLE / "models", folder / "models")
    (folder / "deploy.yaml").write_text(
        "version: 1\ndatabase: ML\nschema: DATA_MODEL\nstage: MLOPS_STAGE\n"
        "defaults: {runtime_version: '3.11', packages: [pandas]}\nmodels:\n"
        + "".join(MODEL.format(i=i) for i in range(n)))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--command", default="validate --no-cache",
                    help="the deployer command to time ('validate' for versions before --no-cache)")
    opts = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="preflight-keras-"))
    rows = {}
    for n in (1, opts.n):
        folder = project(root, n)
        runs = []
        for _ in range(opts.repeat):
            r = deployer(*opts.command.split(), cwd=folder)
            assert r.returncode == 0, r.stderr
            runs.append(r)
        rows[n] = (statistics.median(r.seconds for r in runs), statistics.median(r.cpu for r in runs),
                   max(r.peak_mb for r in runs))
        print(f"{n:>3} models: {rows[n][0]:6.1f} s wall  {rows[n][1]:6.1f} s CPU  peak {rows[n][2]:6.0f} MB")
    one, many = rows[1], rows[opts.n]
    print(f"ratio {opts.n}/1: {many[0] / one[0]:.2f}x wall, {many[1] / one[1]:.2f}x CPU (target < 2x); "
          f"peak {many[2] / 1024:.2f} GB (target < 2.5 GB)")


if __name__ == "__main__":
    main()
