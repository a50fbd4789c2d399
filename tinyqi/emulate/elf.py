"""The firmware ELF as the emulators see it: loadable segments, the vector table, and symbols for fault reports."""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from tinyqi.errors import TinyqiError

EM_ARM = "EM_ARM"


@dataclass(frozen=True)
class Segment:
    address: int          # load (physical) address: where the bytes live at reset, e.g. .data's copy in flash
    data: bytes
    memory_size: int      # p_memsz, at least len(data)


@dataclass(frozen=True)
class Function:
    address: int
    size: int
    name: str


class ElfImage:
    """Reads an ARM ELF once; `describe(pc)` names the function that contains an address."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as handle:
                elf = ELFFile(handle)
                if elf["e_machine"] != EM_ARM or elf.elfclass != 32:
                    raise TinyqiError(f"{self.path}: not a 32-bit ARM ELF ({elf['e_machine']}); "
                                      "pass the firmware ELF built for the board")
                self.segments = _load_segments(elf)
                self.functions, self.symbols = _load_symbols(elf)
        except FileNotFoundError:
            raise TinyqiError(f"{self.path}: no such file; build the firmware first or check the path") from None
        except IsADirectoryError:
            raise TinyqiError(f"{self.path}: a directory, not an ELF; pass the firmware ELF (or, to `tinyqi emulate`, "
                              "the model directory it was built for)") from None
        except OSError as exc:
            raise TinyqiError(f"{self.path}: cannot read it ({exc.strerror}); check the path and its permissions") \
                from None
        except ELFError as exc:
            raise TinyqiError(f"{self.path}: not a valid ELF ({exc}); pass the firmware ELF") from None
        if not self.segments:
            raise TinyqiError(f"{self.path}: the ELF has no loadable segment; pass a linked firmware image")
        self._starts = [f.address for f in self.functions]

    def read_word(self, address: int) -> int:
        """A 32-bit word of the loaded image (used for the vector table)."""
        for segment in self.segments:
            offset = address - segment.address
            if 0 <= offset <= len(segment.data) - 4:
                return struct.unpack_from("<I", segment.data, offset)[0]
        raise TinyqiError(f"{self.path}: no loaded bytes at 0x{address:08x} (vector table?); "
                          "link the vector table at the start of flash")

    def describe(self, address: int) -> str:
        """`name+0xoff` for the function containing `address`, or `?` when no symbol covers it."""
        address &= ~1
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0:
            function = self.functions[index]
            if address < function.address + max(function.size, 2):
                offset = address - function.address
                return function.name if offset == 0 else f"{function.name}+0x{offset:x}"
        return "?"


def _load_segments(elf: ELFFile) -> list[Segment]:
    segments = []
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_LOAD" and segment["p_filesz"] > 0:
            segments.append(Segment(segment["p_paddr"], segment.data(), segment["p_memsz"]))
    return sorted(segments, key=lambda s: s.address)


def _load_symbols(elf: ELFFile) -> tuple[list[Function], dict[str, int]]:
    table = elf.get_section_by_name(".symtab")
    functions, symbols = {}, {}
    for symbol in table.iter_symbols() if table else ():
        kind = symbol["st_info"]["type"]
        if not symbol.name or kind not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
            continue
        address = symbol["st_value"]
        if kind == "STT_FUNC":
            address &= ~1  # Thumb bit
            functions.setdefault(address, Function(address, symbol["st_size"], symbol.name))
        symbols.setdefault(symbol.name, address)
    return sorted(functions.values(), key=lambda f: f.address), symbols
