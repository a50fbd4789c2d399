"""`tinyqi build` and `tinyqi flash`: one-line errors, the --dry-run plan, and the upload path through pyOCD.

pyOCD and a probe are replaced by a fake `pyocd` package on PYTHONPATH that logs its arguments; codegen by a copy of
the hand-written fixture model (tinyqi.codegen is tested on its own).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys

import pytest
from click.testing import CliRunner

from tinyqi.cli import main
from tinyqi.firmware import build as firmware_build
from tinyqi.firmware import flash as firmware_flash
from tinyqi.firmware.build import REPO_ROOT

FIXTURE_MODEL = REPO_ROOT / "tests" / "fixtures" / "firmware_model"
needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi "
                                      "libnewlib-arm-none-eabi)")

FAKE_PYOCD = '''\
import json, os, sys
with open(os.environ["FAKE_PYOCD_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == ["list"]:
    print(os.environ["FAKE_PYOCD_LIST"])
'''


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def run_dir(tmp_path):
    """A run directory shape (model_int8.tflite + a variant, each with its manifest.json); the .tflite content is
    never read here."""
    from tinyqi.manifest import write_manifest

    run = tmp_path / "run"
    (run / "variants" / "pruned").mkdir(parents=True)
    for model_dir in (run, run / "variants" / "pruned"):
        (model_dir / "model_int8.tflite").write_bytes(b"not read: codegen is replaced in these tests")
        write_manifest(model_dir, "train")
    return run


@pytest.fixture
def fake_pyocd(tmp_path, monkeypatch):
    """A `pyocd` that logs every call; `probes` sets what `pyocd list` prints. Returns the call log path."""
    package = tmp_path / "fake-site" / "pyocd"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_PYOCD)
    log = tmp_path / "pyocd-calls.jsonl"
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    monkeypatch.setenv("FAKE_PYOCD_LOG", str(log))
    monkeypatch.setenv("FAKE_PYOCD_LIST", "  0   Fake CMSIS-DAP   0001   nrf52840")
    return log


@pytest.fixture
def codegen_copies_fixture(monkeypatch):
    def copy_fixture(model_dir, model_src, float_model=False):
        shutil.copytree(FIXTURE_MODEL, model_src, dirs_exist_ok=True)

    monkeypatch.setattr(firmware_build, "generate_model_sources", copy_fixture)
    monkeypatch.setattr(firmware_flash, "generate_model_sources", copy_fixture)


@pytest.fixture
def offline_core(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TINYQI_PIO_CORE", str(tmp_path_factory.getbasetemp() / "pio-core"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # no registry: fail fast instead of stalling


@pytest.mark.parametrize("command", ["build", "flash"])
def test_unknown_board(command, run_dir):
    line = one_error_line(invoke(command, "--board", "esp32", str(run_dir)))
    assert line == "error: --board esp32: unknown board; choose one of nrf52840, stm32l4r5"


@pytest.mark.parametrize("command", ["build", "flash"])
def test_missing_run_dir(command, tmp_path):
    line = one_error_line(invoke(command, "--board", "nrf52840", str(tmp_path / "nope")))
    assert line == f"error: {tmp_path / 'nope'}: no such run directory; train one with `tinyqi train <task>`"


def test_directory_without_a_model(tmp_path):
    line = one_error_line(invoke("build", "--board", "nrf52840", str(tmp_path)))
    assert line.endswith("no model_int8.tflite; this is not a model directory (see docs/architecture.md)")


def test_unknown_variant_lists_the_available_ones(run_dir):
    line = one_error_line(invoke("build", "--board", "nrf52840", str(run_dir), "--variant", "lowrank"))
    assert "lowrank: no such variant; available: pruned" in line


def test_flash_dry_run_prints_the_exact_commands(run_dir, offline_core):
    result = invoke("flash", "--board", "nrf52840", str(run_dir), "--variant", "pruned", "--dry-run")
    assert result.exit_code == 0, result.output
    comment, _, command, upload = result.output.strip().splitlines()
    out = run_dir / "variants" / "pruned" / "firmware" / "nrf52840"
    assert comment == (f"# generate C: tinyqi.codegen.generate('{run_dir / 'variants' / 'pruned'}', "
                       f"'{out.resolve() / 'model_src'}', use_csr=True)")
    words = shlex.split(command)
    env = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    assert env["TINYQI_MODEL_SRC"] == str(out.resolve() / "model_src")
    assert env["PLATFORMIO_BUILD_DIR"] == str(out.resolve() / "pio")
    assert env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] == "true" and env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "No"
    assert words[len(env):] == [sys.executable, "-m", "platformio", "run", "--project-dir", str(REPO_ROOT),
                                "--environment", "nrf52840", "--target", "upload"]
    assert upload == (f"# the upload target runs: {sys.executable} -m pyocd flash --no-wait --target nrf52840 "
                      f"--format elf {out.resolve() / 'pio' / 'nrf52840' / 'firmware.elf'}")


def test_flash_dry_run_without_run_dir_uses_the_built_in_model(offline_core):
    result = invoke("flash", "--board", "stm32l4r5", "--dry-run", "--profile")
    assert result.exit_code == 0, result.output
    assert "# generate" not in result.output and "TINYQI_MODEL_SRC" not in result.output
    assert "PLATFORMIO_BUILD_FLAGS=-DTQ_PROFILE" in result.output
    assert "--target stm32l4r5zitx --format elf" in result.output


def test_flash_without_pyocd(run_dir, monkeypatch):
    monkeypatch.setattr(firmware_flash.importlib.util, "find_spec", lambda name: None)
    line = one_error_line(invoke("flash", "--board", "nrf52840", str(run_dir)))
    assert line.startswith("error: pyocd: not installed; `pip install pyocd`")


def test_flash_without_a_probe(run_dir, fake_pyocd, monkeypatch):
    monkeypatch.setenv("FAKE_PYOCD_LIST", "No available debug probes are connected")
    line = one_error_line(invoke("flash", "--board", "nrf52840", str(run_dir)))
    assert line == ("error: flash --board nrf52840: pyocd finds no debug probe; connect the board's debug USB port "
                    "(and check `pyocd list`)")
    assert [json.loads(call) for call in fake_pyocd.read_text().splitlines()] == [["list"]]  # nothing built


@pytest.mark.skipif(firmware_flash.importlib.util.find_spec("pyocd") is None, reason="pyocd not installed")
def test_flash_with_the_real_pyocd_and_no_probe(run_dir):
    """The pinned pyOCD itself, on a machine without a probe (CI): the same one line, before anything is built."""
    from pyocd.probe.aggregator import DebugProbeAggregator

    if DebugProbeAggregator.get_all_connected_probes():
        pytest.skip("a debug probe is connected")
    line = one_error_line(invoke("flash", "--board", "nrf52840", str(run_dir)))
    assert line.startswith("error: flash --board nrf52840: pyocd finds no debug probe")


@needs_gcc
def test_flash_builds_and_uploads_through_platformio(run_dir, fake_pyocd, codegen_copies_fixture, offline_core):
    result = invoke("flash", "--board", "nrf52840", str(run_dir))
    assert result.exit_code == 0, result.output
    elf = (run_dir / "firmware" / "nrf52840").resolve() / "pio" / "nrf52840" / "firmware.elf"
    calls = [json.loads(call) for call in fake_pyocd.read_text().splitlines()]
    assert calls == [["list"], ["flash", "--no-wait", "--target", "nrf52840", "--format", "elf", str(elf)]]
    assert elf.is_file()


@needs_gcc
def test_build_prints_the_size_table(run_dir, codegen_copies_fixture, offline_core):
    result = invoke("build", "--board", "nrf52840", str(run_dir))
    assert result.exit_code == 0, result.output
    for expected in (".isr_vector", ".tq_model_const", ".tq_arena", ".stack", "model + runtime", "arena 32 B"):
        assert expected in result.output
    assert (run_dir / "firmware" / "nrf52840" / "size.json").is_file()


def test_flash_variant_without_run_dir():
    line = one_error_line(invoke("flash", "--board", "nrf52840", "--variant", "pruned"))
    assert line == "error: --variant, --out and --float need RUN_DIR; without it the built-in test model is flashed"


def test_profile_build_gets_its_own_directory(run_dir, offline_core):
    result = invoke("flash", "--board", "nrf52840", str(run_dir), "--profile", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"TINYQI_MODEL_SRC={(run_dir / 'firmware' / 'nrf52840-profile').resolve() / 'model_src'}" in result.output
    assert "PLATFORMIO_BUILD_FLAGS=-DTQ_PROFILE" in result.output
