"""Shared test helpers: where the real datasets are, and running the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real data: $TINYQI_DATA, else the workplace copy beside the checkout (CI has ../shared/data).
REAL_DATA = Path(os.environ.get("TINYQI_DATA") or REPO.parent / "shared" / "data")


def real_dataset(name: str) -> Path:
    folder = REAL_DATA / name
    if not folder.is_dir():
        pytest.skip(f"full {name} copy not found at {folder} (set TINYQI_DATA)")
    return folder


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    full_env.pop("TINYQI_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "tinyqi", *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=900)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Bad input: non-zero exit, one line on stderr starting with 'error:', no traceback."""
    assert result.returncode != 0, result.stdout
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
