"""The harness firmware builds offline for both boards; its ELF layout and size report are what they claim.

Builds use the hand-written model in tests/fixtures/firmware_model (no codegen needed), a PlatformIO core prepared
in the session's temp dir, and a dead HTTP(S) proxy: any registry access would fail the build instead of stalling.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs_firmware
from elftools.elf.elffile import ELFFile

from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BOARDS, get_board
from tinyqi.firmware.build import REPO_ROOT, compile_firmware
from tinyqi.firmware.pio_core import default_core_dir, prepare_core, project_core_dir

FIXTURE_MODEL = REPO_ROOT / "tests" / "fixtures" / "firmware_model"

pytestmark = [pytest.mark.slow, needs_firmware]


@pytest.fixture(scope="module")
def built(tmp_path_factory, offline, core):
    """board name -> BuildResult of the fixture model (and profile=True for the nrf52840 under 'nrf52840-profile')."""
    out = tmp_path_factory.mktemp("firmware")
    results = {name: compile_firmware(FIXTURE_MODEL, get_board(name), out / name, core) for name in sorted(BOARDS)}
    results["nrf52840-profile"] = compile_firmware(FIXTURE_MODEL, get_board("nrf52840"), out / "profile", core,
                                                   profile=True)
    return results


def sections_of(elf_path: Path) -> dict[str, tuple[int, int]]:
    with open(elf_path, "rb") as handle:
        return {s.name: (s["sh_addr"], s["sh_size"]) for s in ELFFile(handle).iter_sections() if s.name}


def symbol_value(elf_path: Path, name: str) -> int:
    with open(elf_path, "rb") as handle:
        (symbol,) = ELFFile(handle).get_section_by_name(".symtab").get_symbol_by_name(name)
        return symbol["st_value"]


def words_at(elf_path: Path, address: int, count: int) -> list[int]:
    with open(elf_path, "rb") as handle:
        elf = ELFFile(handle)
        for section in elf.iter_sections():
            start = section["sh_addr"]
            if section["sh_type"] == "SHT_PROGBITS" and start <= address < start + section["sh_size"]:
                data = section.data()[address - start: address - start + 4 * count]
                return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
    raise AssertionError(f"no section holds 0x{address:08x}")


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_vector_table_is_first_in_flash(built, name):
    board, elf = get_board(name), built[name].elf
    address, size = sections_of(elf)[".isr_vector"]
    assert address == board.flash_origin and size == 16 * 4
    initial_sp, reset = words_at(elf, board.flash_origin, 2)
    assert initial_sp == symbol_value(elf, "__stack_top")
    assert board.ram_origin < initial_sp <= board.ram_end and initial_sp % 8 == 0
    assert reset == symbol_value(elf, "tq_reset_handler") | 1  # Thumb bit set


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_size_report_matches_arm_none_eabi_size(built, name):
    result = built[name]
    berkeley = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(result.elf)], capture_output=True, text=True,
                              check=True).stdout.splitlines()[1].split()
    text, data, bss = (int(field) for field in berkeley[:3])
    assert (result.flash_bytes, result.ram_bytes) == (text + data, data + bss)
    sysv = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(result.elf)], capture_output=True, text=True,
                          check=True).stdout
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+$", sysv, re.MULTILINE)}
    for section in result.breakdown.sections:
        assert sizes[section.name] == section.bytes, section.name


def test_linker_script_groups_the_model_by_role(built):
    sections = {s.name: s for s in built["nrf52840"].breakdown.sections}
    # tests/fixtures/firmware_model: weights 40 + 12 bytes, biases 4 x 4 + 3 x 4 bytes; arena TQ_MODEL_ARENA_BYTES;
    # golden inputs 4 x 8 + 4 x 2 bytes and outputs 4 x 3 bytes.
    assert sections[".tq_model_const"].bytes == 40 + 12 + 16 + 12
    assert {s.name for s in sections[".tq_model_const"].symbols} == {"dense0_weights", "dense0_bias",
                                                                     "dense1_weights", "dense1_bias"}
    assert sections[".tq_arena"].bytes == 32 and sections[".tq_arena"].region == "ram"
    assert sections[".tq_golden"].bytes == 32 + 8 + 12
    assert "tq_model_invoke" in {s.name for s in sections[".tq_model_code"].symbols}
    assert sections[".stack"].bytes == 4096
    report = built["nrf52840"].breakdown
    assert report.arena_bytes == 32 and report.model_and_runtime_flash_bytes >= 80 + 200


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_memory_map_comes_from_the_board_profile(built, name):
    board = get_board(name)
    memory = (built[name].elf.parent / "tinyqi_memory.ld").read_text()
    assert f"ORIGIN = 0x{board.flash_origin:08X}, LENGTH = 0x{board.flash_bytes:08X}" in memory
    assert f"ORIGIN = 0x{board.ram_origin:08X}, LENGTH = 0x{board.ram_bytes:08X}" in memory


def test_size_json_is_written(built):
    text = (built["nrf52840"].elf.parents[2] / "size.json").read_text()
    assert '"flash_bytes": %d' % built["nrf52840"].flash_bytes in text


def flash_image(elf: Path, out: Path) -> bytes:
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(out)], check=True)
    return out.read_bytes()


def test_same_sources_give_the_same_flash_image(built, core, tmp_path):
    again = compile_firmware(FIXTURE_MODEL, get_board("nrf52840"), tmp_path / "again", core)
    assert flash_image(again.elf, tmp_path / "a.bin") == flash_image(built["nrf52840"].elf, tmp_path / "b.bin")


def test_missing_model_sources_is_one_clear_error(built, core, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TinyqiError, match=r"pio run -e nrf52840: .*missing model_data.c, model_data.h"):
        compile_firmware(tmp_path / "empty", get_board("nrf52840"), tmp_path / "out", core)
    assert (tmp_path / "out" / "pio-run.log").is_file()


def test_a_clean_copy_elsewhere_builds_with_plain_pio_run(offline, tmp_path):
    """The repo's firmware files at another path, its core prepared as scripts/setup does, then nothing but
    `pio run -e nrf52840` in it: no PLATFORMIO_* variable, a fresh HOME (no ~/.platformio to fall back on) and a
    dead proxy, so only the core platformio.ini names can make it build."""
    clone = tmp_path / "elsewhere" / "clone"
    clone.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "platformio.ini", clone)
    shutil.copytree(REPO_ROOT / "firmware", clone / "firmware", ignore=shutil.ignore_patterns(".pio"))
    shutil.copytree(FIXTURE_MODEL, clone / "tests" / "fixtures" / "firmware_model")
    core = prepare_core(project_core_dir(clone))
    assert core == clone / ".pio" / "core"
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLATFORMIO_")}
    (tmp_path / "home").mkdir()
    run = subprocess.run([sys.executable, "-m", "platformio", "run", "-e", "nrf52840"],
                         env={**env, "HOME": str(tmp_path / "home")}, cwd=clone, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (clone / ".pio" / "build" / "nrf52840" / "firmware.elf").is_file()
    assert (core / "platforms").is_dir() and not (tmp_path / "home" / ".platformio" / "packages").exists()


def test_the_default_core_is_the_one_platformio_ini_names(monkeypatch):
    """What `tinyqi build` and scripts/setup-platformio prepare is where a plain `pio run` in the clone looks."""
    from platformio.project.config import ProjectConfig

    monkeypatch.delenv("TINYQI_PIO_CORE", raising=False)
    monkeypatch.delenv("PLATFORMIO_CORE_DIR", raising=False)
    monkeypatch.chdir(REPO_ROOT)
    assert Path(ProjectConfig(str(REPO_ROOT / "platformio.ini")).get("platformio", "core_dir")) == default_core_dir()


# The harness in the project's emulator (tinyqi.emulate): the ELF `tinyqi flash` uploads, unchanged.
FIXTURE_OUTPUTS = [(-34, 127, -92), (-27, 74, 26), (127, 24, 111), (127, -20, -18)]  # golden_data.c


def emulate(elf: Path):
    from tinyqi.emulate.run import run_firmware

    return run_firmware(elf, "nrf52840")


def test_harness_lines_in_emulation(built):
    result = emulate(built["nrf52840"].elf)
    assert [(v.index, v.outputs, v.ok) for v in result.vectors] == [(i, out, True)
                                                                     for i, out in enumerate(FIXTURE_OUTPUTS)]
    assert [v.predicted_class for v in result.vectors] == [1, 1, 0, 0]
    assert (result.done.vectors, result.done.mismatches) == (4, 0)
    assert result.done.cycles_total == sum(v.cycles for v in result.vectors) and result.vectors[0].cycles > 0
    assert result.layers == () and result.run.exit_code == 0
    assert result.run.uart == result.run.semihosting  # every line on UARTE0 and on semihosting


def test_profile_build_adds_layer_lines_for_vector_0(built):
    result = emulate(built["nrf52840-profile"].elf)
    assert [(line.vector, line.layer, line.name) for line in result.layers] == [(0, 0, "dense_0"), (0, 1, "dense_1")]
    assert all(line.cycles > 0 for line in result.layers)
    assert sum(line.cycles for line in result.layers) <= result.vectors[0].cycles
    assert result.done.mismatches == 0


def test_harness_reports_a_wrong_output(built, tmp_path):
    """Corrupt one golden byte in a copy of the ELF: that vector must print ok=0 and the run must fail."""
    elf = tmp_path / "corrupt.elf"
    shutil.copy(built["nrf52840"].elf, elf)
    data = bytearray(elf.read_bytes())
    with open(elf, "rb") as handle:
        section = ELFFile(handle).get_section_by_name(".tq_golden")
        offset = section["sh_offset"] + symbol_value(elf, "tq_golden_output") - section["sh_addr"]
    data[offset + 3 * 2 + 1] ^= 0x01  # vector 2, output 1
    elf.write_bytes(bytes(data))
    result = emulate(elf)
    assert [v.ok for v in result.vectors] == [True, True, False, True]
    assert result.done.mismatches == 1 and result.run.exit_code != 0
