"""The Cortex-M4 timing model (tinyqi/emulate/cycles.py) on assembled instruction sequences.

Expected cycles are written out from the sources in docs/emulation.md: the Cortex-M4 TRM's Table 3-1, its
load/store pairing rules (3.3.2) and its FPU instruction table; P (taken-branch refill) is added per block.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tinyqi.emulate.cycles import BlockCoster, TimingModel

FLASH = range(0, 1 << 20)


@pytest.fixture(scope="module")
def assemble(tmp_path_factory):
    """assemble(source, address) -> machine code bytes for Cortex-M4F Thumb-2."""
    tools = [shutil.which(f"arm-none-eabi-{tool}") for tool in ("as", "objcopy")]
    if None in tools:
        pytest.skip("arm-none-eabi binutils are not installed (apt-get install gcc-arm-none-eabi)")
    work = tmp_path_factory.mktemp("asm")

    def run(source: str) -> bytes:
        (work / "a.s").write_text(".syntax unified\n.thumb\n" + source + "\n")
        subprocess.run([tools[0], "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", str(work / "a.s"), "-o",
                        str(work / "a.o")], check=True, capture_output=True)
        subprocess.run([tools[1], "-O", "binary", "-j", ".text", str(work / "a.o"), str(work / "a.bin")],
                       check=True)
        return (work / "a.bin").read_bytes()

    return run


def cycles_of(code: bytes, model: TimingModel = TimingModel(), address: int = 0x100) -> list[int]:
    return [insn.cycles for insn in BlockCoster(model, FLASH).decode(code, address)]


@pytest.mark.parametrize("source, expected", [
    # LDR 2; a following load/store whose address does not use the first load's result pipelines: 1
    ("ldr r0, [r1]\n ldr r2, [r3]", [2, 1]),
    ("ldr r0, [r1]\n ldr r2, [r0]", [2, 2]),                 # address uses the loaded value: no pipelining
    ("ldr r0, [r1]\n str r0, [r2, #4]", [2, 1]),             # store of the loaded value pipelines
    ("ldr r0, [r1]\n str r2, [r3, r4]", [2, 1]),             # register-offset STR pipelines behind an LDR
    ("str r0, [r1, r2]\n ldr r3, [r4]", [2, 2]),             # nothing pipelines after a store
    ("str r0, [r1, #8]\n str r2, [r3, #4]", [1, 1]),         # STR Rx,[Ry,#imm] is always one cycle
    ("adds r1, #4\n ldr r0, [r1]", [1, 3]),                  # address from the preceding ALU result: +1
    ("adds r2, #4\n ldr r0, [r1]", [1, 2]),
    ("ldr r0, [r1]\n ldrd r2, r3, [r4]", [2, 3]),            # LDRD 1+N, never pipelined
    ("ldrb r0, [r1], #1\n ldrsh r2, [r3, #2]!", [2, 1]),     # byte/halfword forms, writeback to another base
])
def test_load_store_timings(assemble, source, expected):
    assert cycles_of(assemble(source)) == expected


def test_multiplies_are_single_cycle_and_divide_uses_the_model_bound(assemble):
    code = assemble("mul r0, r1, r2\n mla r0, r1, r2, r3\n mls r0, r1, r2, r3\n smull r0, r1, r2, r3\n"
                    "umull r0, r1, r2, r3\n smlal r0, r1, r2, r3\n umlal r0, r1, r2, r3\n smlad r0, r1, r2, r3\n"
                    "smlabb r0, r1, r2, r3\n sxtb16 r0, r1\n sdiv r0, r1, r2\n udiv r0, r1, r2")
    assert cycles_of(code) == [1] * 10 + [12, 12]
    assert cycles_of(code, TimingModel(divide=2))[-2:] == [2, 2]


def test_multiple_transfers_cost_one_plus_n(assemble):
    code = assemble("push {r4-r7, lr}\n pop {r4, pc}\n ldm r0!, {r1-r3}\n stmdb sp!, {r4-r11}\n ldr r0, [r1]")
    assert cycles_of(code) == [6, 3, 4, 9, 2]              # the P of POP {..,pc} is added when it branches


def test_control_instructions(assemble):
    code = assemble("movs r0, #1\n it eq\n moveq r1, #2\n add.w r0, r0, #1\n it ne\n movne r1, #3\n"
                    "tbb [pc, r0]\n")
    # IT folds onto a preceding 16-bit instruction (0) but not onto a 32-bit one (1); TBB 2 (+P when taken)
    assert cycles_of(code) == [1, 0, 1, 1, 1, 1, 2]
    assert cycles_of(assemble("it eq\n moveq r0, #1")) == [1, 1]   # first in its block: nothing to fold onto
    assert cycles_of(assemble("dmb\n dsb\n isb\n bkpt 0xab\n b .")) == [1, 1, 3, 0, 1]


def test_fpu_timings(assemble):
    code = assemble("vadd.f32 s0, s1, s2\n vmul.f32 s0, s1, s2\n vmla.f32 s0, s1, s2\n vfma.f32 s0, s1, s2\n"
                    "vdiv.f32 s0, s1, s2\n vsqrt.f32 s0, s1\n vldr s0, [r0]\n vldr d0, [r0]\n vstr s0, [r0, #4]\n"
                    "vpush {s16-s19}\n vpush {d8-d9}\n vldmia r0!, {s0-s2}\n vmov s0, r0\n vmov r0, r1, d0\n"
                    "vmov.f32 s0, s1\n vmov.f32 s0, #1.0\n vcvt.s32.f32 s0, s0\n vmrs APSR_nzcv, fpscr")
    assert cycles_of(code) == [1, 1, 3, 3, 14, 14, 2, 3, 2, 5, 5, 4, 2, 2, 1, 1, 1, 1]


def test_block_refill_depends_on_the_branch_target(assemble):
    coster = BlockCoster(TimingModel(), FLASH)
    wide, narrow = assemble("add.w r0, r0, #1"), assemble("adds r0, #1")
    assert coster.block(wide, 0x100).refill == 2          # P = 2
    assert coster.block(wide, 0x102).refill == 3          # 32-bit target at addr % 4 == 2: one more fetch
    assert coster.block(narrow, 0x102).refill == 2
    slow_flash = BlockCoster(TimingModel(flash_wait_states=2), FLASH)
    assert slow_flash.block(narrow, 0x100).refill == 4    # the refill fetch waits for flash
    assert slow_flash.block(narrow, 0x2000_0000).refill == 2


def test_block_records_cycles_before_each_instruction(assemble):
    block = BlockCoster(TimingModel(), FLASH).block(assemble("ldr r0, [r1]\n ldr r2, [r3]\n muls r0, r2\n"), 0x200)
    assert (block.count, block.cycles) == (3, 4)
    assert block.before == {0: 0, 2: 2, 4: 3}
    assert [offset for offset, _ in block.accesses] == [0, 2]
    assert block.first_fpu is None
