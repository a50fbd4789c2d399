"""Renode engine: a generated .resc (nRF52840 model without the SVD download, plus a DWT) and a Robot Framework
suite in Renode's conventions, run with `renode-test`. Used only when Renode is installed.

The engine reports no cycles: Renode's DWT CYCCNT follows virtual time, which Renode 1.15 advances only at the end
of each time quantum (docs/emulation.md). `timeout` is emulated time (the terminal tester's); the wall clock gets
WALL_CLOCK_FACTOR times that plus WALL_CLOCK_MARGIN before renode-test is stopped.

A failed run keeps its suite directory (the .resc, .robot, uart0.log and Renode's results) and quotes the error
renode-test printed for the failed test.
"""

from __future__ import annotations

import re
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
WALL_CLOCK_FACTOR, WALL_CLOCK_MARGIN = 2, 60.0  # Renode runs this firmware faster than real time; startup ~10 s
# A harness that got this far printed its verdict: the run's lines are worth parsing even if the robot failed.
FINISHED = re.compile(r"^(?:TQ_DONE|TQ_FAULT)\b", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ERROR_CHARS = 400  # of Renode's error message quoted in the one-line TinyqiError


def renode_available() -> bool:
    return shutil.which("renode") is not None and shutil.which("renode-test") is not None


def monitor_path(path: Path) -> str:
    """An absolute path as Renode's monitor reads it after `@`: a space needs a backslash; `;` ends the command even
    there, and other whitespace has no escape at all, so those are refused."""
    text = str(Path(path).resolve())
    unusable = sorted({c for c in text if c == ";" or (c.isspace() and c != " ")})
    if unusable:
        raise TinyqiError(f"{text}: Renode's monitor cannot take {' or '.join(map(repr, unusable))} in a path; "
                          "move the files (or set TMPDIR) to a path without it")
    return text.replace(" ", "\\ ")


def robot_text(text: str) -> str:
    """`text` as one literal Robot Framework argument: its escape character doubled, and variable openings (`${`
    ...), `#` and `=` (named arguments) escaped. Spaces stay single, so they never split the argument."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([$@&%]\{)", r"\\\1", text)
    return text.replace("#", "\\#").replace("=", "\\=")


def write_suite(elf: Path, target: Target, directory: Path, timeout: float) -> Path:
    """Writes nrf52840.repl, tinyqi.resc and tinyqi.robot for `elf` into `directory`; returns the .robot."""
    if target.peripherals != "nrf52":
        raise TinyqiError(f"--engine renode: only the nRF52840 model is set up (board {target.name}); "
                          "use --engine unicorn or qemu")
    paths = {"ELF": elf, "UART_LOG": directory / "uart0.log", "REPL": directory / "nrf52840.repl",
             "RESC": directory / "tinyqi.resc"}
    monitor = {key: monitor_path(path) for key, path in paths.items()}
    fields = {
        "FLASH_BASE": f"0x{target.flash_base:x}", "FLASH_SIZE": f"0x{target.flash_size:x}",
        "RAM_BASE": f"0x{target.ram_base:x}", "RAM_SIZE": f"0x{target.ram_size:x}",
        "CLOCK_HZ": str(target.clock_hz), "MIPS": str(target.clock_hz // 1_000_000), "TIMEOUT": str(int(timeout)),
        **monitor, **{f"{key}_ROBOT": robot_text(value) for key, value in monitor.items()},
    }
    directory.mkdir(parents=True, exist_ok=True)
    for template, name in (("nrf52840.repl.in", "nrf52840.repl"), ("tinyqi.resc.in", "tinyqi.resc"),
                           ("tinyqi.robot.in", "tinyqi.robot")):
        text = (TEMPLATES / template).read_text()
        for key, value in fields.items():
            text = text.replace(f"@@{key}@@", value)
        (directory / name).write_text(text)
    return directory / "tinyqi.robot"


def renode_error(output: str) -> str:
    """What renode-test reported for the failed test: the message it boxes in '║' lines (its
    robot_output_formatter), on one line. Its last line, a row of dashes, says nothing; without a box the last
    line with words in it is quoted."""
    lines = [ANSI.sub("", line).strip() for line in output.splitlines()]
    boxed = [line.lstrip("║").strip() for line in lines if line.startswith("║")]
    quoted = [line for line in boxed if line] or [line for line in lines if re.search(r"\w", line)][-1:]
    text = " | ".join(quoted) or "no message"
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "…"


class RenodeEngine:
    name = "renode"

    def __init__(self, target: Target, timeout: float = DEFAULT_TIMEOUT, keep: Path | None = None,
                 suite=write_suite):
        self.target = target
        self.timeout = timeout
        self.keep = keep        # directory to leave the generated suite in (default: a temporary one, kept on failure)
        self.suite = suite      # writes the suite: write_suite (the harness) or the monitor's (tinyqi.emulate.monitor)

    def run(self, elf: str | Path) -> RawRun:
        if not renode_available():
            raise TinyqiError("renode: `renode` and `renode-test` are not on PATH; install Renode 1.15 or newer "
                              "(https://renode.io) or use --engine unicorn or --engine qemu")
        elf = ElfImage(elf).path
        monitor_path(elf)  # an ELF path Renode cannot read is refused before anything is written
        directory = Path(self.keep) if self.keep is not None else Path(tempfile.mkdtemp(prefix="tinyqi-renode-"))
        try:
            robot = self.suite(elf, self.target, directory, self.timeout)
        except TinyqiError:
            self._discard(directory)
            raise
        run = self._execute(elf, robot, directory)  # raises, keeping the directory, when Renode failed
        self._discard(directory)
        return run

    def _discard(self, directory: Path) -> None:
        if self.keep is None:
            shutil.rmtree(directory, ignore_errors=True)

    def _execute(self, elf: Path, robot: Path, directory: Path) -> RawRun:
        wall_clock = WALL_CLOCK_FACTOR * self.timeout + WALL_CLOCK_MARGIN
        started = time.perf_counter()
        try:
            completed = subprocess.run(["renode-test", "--results-dir", str(directory / "results"), str(robot)],
                                       capture_output=True, text=True, timeout=wall_clock)
        except subprocess.TimeoutExpired:
            raise TinyqiError(f"{elf.name}: renode-test did not finish within {wall_clock:.0f} s of wall-clock time; "
                              f"the suite is kept in {directory}") from None
        seconds = time.perf_counter() - started
        log = directory / "uart0.log"
        uart = log.read_bytes().decode("utf-8", errors="replace") if log.exists() else ""
        if completed.returncode != 0 and not FINISHED.search(uart):
            raise TinyqiError(f"{elf.name}: Renode failed before the firmware finished: "
                              f"{renode_error(completed.stdout + completed.stderr)}; the suite, uart0.log and "
                              f"Renode's results are kept in {directory}")
        return RawRun(engine=self.name, uart=uart, semihosting="", exit_code=completed.returncode,
                      stop_reason=STOP_EXIT, instructions=None, cycles=None, seconds=seconds,
                      cpu_seconds=None)
