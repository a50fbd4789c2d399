"""Shared test helpers: where the real datasets are, and running the CLI as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The real data: $TINYQI_DATA, else the workplace copy beside the checkout (CI has ../shared/data).
REAL_DATA = Path(os.environ.get("TINYQI_DATA") or REPO.parent / "shared" / "data")
# A dead HTTP(S) proxy for firmware builds: a registry access fails the build instead of stalling it.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
needs_firmware = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                    reason="arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi "
                                           "libnewlib-arm-none-eabi)")


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


@pytest.fixture(scope="session")
def harness_elf(tmp_path_factory) -> Path:
    """The emulator tests' harness firmware (tests/fixtures/emu), built with arm-none-eabi-gcc."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc is not installed (apt-get install gcc-arm-none-eabi)")
    fixtures = REPO / "tests" / "fixtures" / "emu"
    elf = tmp_path_factory.mktemp("emu") / "harness.elf"
    subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2",
                    "-ffreestanding", "-nostdlib", "-T", str(fixtures / "link.ld"),
                    *(str(fixtures / name) for name in ("startup.c", "tq_io.c", "harness.c")), "-lgcc", "-o",
                    str(elf)], check=True, capture_output=True)
    return elf


@pytest.fixture(scope="module")
def offline():
    """OFFLINE in the environment of the module's tests (and of the builds they start)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def core(tmp_path_factory) -> Path:
    """The session's offline PlatformIO core, prepared by the first build and shared by every firmware test."""
    return tmp_path_factory.getbasetemp() / "pio-core"
