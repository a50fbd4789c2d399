"""Emulation engines on small test firmware (tests/fixtures/emu/), compiled here with arm-none-eabi-gcc.

References: the harness outputs are recomputed in numpy from the same generator and arithmetic; the probe cycle
counts are hand-computed from the Cortex-M4 TRM timings (docs/emulation.md); faults must name the function.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi.emulate.output import parse_output
from tinyqi.emulate.peripherals import (DEMCR, DHCSR, DWT_CTRL, DWT_CYCCNT, LPUART1_ISR, LPUART1_TDR, RCC_CFGR,
                                        RCC_CR, Stm32l4Peripherals, SystemControlSpace)
from tinyqi.emulate.qemu_engine import QemuEngine
from tinyqi.emulate.renode_engine import RenodeEngine, renode_available, write_suite
from tinyqi.emulate.result import STOP_BUDGET, STOP_EXIT, STOP_SLEEP
from tinyqi.emulate.run import resolve_elf, run_firmware, target_for_board
from tinyqi.emulate import unicorn_engine
from tinyqi.emulate.unicorn_engine import UnicornEngine
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import NRF52840
from tinyqi.firmware.build import FirmwareLayout, default_out_dir

FIXTURES = Path(__file__).parent / "fixtures" / "emu"
CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2", "-g", "-ffreestanding",
          "-nostdlib", "-Wall", "-Wextra", "-Werror"]
TARGET = target_for_board(NRF52840)
NEEDS_QEMU = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm is not installed")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """build(name, main_source, *defines) -> ELF path; skips when the cross compiler is missing."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc is not installed (apt-get install gcc-arm-none-eabi)")
    out = tmp_path_factory.mktemp("emu-elf")

    def compile_elf(name: str, sources: list[str], *defines: str) -> Path:
        elf = out / f"{name}.elf"
        if not elf.exists():
            files = [str(FIXTURES / s) for s in ["startup.c", "tq_io.c", *sources]]
            subprocess.run([gcc, *CFLAGS, *(f"-D{d}" for d in defines), "-T", str(FIXTURES / "link.ld"), *files,
                            "-lgcc", "-o", str(elf)], check=True, capture_output=True)
        return elf

    return compile_elf


@pytest.fixture(scope="module")
def harness(build):
    return build("harness", ["harness.c"])


def reference_outputs(vectors=4, n_in=16, n_hidden=8, n_out=4):
    """The fixture's generator and two int8 layers, in numpy: the independent reference for the firmware lines."""
    state = 12345
    values = []
    for _ in range(n_hidden * n_in + n_out * n_hidden + vectors * n_in):
        state = (state * 1103515245 + 12345) % 2**32
        values.append(np.int8(np.uint8((state >> 16) & 0xFF)))
    values = np.array(values, dtype=np.int64)
    w1 = values[:n_hidden * n_in].reshape(n_hidden, n_in)
    w2 = values[n_hidden * n_in:n_hidden * n_in + n_out * n_hidden].reshape(n_out, n_hidden)
    x = values[-vectors * n_in:].reshape(vectors, n_in)
    hidden = np.clip((x @ w1.T) >> 7, -128, 127)
    return np.clip((hidden @ w2.T) >> 7, -128, 127)


def test_unicorn_captures_uart_and_semihosting(harness):
    run = UnicornEngine(TARGET).run(harness)
    assert run.stop_reason == STOP_EXIT and run.exit_code == 0
    assert run.uart and run.uart == run.semihosting      # the same lines through UARTE0 EasyDMA and SYS_WRITE0
    assert run.uart.splitlines()[-1].startswith("TQ_DONE vectors=4 mismatches=0 ")
    assert run.instructions > 1000 and run.cycles > run.instructions


def test_run_firmware_matches_numpy_reference(harness):
    result = run_firmware(harness, NRF52840)
    expected = reference_outputs()
    assert [v.outputs for v in result.vectors] == [tuple(row) for row in expected.tolist()]
    assert [v.predicted_class for v in result.vectors] == [int(np.argmax(row)) for row in expected]
    assert result.bit_exact and result.mismatches == 0
    # The firmware times each layer and the whole inference with DWT CYCCNT: the parts add up to the whole.
    assert list(result.layer_cycles) == ["fc1", "fc2"]
    assert sum(result.layer_cycles.values()) == result.vectors[0].cycles
    assert result.mean_cycles == pytest.approx(np.mean([v.cycles for v in result.vectors]))
    assert result.latency_seconds == pytest.approx(result.mean_cycles / 64e6)


def test_mismatch_is_reported(build):
    elf = build("harness-broken", ["harness.c"], "TQ_BREAK_VECTOR=2")
    result = run_firmware(elf, NRF52840)
    assert result.mismatches == 1 and not result.bit_exact
    assert [v.ok for v in result.vectors] == [True, True, False, True]
    assert result.run.exit_code == 1


# Hand-computed from the TRM timings (docs/emulation.md), instruction by instruction; t0 is the CYCCNT read.
PROBE_CYCLES = {
    # ldr t0 2 | loop, 3 iterations: (ldr 1 pipelined behind t0's ldr | 2 later) + ldr 1 (pipelined) + muls 1
    # + mla 1 + subs 1 + bne 1, taken twice (+P = 2 each) | sdiv 12 (upper bound) + str [#imm] 1 + adds 1
    # + ldr 2+1 (address from the preceding adds) + ldrd 3
    "loads": 2 + (6 + 2) + (7 + 2) + 7 + 12 + 1 + 1 + 3 + 3,
    # ldr t0 2 | b 1+P with P = 2+1 (32-bit target at addr % 4 == 2) | 2 iterations: add.w 1 + cmp 1
    # + it 0 (folded behind 16-bit cmp) + moveq 1 + subs 1 + bne 1, taken once (+3)
    "branches": 2 + (1 + 3) + (5 + 3) + 5,
    # ldr t0 2 | stmia 1+4 | ldmdb 1+4 | vldr 2 | vldr 2 | vmla 3 | vdiv 14 | vmov r,s 2 | smull 1 | smlad 1
    "multiple": 2 + 5 + 5 + 2 + 2 + 3 + 14 + 2 + 1 + 1,
}


def test_dwt_cyccnt_gives_firmware_the_model_cycle_counts(build):
    elf = build("probe", ["probe.c", "probe.S"])
    run = UnicornEngine(TARGET).run(elf)
    measured = {m[1]: int(m[2]) for m in re.finditer(r"PROBE name=(\w+) cycles=(\d+)", run.uart)}
    assert measured == PROBE_CYCLES


@pytest.mark.parametrize("define, message", [
    ("TQ_FAULT_UNMAPPED", r"read of unmapped address 0x30000000 at pc 0x[0-9a-f]{8} \(tq_faulty_access\+0x4\)"),
    ("TQ_FAULT_UDF", r"undefined instruction at pc 0x[0-9a-f]{8} \(tq_faulty_access\)"),
    ("TQ_FAULT_UARTE_FROM_FLASH", r"UARTE0 STARTTX with TXD.PTR 0x[0-9a-f]{8} outside RAM at pc 0x[0-9a-f]{8} "
                                  r"\(tq_faulty_access\+0x[0-9a-f]+\)"),
    ("TQ_FAULT_FLASH_WRITE", r"write to flash at 0x00001000 at pc 0x[0-9a-f]{8} \(tq_faulty_access\+0x[0-9a-f]+\)"),
    ("TQ_FAULT_SVC", r"SVC at pc 0x[0-9a-f]{8} \(tq_faulty_access\)"),
])
def test_unicorn_fault_is_one_line_naming_pc_and_function(build, define, message):
    elf = build(define.lower(), ["fault.c"], define)
    with pytest.raises(TinyqiError, match=message) as caught:
        UnicornEngine(TARGET).run(elf)
    assert "\n" not in str(caught.value)


def test_fpu_use_before_cpacr_enable_is_a_fault(build):
    elf = build("no-fpu-enable", ["harness.c"], "TQ_SKIP_FPU_ENABLE")
    with pytest.raises(TinyqiError, match=r"FPU instruction executed before CPACR enables CP10/CP11 at pc "
                                          r"0x[0-9a-f]{8} \(main\+0x[0-9a-f]+\)"):
        UnicornEngine(TARGET).run(elf)


def test_sleeping_firmware_ends_the_run(build):
    elf = build("harness-wfi", ["harness.c"], "TQ_END_IN_WFI")
    run = UnicornEngine(TARGET).run(elf)
    assert run.stop_reason == STOP_SLEEP and run.exit_code is None
    assert run_firmware(elf, NRF52840).bit_exact


def test_budget_stops_the_run(harness):
    run = UnicornEngine(TARGET, budget=2000).run(harness)
    assert run.stop_reason == STOP_BUDGET and run.exit_code is None
    with pytest.raises(TinyqiError, match="before a TQ_DONE line.*raise --budget"):
        run_firmware(harness, NRF52840, budget=2000)


def test_unicorn_speed(build, monkeypatch):
    elf = build("harness-large", ["harness.c"], "VECTORS=6", "IN=256", "HID=64")
    run = UnicornEngine(TARGET).run(elf)
    assert run.instructions > 1_000_000
    # The same emulation with an empty block hook: the ratio is the cost of cycle counting, whatever else the
    # (shared) machine is doing. Block-level counting measured 1.4x-2.3x here; per-instruction hooks cost ~5x.
    monkeypatch.setattr(unicorn_engine._Run, "_block_hook", lambda self: lambda *args: None)
    bare = UnicornEngine(TARGET).run(elf)
    overhead = run.cpu_seconds / bare.cpu_seconds
    print(f"unicorn engine: {run.instructions} instructions in {run.seconds:.2f} s wall, {run.cpu_seconds:.2f} s "
          f"CPU = {run.instructions_per_cpu_second / 1e6:.2f} M instructions per CPU second; "
          f"{overhead:.2f}x the time of the same run with an empty block hook")
    assert overhead < 3.5


def _without_cycles(text: str) -> list[str]:
    return [re.sub(r"cycles(_total)?=\d+", r"cycles\1=*", line) for line in text.splitlines()]


@NEEDS_QEMU
def test_qemu_prints_the_same_lines_as_unicorn(harness):
    unicorn, qemu = UnicornEngine(TARGET).run(harness), QemuEngine(TARGET, timeout=60).run(harness)
    assert qemu.exit_code == 0 and qemu.cycles is None
    assert _without_cycles(qemu.text) == _without_cycles(unicorn.text)
    assert "cycles=0 " in qemu.text          # mps2-an386 has no DWT: the firmware reads CYCCNT as 0


@NEEDS_QEMU
def test_qemu_result_reports_no_cycles(harness):
    result = run_firmware(harness, NRF52840, engine="qemu", timeout=60)
    assert result.bit_exact and not result.cycle_model and result.mean_cycles is None


@NEEDS_QEMU
@pytest.mark.parametrize("define, message", [
    ("TQ_FAULT_UNMAPPED", r"HardFault after Data Abort at address 0x30000000 at pc 0x[0-9a-f]{8} "
                          r"\(tq_faulty_access\+0x4\)"),
    ("TQ_FAULT_UDF", r"HardFault after Undefined Instruction at pc 0x[0-9a-f]{8} \(tq_faulty_access\)"),
])
def test_qemu_fault_names_pc_and_function(build, define, message):
    with pytest.raises(TinyqiError, match=message):
        QemuEngine(TARGET, timeout=30).run(build(define.lower(), ["fault.c"], define))


@NEEDS_QEMU
def test_engines_agree_on_a_disabled_fpu(build):
    elf = build("no-fpu-enable", ["harness.c"], "TQ_SKIP_FPU_ENABLE")
    pcs = []
    for engine in (UnicornEngine(TARGET), QemuEngine(TARGET, timeout=30)):
        with pytest.raises(TinyqiError) as caught:
            engine.run(elf)
        pcs.append(re.search(r"at pc (0x[0-9a-f]{8})", str(caught.value)).group(1))
    assert pcs[0] == pcs[1]


def test_renode_suite_follows_renode_conventions(harness, tmp_path):
    robot = write_suite(harness, TARGET, tmp_path / "a", timeout=90)
    again = write_suite(harness, TARGET, tmp_path / "a", timeout=90)
    assert robot.read_bytes() == again.read_bytes()
    text = robot.read_text()
    assert "Resource          ${RENODEKEYWORDS}" in text
    assert "Create Terminal Tester    ${UART}    timeout=90" in text and "${UART}           sysbus.uart0" in text
    assert "Wait For Line On Uart     TQ_DONE vectors.(\\\\d+) mismatches.(\\\\d+)" in text
    resc = (tmp_path / "a" / "tinyqi.resc").read_text()
    assert f"sysbus LoadELF @{harness.resolve()}" in resc and "PerformanceInMips 64" in resc
    assert "sysbus.uart0 CreateFileBackend" in resc
    repl = (tmp_path / "a" / "nrf52840.repl").read_text()
    assert "@@" not in repl and not any("ApplySVD" in line for line in repl.splitlines() if not line.startswith("//"))
    assert "dwt: Miscellaneous.DWT @ sysbus 0xE0001000" in repl and "frequency: 64000000" in repl
    assert "easyDMA: true" in repl and "size: 0x40000" in repl


@pytest.mark.skipif(renode_available(), reason="Renode is installed: the missing-Renode message cannot be shown")
def test_renode_engine_without_renode_is_one_clear_line(harness):
    with pytest.raises(TinyqiError, match="renode: `renode` and `renode-test` are not on PATH"):
        RenodeEngine(TARGET).run(harness)
    assert_one_line_error(run_cli("emulate", "--engine", "renode", str(harness)), "not on PATH")


@pytest.mark.skipif(not renode_available(), reason="Renode (renode, renode-test) is not installed")
def test_renode_runs_the_harness(harness):
    result = run_firmware(harness, NRF52840, engine="renode", timeout=120)
    assert [v.outputs for v in result.vectors] == [tuple(row) for row in reference_outputs().tolist()]


def test_cli_emulate_prints_results_and_energy(harness):
    result = run_cli("emulate", str(harness), "--board", "nrf52840")
    assert result.returncode == 0, result.stderr
    assert "mismatches: 0" in result.stdout and "M instructions/s" in result.stdout
    assert re.search(r"energy: \d+\.\d+ uJ per inference", result.stdout)
    assert "days on a CR2032" in result.stdout


def test_cli_emulate_fault_is_one_line(build):
    elf = build("tq_fault_udf", ["fault.c"], "TQ_FAULT_UDF")
    assert_one_line_error(run_cli("emulate", str(elf)), "undefined instruction", "tq_faulty_access")


def test_resolve_elf_finds_the_harness_tinyqi_build_made(harness, tmp_path):
    layout = FirmwareLayout(default_out_dir(tmp_path / "run", NRF52840), "nrf52840")
    layout.elf.parent.mkdir(parents=True)
    shutil.copy(harness, layout.elf)
    assert resolve_elf(tmp_path / "run", "nrf52840") == layout.elf
    assert resolve_elf(layout.elf, "nrf52840") == layout.elf
    with pytest.raises(TinyqiError, match="no stm32l4r5 firmware built here.*tinyqi build --board stm32l4r5"):
        resolve_elf(tmp_path / "run", "stm32l4r5")


def test_output_parser_rejects_garbled_lines():
    good = "TQ v=0 class=1 out=-3,4 cycles=10 ok=1\nTQL v=0 layer=0 name=conv 1 cycles=4\n" \
           "TQ_DONE vectors=1 mismatches=0 cycles_total=10\n"
    parsed = parse_output("banner\n" + good, "test")
    assert parsed.vectors[0].outputs == (-3, 4) and parsed.layers[0].name == "conv 1"
    with pytest.raises(TinyqiError, match="line 1 is malformed"):
        parse_output("TQ v=0 class=1 out= cycles=10 ok=1\n", "test")
    with pytest.raises(TinyqiError, match="output is incomplete"):
        parse_output(good.replace("vectors=1", "vectors=2"), "test")


def test_dwt_counts_only_when_enabled_and_from_the_written_value():
    clock = {"now": 100}
    scs = SystemControlSpace(lambda _address: clock["now"])
    assert scs.read(DHCSR, 4) & 1                                # C_DEBUGEN: the emulator answers semihosting
    scs.write(DWT_CTRL, 4, 1)
    clock["now"] = 150
    assert scs.read(DWT_CYCCNT, 4) == 0                          # DEMCR.TRCENA still clear: not counting
    scs.write(DEMCR, 4, 1 << 24)
    clock["now"] = 190
    assert scs.read(DWT_CYCCNT, 4) == 40
    scs.write(DWT_CYCCNT, 4, 1000)
    clock["now"] = 200
    assert scs.read(DWT_CYCCNT, 4) == 1010 and scs.read(DWT_CYCCNT + 1, 1) == 1010 >> 8
    scs.write(DWT_CTRL, 4, 0)
    clock["now"] = 500
    assert scs.read(DWT_CYCCNT, 4) == 1010


def test_stm32l4_model_reports_clocks_ready_and_collects_lpuart_bytes():
    model = Stm32l4Peripherals()
    model.write(RCC_CR, 4, (1 << 8) | (1 << 24))                 # HSION, PLLON
    assert model.read(RCC_CR, 4) == (1 << 8) | (1 << 10) | (1 << 24) | (1 << 25)
    model.write(RCC_CFGR, 4, 3)                                  # SW = PLL
    assert model.read(RCC_CFGR, 4) & 0xC == 0xC                  # SWS = PLL
    assert model.read(LPUART1_ISR, 4) & 0xC0 == 0xC0             # TXE and TC
    for byte in b"TQ\n":
        model.write(LPUART1_TDR, 4, byte)
    assert model.uart == bytearray(b"TQ\n")
