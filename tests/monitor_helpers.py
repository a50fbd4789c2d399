"""What the monitor tests of both tasks (test_monitor.py: ECG, test_monitor_vibration.py) do the same way: build a
hand-written fixture model with a recorded stream, run an ELF under Unicorn, and go through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import OFFLINE, run_cli

from tinyqi.emulate.monitor import MonitorTask, parse_monitor_output, run_engine
from tinyqi.emulate.run import target_for_board
from tinyqi.firmware.boards import NRF52840
from tinyqi.firmware.build import compile_firmware
from tinyqi.firmware.monitor import write_stream


def build_fixture_stream(fixture: Path, out: Path, excerpts, core: Path, environment: str, task: str = "ecg"):
    """The fixture model's C (`fixture`) with `excerpts` as the recorded stream, built for `environment` in `out`."""
    model_src = out / "model_src"
    model_src.mkdir()
    for name in ("model_data.c", "model_data.h"):
        shutil.copy(fixture / name, model_src)
    write_stream(excerpts, model_src, task)
    return compile_firmware(model_src, "nrf52840", out / "build", core, environment=environment)


def emulate(elf: Path, task: MonitorTask, engine: str = "unicorn"):
    """(RawRun, parsed monitor output) of `elf`, no Renode lines to wait for."""
    run = run_engine(engine, target_for_board(NRF52840), elf, [], 500_000_000, None)
    return run, parse_monitor_output(run.text, elf.name, task)


def emulate_excerpts(elf: Path, task: MonitorTask, excerpts):
    """emulate's parsed output, after checking the run ended cleanly on exactly the excerpts' records."""
    run, parsed = emulate(elf, task)
    assert run.exit_code == 0 and parsed.fault is None
    assert [(r.name, r.samples) for r in parsed.records] == [(e.record, len(e.adc)) for e in excerpts]
    return parsed


def build_and_emulate(model_dir: Path, core: Path, *build_args: str):
    """`tinyqi build --app monitor` (with `build_args`), then `tinyqi emulate --app monitor`, offline: (build,
    emulate, monitor.json)."""
    env = {**OFFLINE, "TINYQI_PIO_CORE": str(core)}
    built = run_cli("build", "--board", "nrf52840", "--app", "monitor", str(model_dir), *build_args, env=env)
    assert built.returncode == 0, built.stderr
    emulated = run_cli("emulate", "--board", "nrf52840", "--app", "monitor", str(model_dir), env=env)
    return built, emulated, json.loads((model_dir / "monitor.json").read_text())
