"""Second, independent engine for functional runs: QEMU's `mps2-an386` (a Cortex-M4F board).

Its memory has room for the nRF52840 map (4 MiB at 0x00000000, 4 MiB at 0x20000000), so the same ELF runs unchanged.
The machine has no UARTE and no DWT: the firmware's text comes from semihosting, and its cycle counts read 0, so
this engine reports no cycles. A fault is detected in QEMU's interrupt log; the faulting PC is then read from the
exception frame on the stack through the QEMU monitor.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tinyqi.emulate.elf import ElfImage
from tinyqi.emulate.result import STOP_EXIT, RawRun
from tinyqi.emulate.target import Target
from tinyqi.errors import TinyqiError

MACHINE = "mps2-an386"
MACHINE_MEMORY = (range(0x00000000, 0x00400000), range(0x20000000, 0x20400000))
DEFAULT_TIMEOUT = 120.0     # seconds of wall-clock time
POLL = 0.02
FAULT_GRACE = 0.5           # seconds a faulted firmware gets to print its own TQ_FAULT line and exit
LOG_TAIL = 4096             # characters of the interrupt log kept: enough for the last exception's lines
FAULT_ENTRY = re.compile(r"taking pending (?:non)?secure exception 3\b")
FAULT_CAUSE = re.compile(r"Taking exception \d+ \[([^\]]+)\](?:.*\n\.\.\.at fault address (0x[0-9a-f]+))?")
THUMB_STATE = 1 << 24       # xPSR.T in a valid exception frame


class QemuEngine:
    name = "qemu"

    def __init__(self, target: Target, timeout: float = DEFAULT_TIMEOUT):
        self.target = target
        self.timeout = timeout

    def run(self, elf: str | Path) -> RawRun:
        executable = shutil.which("qemu-system-arm")
        if executable is None:
            raise TinyqiError("qemu-system-arm: not found on PATH; install it (apt-get install qemu-system-arm) "
                              "or use --engine unicorn")
        image = ElfImage(elf)
        _check_fits(image)
        with tempfile.TemporaryDirectory(prefix="tinyqi-qemu-") as tmp:
            return _QemuRun(executable, image, Path(tmp), self.timeout).execute()


def _check_fits(image: ElfImage) -> None:
    for segment in image.segments:
        end = segment.address + max(len(segment.data), 1) - 1
        if not any(segment.address in r and end in r for r in MACHINE_MEMORY):
            raise TinyqiError(f"{image.path}: segment at 0x{segment.address:08x} is outside {MACHINE}'s memory "
                              "(0x00000000 and 0x20000000, 4 MiB each); use --engine unicorn for this board")


class _QemuRun:
    def __init__(self, executable: str, image: ElfImage, tmp: Path, timeout: float):
        self.image, self.tmp, self.timeout = image, tmp, timeout
        self.monitor = tmp / "monitor.sock"
        self.log = tmp / "interrupts.log"
        self.semihosting = tmp / "semihosting.txt"
        self._log_offset, self._log_tail = 0, ""
        self.command = [executable, "-M", MACHINE, "-cpu", "cortex-m4", "-nographic", "-serial", "null",
                        "-monitor", f"unix:{self.monitor},server=on,wait=off",
                        "-chardev", f"file,id=semihosting,path={self.semihosting}",
                        "-semihosting-config", "enable=on,target=native,chardev=semihosting",
                        "-d", "int", "-D", str(self.log), "-kernel", str(image.path)]

    def execute(self) -> RawRun:
        stderr_path = self.tmp / "stderr"
        with open(stderr_path, "wb") as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)
            try:
                fault = self._wait(process, started)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            seconds = time.perf_counter() - started
        if fault:
            raise TinyqiError(fault)
        errors = [line for line in stderr_path.read_text(errors="replace").splitlines()
                  if line.startswith("qemu-system-arm:")]
        if errors:
            raise TinyqiError(f"{errors[0]}; check the ELF and the QEMU installation")
        return RawRun(engine=QemuEngine.name, uart="", semihosting=self._output(), exit_code=process.returncode,
                      stop_reason=STOP_EXIT, instructions=None, cycles=None, seconds=seconds,
                      cpu_seconds=None)

    def _wait(self, process: subprocess.Popen, started: float) -> str | None:
        """Waits for QEMU to exit; returns a fault line if the firmware entered HardFault or ran out of time."""
        while process.poll() is None:
            log = self._log()
            if FAULT_ENTRY.search(log):
                if _exits_within(process, FAULT_GRACE):
                    break           # the firmware's own fault handler reported (TQ_FAULT) and exited
                return self._fault(log, self._stacked_pc())
            if time.perf_counter() - started > self.timeout:
                return (f"{self.image.path.name}: no SYS_EXIT within {self.timeout:.0f} s in QEMU {MACHINE}; the "
                        "firmware may loop, wait on UARTE0 EVENTS_ENDTX (this machine has no UARTE), or gate "
                        "semihosting on DHCSR.C_DEBUGEN (QEMU reads it as 0): see docs/emulation.md")
            time.sleep(POLL)
        log = self._log()
        if FAULT_ENTRY.search(log) and "TQ_FAULT" not in self._output():
            return self._fault(log, None)   # the fault handler exited before the monitor could read the frame
        return None

    def _log(self) -> str:
        """The end of the interrupt log, read incrementally (it logs every semihosting call of a long run)."""
        if self.log.exists():
            with open(self.log, "rb") as handle:
                handle.seek(self._log_offset)
                chunk = handle.read()
            self._log_offset += len(chunk)
            self._log_tail = (self._log_tail + chunk.decode(errors="replace"))[-LOG_TAIL:]
        return self._log_tail

    def _output(self) -> str:
        return self.semihosting.read_bytes().decode("utf-8", errors="replace") if self.semihosting.exists() else ""

    def _fault(self, log: str, pc: int | None) -> str:
        causes = FAULT_CAUSE.findall(log)
        cause, address = causes[-1] if causes else ("fault", "")
        what = f"{cause} at address {address}" if address else cause
        where = f"pc 0x{pc:08x} ({self.image.describe(pc)})" if pc is not None else "an unknown pc"
        return f"{self.image.path.name}: HardFault after {what} at {where} (QEMU {MACHINE}); " \
               "the board faults here too: check the pointer or instruction"

    def _stacked_pc(self) -> int | None:
        """The PC in the exception frame at SP, if SP still points at a valid frame."""
        try:
            registers = self._monitor("info registers")
            sp = int(re.search(r"R13=([0-9a-f]{8})", registers).group(1), 16)
            dump = self._monitor(f"xp /8wx 0x{sp:08x}").split(":", 1)[-1]
            words = [int(word, 16) for word in re.findall(r"0x([0-9a-f]{8})", dump)]
        except (OSError, AttributeError, ValueError):
            return None
        if len(words) == 8 and words[7] & THUMB_STATE:
            return words[6]
        return None

    def _monitor(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(2.0)
            connection.connect(str(self.monitor))
            _read_until_prompt(connection)
            connection.sendall(f"{command}\n".encode())
            return _read_until_prompt(connection)


def _exits_within(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _read_until_prompt(connection: socket.socket) -> str:
    data = b""
    while not data.rstrip().endswith(b"(qemu)"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", data.decode(errors="replace"))
