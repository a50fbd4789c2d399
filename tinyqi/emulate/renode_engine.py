"""Renode engine: a generated .resc (nRF52840 model without the SVD download, plus a DWT) and a Robot Framework
suite in Renode's conventions, run with `renode-test`. Used only when Renode is installed.

Renode's CYCCNT advances with virtual time; the .resc runs the CPU at one instruction per cycle at the board clock,
so the firmware's cycle counts are instruction counts there, not modelled Cortex-M4 cycles.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tinyqi.emulate.elf import ElfImage
from tinyqi.emulate.result import STOP_EXIT, RawRun
from tinyqi.emulate.target import Target
from tinyqi.errors import TinyqiError

TEMPLATES = Path(__file__).resolve().parents[2] / "firmware" / "renode"
DEFAULT_TIMEOUT = 120.0


def renode_available() -> bool:
    return shutil.which("renode") is not None and shutil.which("renode-test") is not None


def write_suite(elf: Path, target: Target, directory: Path, timeout: float) -> Path:
    """Writes nrf52840.repl, tinyqi.resc and tinyqi.robot for `elf` into `directory`; returns the .robot."""
    if target.peripherals != "nrf52":
        raise TinyqiError(f"--engine renode: only the nRF52840 model is set up (board {target.name}); "
                          "use --engine unicorn or qemu")
    directory.mkdir(parents=True, exist_ok=True)
    fields = {
        "FLASH_BASE": f"0x{target.flash_base:x}", "FLASH_SIZE": f"0x{target.flash_size:x}",
        "RAM_BASE": f"0x{target.ram_base:x}", "RAM_SIZE": f"0x{target.ram_size:x}",
        "CLOCK_HZ": str(target.clock_hz), "MIPS": str(target.clock_hz // 1_000_000),
        "ELF": str(elf.resolve()), "UART_LOG": str((directory / "uart0.log").resolve()),
        "REPL": str((directory / "nrf52840.repl").resolve()), "RESC": str((directory / "tinyqi.resc").resolve()),
        "TIMEOUT": str(int(timeout)),
    }
    for template, name in (("nrf52840.repl.in", "nrf52840.repl"), ("tinyqi.resc.in", "tinyqi.resc"),
                           ("tinyqi.robot.in", "tinyqi.robot")):
        text = (TEMPLATES / template).read_text()
        for key, value in fields.items():
            text = text.replace(f"@@{key}@@", value)
        (directory / name).write_text(text)
    return directory / "tinyqi.robot"


class RenodeEngine:
    name = "renode"

    def __init__(self, target: Target, timeout: float = DEFAULT_TIMEOUT, keep: Path | None = None):
        self.target = target
        self.timeout = timeout
        self.keep = keep        # directory to leave the generated suite in (default: a temporary one)

    def run(self, elf: str | Path) -> RawRun:
        if not renode_available():
            raise TinyqiError("renode: `renode` and `renode-test` are not on PATH; install Renode 1.15 or newer "
                              "(https://renode.io) or use --engine unicorn or --engine qemu")
        elf = ElfImage(elf).path
        if self.keep is not None:
            return self._run_in(elf, Path(self.keep))
        with tempfile.TemporaryDirectory(prefix="tinyqi-renode-") as tmp:
            return self._run_in(elf, Path(tmp))

    def _run_in(self, elf: Path, directory: Path) -> RawRun:
        robot = write_suite(elf, self.target, directory, self.timeout)
        started = time.perf_counter()
        try:
            completed = subprocess.run(["renode-test", "--results-dir", str(directory / "results"), str(robot)],
                                       capture_output=True, text=True, timeout=self.timeout + 60)
        except subprocess.TimeoutExpired:
            raise TinyqiError(f"{elf.name}: renode-test did not finish within {self.timeout + 60:.0f} s; "
                              f"see the suite in {directory}") from None
        seconds = time.perf_counter() - started
        log = directory / "uart0.log"
        uart = log.read_bytes().decode("utf-8", errors="replace") if log.exists() else ""
        if not uart:
            lines = (completed.stdout + completed.stderr).strip().splitlines()
            raise TinyqiError(f"{elf.name}: Renode produced no UART output (renode-test exit {completed.returncode}: "
                              f"{lines[-1] if lines else 'no message'}); see the suite in {directory}")
        return RawRun(engine=self.name, uart=uart, semihosting="", exit_code=completed.returncode,
                      stop_reason=STOP_EXIT, instructions=None, cycles=None, seconds=seconds,
                      cpu_seconds=None)
