"""What an engine returns from one run of a firmware ELF."""

from __future__ import annotations

from dataclasses import dataclass

STOP_EXIT, STOP_BREAKPOINT, STOP_BUDGET, STOP_SLEEP, STOP_TIMEOUT = "exit", "breakpoint", "budget", "sleep", "timeout"


@dataclass(frozen=True)
class RawRun:
    engine: str
    uart: str                   # bytes the firmware sent through UARTE0
    semihosting: str            # text the firmware wrote with SYS_WRITE0 / SYS_WRITEC
    exit_code: int | None       # from SYS_EXIT / SYS_EXIT_EXTENDED; None when the run stopped otherwise
    stop_reason: str            # STOP_EXIT, STOP_BREAKPOINT, STOP_BUDGET, STOP_TIMEOUT (wall clock), or STOP_SLEEP
                                # (WFI/WFE, nothing to wake it)
    instructions: int | None    # executed instructions (None: the engine does not count them)
    cycles: int | None          # modelled Cortex-M4 cycles of the whole run (None: the engine has no cycle model)
    seconds: float              # wall-clock time of the emulation itself
    cpu_seconds: float | None   # CPU time of the in-process emulation (None for engines run as a subprocess)

    @property
    def text(self) -> str:
        """The firmware's output: UART on the board's own port when there is any, else semihosting."""
        return self.uart if self.uart else self.semihosting

    @property
    def instructions_per_second(self) -> float | None:
        """Emulation speed in wall-clock time."""
        if self.instructions is None or self.seconds <= 0:
            return None
        return self.instructions / self.seconds

    @property
    def instructions_per_cpu_second(self) -> float | None:
        """Emulation speed per second of CPU time: what the engine itself achieves on a shared machine."""
        if self.instructions is None or not self.cpu_seconds:
            return None
        return self.instructions / self.cpu_seconds
