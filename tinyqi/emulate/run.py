"""`run_firmware`: one firmware ELF through one engine, parsed into the harness results the bench and CLI use."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tinyqi.emulate import qemu_engine, renode_engine, unicorn_engine
from tinyqi.emulate.elf import ElfImage
from tinyqi.emulate.output import DoneLine, LayerLine, VectorLine, parse_output
from tinyqi.emulate.qemu_engine import QemuEngine
from tinyqi.emulate.renode_engine import RenodeEngine
from tinyqi.emulate.result import STOP_BUDGET, STOP_TIMEOUT, RawRun
from tinyqi.emulate.target import Target
from tinyqi.emulate.unicorn_engine import DEFAULT_BUDGET, UnicornEngine
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile, get_board
from tinyqi.firmware.build import FirmwareLayout, default_out_dir

ENGINES = ("unicorn", "qemu", "renode")
# Seconds: wall-clock for unicorn and qemu, emulated time for renode (docs/emulation.md).
DEFAULT_TIMEOUTS = {"unicorn": unicorn_engine.DEFAULT_TIMEOUT, "qemu": qemu_engine.DEFAULT_TIMEOUT,
                    "renode": renode_engine.DEFAULT_TIMEOUT}
PERIPHERAL_MODELS = (("nrf52", "nrf52"), ("stm32l4", "stm32l4"))    # MCU name prefix -> tinyqi/emulate/peripherals.py


@dataclass(frozen=True)
class EmulationResult:
    elf: Path
    board: str
    engine: str
    clock_hz: int
    vectors: tuple[VectorLine, ...]
    layers: tuple[LayerLine, ...]
    done: DoneLine
    cycle_model: bool           # True: the TQ cycles come from the Cortex-M4 timing model (docs/emulation.md)
    run: RawRun                 # engine-level facts: raw output, exit code, instructions, modelled cycles, speed

    @property
    def stdout(self) -> str:
        """Everything the firmware printed (UART when the engine has one, else semihosting)."""
        return self.run.text

    @property
    def instructions(self) -> int | None:
        return self.run.instructions

    @property
    def mismatches(self) -> int:
        return self.done.mismatches

    @property
    def bit_exact(self) -> bool:
        """Every golden vector produced exactly the golden int8 outputs."""
        return self.done.vectors > 0 and self.done.mismatches == 0

    @property
    def mean_cycles(self) -> float | None:
        if not self.cycle_model or not self.vectors:
            return None
        return sum(vector.cycles for vector in self.vectors) / len(self.vectors)

    @property
    def latency_seconds(self) -> float | None:
        mean = self.mean_cycles
        return None if mean is None else mean / self.clock_hz

    @property
    def layer_cycles(self) -> dict[str, int]:
        """Cycles per layer of the profiled vector (TQL lines), in layer order."""
        return {layer.name: layer.cycles for layer in sorted(self.layers, key=lambda line: line.layer)}


def target_for_board(board: BoardProfile) -> Target:
    """The emulator's view of a board profile. Flash wait states: 0, see docs/emulation.md."""
    peripherals = next((model for prefix, model in PERIPHERAL_MODELS if board.mcu.startswith(prefix)), "none")
    return Target(board.name, board.flash_origin, board.flash_bytes, board.ram_origin, board.ram_bytes,
                  board.clock_hz, flash_wait_states=0, peripherals=peripherals)


def make_engine(engine: str, target: Target, budget: int = DEFAULT_BUDGET, timeout: float | None = None):
    """The engine named `engine`; `timeout` None is the engine's default (DEFAULT_TIMEOUTS)."""
    if engine not in ENGINES:
        raise TinyqiError(f"--engine {engine}: unknown engine; choose one of {', '.join(ENGINES)}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise TinyqiError(f"budget {budget!r}: the instruction budget must be a positive integer, e.g. "
                          f"{DEFAULT_BUDGET}")
    timeout = DEFAULT_TIMEOUTS[engine] if timeout is None else timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
        raise TinyqiError(f"timeout {timeout!r}: give a positive number of seconds, e.g. {DEFAULT_TIMEOUTS[engine]:g}")
    if engine == "unicorn":
        return UnicornEngine(target, budget=budget, timeout=timeout)
    if engine == "qemu":
        return QemuEngine(target, timeout=timeout)
    return RenodeEngine(target, timeout=timeout)


def run_firmware(elf: str | Path, board: str | BoardProfile = "nrf52840", engine: str = "unicorn", *,
                 budget: int = DEFAULT_BUDGET, timeout: float | None = None) -> EmulationResult:
    """Runs the harness ELF to completion and returns its parsed lines; raises TinyqiError on any fault.
    `timeout` None: the engine's default (DEFAULT_TIMEOUTS)."""
    profile = as_profile(board)
    elf = Path(elf)
    run = make_engine(engine, target_for_board(profile), budget, timeout).run(elf)
    source = f"{elf.name} on {engine}"
    parsed = parse_output(run.text, source)
    check_finished(parsed, run, elf, source, "a TQ_DONE line",
                   "the firmware stopped without printing its TQ_DONE line: is this the tinyqi harness?")
    return EmulationResult(elf, profile.name, engine, profile.clock_hz, parsed.vectors, parsed.layers, parsed.done,
                           cycle_model=run.cycles is not None, run=run)


def check_finished(parsed, run: RawRun, elf: Path, source: str, done_line: str, otherwise: str) -> None:
    """The run must have reached its done line (`done_line`, as the message names it) without a fault. `parsed`: the
    firmware's parsed output (fault, fault_pc, done); `otherwise`: the hint for a run that simply stopped."""
    if parsed.fault is not None:
        where = f" ({ElfImage(elf).describe(parsed.fault_pc)})" if parsed.fault_pc is not None else ""
        raise TinyqiError(f"{source}: the firmware reported a fault{where}: {parsed.fault}; "
                          "rebuild with -g and inspect that address with arm-none-eabi-addr2line")
    if parsed.done is None:
        last = run.text.strip().splitlines()[-1] if run.text.strip() else "(no output)"
        hint = {STOP_BUDGET: "raise --budget if the firmware was still running",
                STOP_TIMEOUT: "raise --timeout if the firmware was still running"}.get(run.stop_reason, otherwise)
        raise TinyqiError(f"{source}: the run stopped ({run.stop_reason}) before {done_line}; last output: "
                          f"{last!r}; {hint}")


def as_profile(board: str | BoardProfile) -> BoardProfile:
    if isinstance(board, BoardProfile):
        return board
    if not isinstance(board, str):
        raise TinyqiError(f"board {board!r}: give a board name or a tinyqi.firmware.boards.BoardProfile")
    return get_board(board)


def resolve_elf(path: str | Path, board: str | BoardProfile) -> Path:
    """An ELF path as given, or the harness `tinyqi build` made for a model directory (run root or variant)."""
    profile = as_profile(board)
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise TinyqiError(f"{path}: no such file or directory; pass the firmware ELF or a model directory")
    elf = FirmwareLayout(default_out_dir(path, profile), profile.name).elf
    if not elf.is_file():
        raise TinyqiError(f"{path}: no {profile.name} firmware built here (expected {elf}); build it with "
                          f"`tinyqi build --board {profile.name} {path}` or pass the ELF")
    return elf
