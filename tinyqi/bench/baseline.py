"""Cycle regression baseline: modelled cycles per inference of the bundled reference models, committed in
benchmarks/cycles_baseline.json and checked by tests/test_bench.py.

The reference models are what anyone can rebuild from the repository alone (the bundled ECG sample):
    tinyqi train ecg --quick --sample --seed 0 --out <dir>/ecg
    tinyqi compress <dir>/ecg --method magnitude-global
benched without peers: float32-dense, int8-dense and magnitude-global (CSR). A variant more than TOLERANCE slower
than its baseline is a regression; more than TOLERANCE faster means the baseline is stale and must be refreshed,
so that it keeps guarding the new speed:

    python -m tinyqi.bench.baseline            # rebuilds the reference models, benches them, rewrites the file
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.firmware.build import FLOAT_MODEL_FILE, MODEL_FILE, REPO_ROOT

BASELINE_FILE = REPO_ROOT / "benchmarks" / "cycles_baseline.json"
TOLERANCE = 0.05
REFRESH_COMMAND = "python -m tinyqi.bench.baseline"
TASK = "ecg"
COMPRESS_METHOD = "magnitude-global"
RECIPE = (f"tinyqi train {TASK} --quick --sample --seed 0 --out <dir>/{TASK}",
          f"tinyqi compress <dir>/{TASK} --method {COMPRESS_METHOD}")


def _tinyqi(*args: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "tinyqi", *args], capture_output=True, text=True)
    if completed.returncode != 0:
        last = (completed.stderr.strip() or completed.stdout.strip() or "no output").splitlines()[-1]
        raise TinyqiError(f"tinyqi {' '.join(args)}: failed ({last})")


def reference_run(work_dir: Path) -> Path:
    """Train and compress the reference models with the documented commands; returns the run directory."""
    run_dir = work_dir / TASK
    _tinyqi("train", TASK, "--quick", "--sample", "--seed", "0", "--out", str(run_dir))
    _tinyqi("compress", str(run_dir), "--method", COMPRESS_METHOD)
    return run_dir


def _model_sha256(row: dict) -> str:
    name = FLOAT_MODEL_FILE if row["variant"] == "float32-dense" else MODEL_FILE
    return hashlib.sha256((Path(row["model_dir"]) / name).read_bytes()).hexdigest()


def baseline_from_bench(bench: dict) -> dict:
    return {
        "about": "Modelled Cortex-M4 cycles per inference of the bundled reference models (tinyqi/bench/baseline.py); "
                 f"refresh with `{REFRESH_COMMAND}`",
        "recipe": list(RECIPE),
        "board": bench["board"],
        "engine": bench["engine"],
        "tolerance": TOLERANCE,
        "variants": {row["variant"]: {"cycles": row["cycles"], "model_sha256": _model_sha256(row)}
                     for row in bench["rows"]},
    }


def load_baseline(path: Path = BASELINE_FILE) -> dict:
    if not path.is_file():
        raise TinyqiError(f"{path}: no cycle baseline; create it with `{REFRESH_COMMAND}`")
    return json.loads(path.read_text())


def check_cycles(baseline: dict, bench: dict) -> list[str]:
    """One line per variant outside the tolerance band (or missing); empty when every variant is within it."""
    rows = {row["variant"]: row for row in bench["rows"]}
    tolerance = baseline["tolerance"]
    problems = []
    for name, expected in sorted(baseline["variants"].items()):
        row = rows.get(name)
        if row is None or row["cycles"] is None:
            problems.append(f"{name}: in the baseline but not measured")
            continue
        change = row["cycles"] / expected["cycles"] - 1.0
        model_note = "" if _model_sha256(row) == expected["model_sha256"] else \
            " (the reference model itself differs from the baseline's: did training change?)"
        if change > tolerance:
            problems.append(f"{name}: {row['cycles']:,} cycles, {change:+.1%} over the baseline "
                            f"{expected['cycles']:,} (limit {tolerance:+.0%}): a change made inference slower"
                            f"{model_note}")
        elif change < -tolerance:
            problems.append(f"{name}: {row['cycles']:,} cycles, {change:+.1%} under the baseline "
                            f"{expected['cycles']:,}: faster, so refresh the baseline with `{REFRESH_COMMAND}` "
                            f"and commit it{model_note}")
    return problems


def refresh(path: Path = BASELINE_FILE, log=print) -> dict:
    from tinyqi.bench import BenchOptions, run_bench

    with tempfile.TemporaryDirectory(prefix="tinyqi-baseline-") as tmp:
        log(f"building the reference models: {'; '.join(RECIPE)}")
        run_dir = reference_run(Path(tmp))
        bench = run_bench(BenchOptions(TASK, run_dir, Path(tmp) / "bench", peers=False), log=log)
        baseline = baseline_from_bench(bench)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n")
    return baseline


if __name__ == "__main__":
    try:
        written = refresh()
    except TinyqiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    for variant, entry in sorted(written["variants"].items()):
        print(f"{variant}: {entry['cycles']:,} cycles")
    print(f"wrote {BASELINE_FILE}")
