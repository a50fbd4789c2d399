"""Arm semihosting (BKPT 0xAB, operation in r0, parameter in r1) as far as the firmware contract uses it."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

BKPT_SEMIHOSTING = 0xBEAB          # Thumb encoding of BKPT 0xAB
SYS_WRITEC, SYS_WRITE0, SYS_EXIT, SYS_EXIT_EXTENDED = 0x03, 0x04, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
MAX_STRING = 1 << 16


class UnsupportedOperation(Exception):
    """A semihosting call outside the firmware contract; the engine reports it with the PC."""


@dataclass
class Semihosting:
    """Collects written text; `exit_code` is set once the firmware asks to exit."""

    read_memory: Callable[[int, int], bytes]
    output: bytearray
    exit_code: int | None = None

    def call(self, operation: int, parameter: int) -> int:
        """Runs one operation and returns the value for r0."""
        if operation == SYS_WRITEC:
            self.output += self.read_memory(parameter, 1)
        elif operation == SYS_WRITE0:
            self.output += self._string(parameter)
        elif operation == SYS_EXIT:
            self.exit_code = 0 if parameter == ADP_STOPPED_APPLICATION_EXIT else 1
        elif operation == SYS_EXIT_EXTENDED:
            reason, code = struct.unpack("<II", self.read_memory(parameter, 8))
            self.exit_code = struct.unpack("<i", struct.pack("<I", code))[0] \
                if reason == ADP_STOPPED_APPLICATION_EXIT else 1
        else:
            raise UnsupportedOperation(f"semihosting operation 0x{operation:02x}")
        return 0

    def _string(self, address: int) -> bytes:
        text = bytearray()
        while len(text) < MAX_STRING:
            start = address + len(text)
            chunk = self.read_memory(start, 64 - start % 64)     # aligned chunks never cross a mapped page
            end = chunk.find(b"\0")
            if end >= 0:
                return bytes(text + chunk[:end])
            text += chunk
        return bytes(text)
