"""Flash and RAM use of a harness ELF, by section and symbol (pyelftools), in arm-none-eabi-size's terms.

The platform linker script (firmware/platform/ldscripts/tinyqi_cortex_m.ld) groups the image into sections named
after what they hold, so the breakdown is read from the ELF alone:
  flash = every allocated section with contents (code, constants, and the load image of .data)
        = `size -B` text + data
  RAM   = every allocated section placed in the board's RAM (.stack, .data, .tq_arena, .bss)
        = `size -B` data + bss
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile

SECTION_ROLES = {
    ".isr_vector": "vector table",
    ".tq_runtime": "C runtime kernels and their tables (firmware/lib/tinyqi)",
    ".tq_model_code": "generated tq_model_invoke() (model_data.c)",
    ".tq_model_const": "model constants: weights, biases, quantisation, CSR (model_data.c)",
    ".tq_golden": "golden vectors checked by the harness (golden_data.c; test data, not the model)",
    ".tq_stream": "recorded samples the monitor reads in emulation (stream_data.c; test data, not the firmware)",
    ".text": "harness, startup, board support, libc/libgcc",
    ".ARM.exidx": "unwind index",
    ".data": "initialised data (its load image is also in flash)",
    ".stack": "main stack",
    ".tq_arena": "activation arena (model_data.c)",
    ".bss": "harness buffers and other zeroed data",
}
MODEL_AND_RUNTIME = (".tq_runtime", ".tq_model_code", ".tq_model_const")
SYMBOLS_PER_SECTION = 5


@dataclass(frozen=True)
class SymbolUse:
    name: str
    bytes: int


@dataclass(frozen=True)
class SectionUse:
    name: str
    region: str  # "flash" or "ram"
    address: int
    bytes: int
    role: str
    symbols: tuple[SymbolUse, ...]  # the largest, by size then name


@dataclass(frozen=True)
class SizeReport:
    board: str
    flash_bytes: int
    ram_bytes: int
    flash_capacity: int
    ram_capacity: int
    model_and_runtime_flash_bytes: int
    arena_bytes: int
    sections: tuple[SectionUse, ...]

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = [f"{'region':6}  {'section':15}  {'bytes':>8}  what"]
        for section in self.sections:
            lines.append(f"{section.region:6}  {section.name:15}  {section.bytes:8d}  {section.role}")
            for symbol in section.symbols:
                lines.append(f"{'':6}  {'':15}  {symbol.bytes:8d}    {symbol.name}")
        flash_share = percent(self.flash_bytes, self.flash_capacity)
        ram_share = percent(self.ram_bytes, self.ram_capacity)
        lines.append(f"flash {self.flash_bytes} B of {self.flash_capacity} B ({flash_share}); "
                     f"model + runtime {self.model_and_runtime_flash_bytes} B")
        lines.append(f"RAM   {self.ram_bytes} B of {self.ram_capacity} B ({ram_share}); arena {self.arena_bytes} B")
        return "\n".join(lines)


def percent(used: int, capacity: int) -> str:
    return f"{100.0 * used / capacity:.1f}%"


def largest_symbols(elf: ELFFile, section_index: int) -> tuple[SymbolUse, ...]:
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        return ()
    sizes = {}
    for symbol in symtab.iter_symbols():
        if (symbol["st_shndx"] == section_index and symbol["st_size"] > 0
                and symbol["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT")):
            sizes[symbol.name] = max(sizes.get(symbol.name, 0), symbol["st_size"])
    ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    return tuple(SymbolUse(name, size) for name, size in ranked[:SYMBOLS_PER_SECTION])


def region_of(board: BoardProfile, address: int, size: int, name: str) -> str:
    if board.flash_origin <= address and address + size <= board.flash_end:
        return "flash"
    if board.ram_origin <= address and address + size <= board.ram_end:
        return "ram"
    raise TinyqiError(f"{name}: section at 0x{address:08x} (+{size}) is outside the {board.name} memory map; "
                      "was the ELF built for another board?")


def analyse_elf(elf_path: Path, board: BoardProfile) -> SizeReport:
    try:
        handle = open(elf_path, "rb")
    except OSError as exc:
        raise TinyqiError(f"{elf_path}: cannot read the firmware ELF ({exc.strerror}); build it first") from None
    with handle:
        elf = ELFFile(handle)
        sections = []
        flash = ram = 0
        for index, section in enumerate(elf.iter_sections()):
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC:
                continue
            if section["sh_size"] == 0 and section.name not in SECTION_ROLES:
                continue
            size, address = section["sh_size"], section["sh_addr"]
            region = region_of(board, address, size, section.name)
            has_contents = section["sh_type"] != "SHT_NOBITS"
            flash += size if has_contents else 0
            ram += size if region == "ram" else 0
            sections.append(SectionUse(section.name, region, address, size,
                                       SECTION_ROLES.get(section.name, "other"), largest_symbols(elf, index)))
    by_name = {section.name: section.bytes for section in sections}
    return SizeReport(
        board=board.name,
        flash_bytes=flash,
        ram_bytes=ram,
        flash_capacity=board.flash_bytes,
        ram_capacity=board.ram_bytes,
        model_and_runtime_flash_bytes=sum(by_name.get(name, 0) for name in MODEL_AND_RUNTIME),
        arena_bytes=by_name.get(".tq_arena", 0),
        sections=tuple(sections),
    )
