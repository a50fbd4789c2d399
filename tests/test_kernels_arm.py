"""The Cortex-M4 build of the runtime (DSP path: SXTB16 + SMLAD) gives TFLM's outputs too.

The runtime and a generated model are cross-compiled with arm-none-eabi-gcc for the nRF52840's core and run in
Unicorn (a bare function call: no startup code, no peripherals), then compared with TFLM on random vectors.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from test_kernels import (image_mul_concat, make_model_dir, pruned_conv2d, pruned_edge_convs, pruned_two_input,
                          single_channel_convs)

from tinyqi import csr
from tinyqi.tflite_model import load_tflite

ARM_CC = "arm-none-eabi-gcc"
ARCH = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
FLASH, RAM, RAM_SIZE = 0x00000000, 0x20000000, 256 * 1024
VECTORS = 40
RETURN_ADDRESS = 0x000FFF00  # inside mapped flash, never executed: the emulation stops when tq_run returns here

pytestmark = pytest.mark.skipif(shutil.which(ARM_CC) is None, reason=f"{ARM_CC} not installed (Debian "
                                "gcc-arm-none-eabi)")

LINKER_SCRIPT = f"""MEMORY {{
  FLASH (rx) : ORIGIN = {FLASH:#x}, LENGTH = 1M
  RAM (rwx) : ORIGIN = {RAM:#x}, LENGTH = 256K
}}
SECTIONS {{
  .text : {{ *(.text*) *(.rodata*) }} > FLASH
  .data : {{ *(.data*) }} > RAM
  .bss : {{ *(.bss*) *(COMMON) }} > RAM
}}
"""

HARNESS = """#include <string.h>
#include "model_data.h"
#define VECTORS %(vectors)d
static const int input_sizes[TQ_MODEL_INPUT_COUNT] = {%(sizes)s};
int8_t tq_inputs[VECTORS * %(input_bytes)d];
int8_t tq_outputs[VECTORS * TQ_MODEL_OUTPUT_SIZE];
void tq_run(void)
{
    const int8_t *in = tq_inputs;
    for (int v = 0; v < VECTORS; ++v) {
        for (int k = 0; k < TQ_MODEL_INPUT_COUNT; ++k) {
            memcpy(tq_model_input(k), in, (size_t)input_sizes[k]);
            in += input_sizes[k];
        }
        tq_model_invoke();
        memcpy(tq_outputs + v * TQ_MODEL_OUTPUT_SIZE, tq_model_output(), TQ_MODEL_OUTPUT_SIZE);
    }
}
"""


def cross_compile(c_dir, input_sizes, optimisation: str = "-O2") -> tuple:
    (c_dir / "harness.c").write_text(HARNESS % {"vectors": VECTORS, "sizes": ", ".join(map(str, input_sizes)),
                                                "input_bytes": sum(input_sizes)})
    return link_with_runtime(c_dir, [c_dir / "model_data.c", c_dir / "harness.c"], optimisation)


def link_with_runtime(c_dir, sources, optimisation: str = "-O2"):
    """`sources` and the whole runtime, cross-compiled for the Cortex-M4F, entry point tq_run()."""
    from tinyqi.codegen import runtime_dir

    runtime = runtime_dir()
    (c_dir / "link.ld").write_text(LINKER_SCRIPT)
    elf = c_dir / "model.elf"
    cmd = [ARM_CC, *ARCH, "-std=c99", optimisation, "-Wall", "-Werror", "-ffunction-sections", "-fdata-sections",
           f"-I{runtime / 'include'}", f"-I{runtime / 'src'}", f"-I{c_dir}",
           *map(str, sorted((runtime / "src").glob("*.c"))), *map(str, sources), "-nostartfiles",
           "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", f"-T{c_dir / 'link.ld'}", "-e", "tq_run",
           "-o", str(elf)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return elf


def symbols(elf) -> dict:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_size"]) for s in table.iter_symbols() if s.name}


def run_on_cortex_m4(elf, blob: bytes, output_bytes: int) -> bytes:
    """Write `blob` to tq_inputs, call tq_run() and return the first `output_bytes` of tq_outputs."""
    from elftools.elf.elffile import ELFFile
    from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
    from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_SP

    sym = symbols(elf)
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.mem_map(FLASH, 1 << 20)
    uc.mem_map(RAM, RAM_SIZE)
    with open(elf, "rb") as f:
        for segment in ELFFile(f).iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]:
                uc.mem_write(segment["p_vaddr"], segment.data())
    uc.mem_write(sym["tq_inputs"][0], blob)
    uc.reg_write(UC_ARM_REG_SP, RAM + RAM_SIZE)
    uc.reg_write(UC_ARM_REG_LR, RETURN_ADDRESS | 1)
    uc.emu_start(sym["tq_run"][0] | 1, RETURN_ADDRESS, count=200_000_000)
    return bytes(uc.mem_read(sym["tq_outputs"][0], output_bytes))


def uses_dsp_instructions(elf) -> bool:
    from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs
    from elftools.elf.elffile import ELFFile

    address, size = symbols(elf)["tq_dot2x2_s8"]
    with open(elf, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        start = (address & ~1) - text["sh_addr"]
        code = text.data()[start : start + size]
    mnemonics = {i.mnemonic for i in Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS).disasm(code, address & ~1)}
    return {"smlad", "sxtb16"} <= mnemonics


# name: (model builder, CSR kernels, optimisation). -O0 keeps r7 as frame pointer: the runtime's C loops instead of
# its inline assembly (tq_dot_s8.c), which must build and give the same outputs.
CASES = {"pruned_two_input/dense": (pruned_two_input, False, "-O2"),
         "pruned_two_input/csr": (pruned_two_input, True, "-O2"),
         "image_mul_concat/dense": (image_mul_concat, False, "-O2"),
         "single_channel_convs/dense": (single_channel_convs, False, "-O2"),
         "single_channel_convs/dense-O0": (single_channel_convs, False, "-O0"),
         "pruned_two_input/dense-Os": (pruned_two_input, False, "-Os"),
         "pruned_conv2d/csr": (pruned_conv2d, True, "-O2"),
         "pruned_edge_convs/csr": (pruned_edge_convs, True, "-O2"),
         "pruned_edge_convs/csr-O0": (pruned_edge_convs, True, "-O0"),
         "pruned_edge_convs/csr-Os": (pruned_edge_convs, True, "-Os")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cortex_m4_build_matches_tflm(case, tmp_path):
    pytest.importorskip("unicorn")
    from tinyqi import convert
    from tinyqi.codegen import generate_program

    builder, use_csr, optimisation = CASES[case]
    model_dir, xs = make_model_dir(tmp_path / "model", builder, with_float=False)
    if use_csr:
        tflite = model_dir / "model_int8.tflite"
        csr.write_tables(tflite, csr.tables_from_tflite(load_tflite(tflite), max_density=0.5))
    _, program = generate_program(model_dir, tmp_path / "c", use_csr=use_csr)
    assert program.csr_layers > 0 if use_csr else program.csr_layers == 0
    model = load_tflite(model_dir / "model_int8.tflite")
    q = convert.quantize_inputs(model, [x[:VECTORS] for x in xs])
    elf = cross_compile(tmp_path / "c", program.input_sizes, optimisation)
    if not use_csr and optimisation != "-O0":  # a CSR-only build has no dense dot products left to check
        assert uses_dsp_instructions(elf)
    blob = np.concatenate([a.reshape(VECTORS, -1) for a in q], axis=1).astype(np.int8).tobytes()
    out = run_on_cortex_m4(elf, blob, VECTORS * program.output_size)
    np.testing.assert_array_equal(np.frombuffer(out, dtype=np.int8).reshape(VECTORS, -1), convert.run_tflm(
        (model_dir / "model_int8.tflite").read_bytes(), q))


EXP_HARNESS = """#include "tq_internal.h"
#define COUNT %(count)d
float tq_inputs[COUNT];
float tq_outputs[COUNT];
void tq_run(void)
{
    for (int i = 0; i < COUNT; ++i) {
        tq_outputs[i] = tq_exp_f32(tq_inputs[i]);
    }
}
"""
# glibc's FMA build of expf (chosen on x86-64 CPUs with FMA) rounds these two inputs differently from its generic
# build, which tq_exp_f32 follows (tq_exp_f32.c); every other float input gives the same bits in both.
EXPF_FMA_ONLY_INPUTS = (0x4202422F, 0xC27C65D9)


def exp_inputs() -> np.ndarray:
    """Bit patterns spread over all 2^32 (signs, NaNs, infinities, subnormals), a sweep of exp's finite range
    (softmax feeds it x <= 0) and its edges: 16K inputs and their outputs take 128 KiB of the 256 KiB RAM."""
    count = 1 << 13
    spread = (np.arange(count, dtype=np.uint64) * ((1 << 32) // count + 1)).astype(np.uint32).view(np.float32)
    sweep = np.linspace(-104.0, 89.0, count, dtype=np.float32)
    edges = np.array([float.fromhex("0x1.62e42ep6"), float.fromhex("-0x1.9fe368p6"), -0.0, 0.0, np.inf, -np.inf,
                      np.nan], dtype=np.float32)
    x = np.concatenate([spread, sweep, np.nextafter(edges, np.float32(0)), np.nextafter(edges, np.inf), edges])
    return x[~np.isin(x.view(np.uint32), EXPF_FMA_ONLY_INPUTS)]


def test_cortex_m4_exp_is_the_hosts_expf(tmp_path):
    """tq_exp_f32 on the M4F (its double arithmetic in soft-float) returns glibc's expf, bit for bit: the exp of
    TFLM's Python interpreter, which newlib's expf for this FPU misses by 1 ulp on ~9% of softmax inputs."""
    pytest.importorskip("unicorn")
    import ctypes

    x = exp_inputs()
    (tmp_path / "exp.c").write_text(EXP_HARNESS % {"count": len(x)})
    elf = link_with_runtime(tmp_path, [tmp_path / "exp.c"])
    out = np.frombuffer(run_on_cortex_m4(elf, x.tobytes(), 4 * len(x)), dtype=np.uint32)
    expf = ctypes.CDLL("libm.so.6").expf
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    expected = np.array([expf(float(v)) for v in x], dtype=np.float32).view(np.uint32)
    different = np.flatnonzero(out != expected)
    assert different.size == 0, [(f"{x[i]!r}", hex(out[i]), hex(expected[i])) for i in different[:5]]


ADD_HARNESS = """#include <string.h>
#include "tinyqi.h"
int32_t tq_inputs[11];
int8_t tq_outputs[256 * 256];
static int8_t a[256], b[256];
/* tq_add_s8 on every pair of int8 inputs: row j holds input1 = -128..127 and input2 = j - 128. */
void tq_run(void)
{
    const int32_t *q = tq_inputs;
    const tq_add_s8_params_t p = {.shape = {.size = 256, .elementwise = 1, .dims = {1, 1, 1, 256},
                                            .stride1 = {0, 0, 0, 1}, .stride2 = {0, 0, 0, 1}},
                                  .input1_offset = q[0], .input2_offset = q[1], .left_shift = 20,
                                  .input1_multiplier = q[2], .input1_shift = q[3], .input2_multiplier = q[4],
                                  .input2_shift = q[5], .output_multiplier = q[6], .output_shift = q[7],
                                  .output_offset = q[8], .act = {.min = (int8_t)q[9], .max = (int8_t)q[10]}};
    for (int i = 0; i < 256; ++i) {
        a[i] = (int8_t)(i - 128);
    }
    for (int j = 0; j < 256; ++j) {
        memset(b, j - 128, sizeof b);
        tq_add_s8(&p, a, b, tq_outputs + 256 * j);
    }
}
"""

# (input1_offset, input2_offset, input1 multiplier and shift, input2's, output's, output_offset, act min, max).
# TFLM lifts by 2^20, so a rounding of a lift shows in the output only where the sum sits on an output rounding
# boundary: these sets (found among random ones) meet such pairs, and a lift that drops a rounding or a rounding
# shift's sign correction changes 1 to 23 of their outputs. Then the ECG model's ADD (both inputs' multiplier 2^30,
# shift 0), a narrower clamp and an output shift of -30. Last, input rescales TFLM never makes (1/2 is the larger
# one's, the other's is below it) for tq_add_s8's general lift: no shift, and a left shift.
ADD_CASES = [(-90, 66, 1608873208, -9, 1619317073, -8, 1218157354, -10, 81, -128, 127),
             (47, 22, 1280960027, -3, 1475362225, -11, 1082611241, -15, -32, -128, 127),
             (-71, -43, 1 << 30, 0, 2019812455, -8, 1531432987, -15, 73, -128, 127),
             (113, -118, 1 << 30, 0, 1873831967, -12, 1644764433, -13, -3, -128, 127),
             (-86, 56, 1954624772, -2, 1 << 30, 0, 1706256303, -12, 53, -128, 127),
             (-13, 23, 1 << 30, 0, 1557045919, -1, 1074207997, -18, 13, -128, 127),
             (0, 5, 1 << 30, 0, 1 << 30, 0, 1800000000, -19, -128, -128, 127),
             (-90, 66, 1608873208, -9, 1619317073, -8, 1218157354, -10, 81, -100, 100),
             (3, -7, 1 << 30, 0, 2000000000, -31, 1 << 30, -30, -128, -128, 127),
             (5, -9, 1 << 30, 0, 1500000000, 0, 1700000000, -12, 7, -128, 127),
             (-5, 9, 1300000000, 1, 1 << 30, 0, 1700000000, -13, -7, -128, 127)]


def add_reference(case) -> np.ndarray:
    """TFLM's reference ADD (two-step rounding, tinyqi.codegen.fixedpoint) on every pair, rows as in ADD_HARNESS."""
    from tinyqi.codegen.fixedpoint import requantize

    off1, off2, m1, s1, m2, s2, mo, so, oo, lo, hi = case
    values = range(-128, 128)
    lifted1 = [requantize((v + off1) * (1 << 20), m1, s1) for v in values]
    lifted2 = [requantize((v + off2) * (1 << 20), m2, s2) for v in values]
    return np.array([[min(hi, max(lo, requantize(x1 + x2, mo, so) + oo)) for x1 in lifted1] for x2 in lifted2],
                    dtype=np.int8)


@pytest.mark.parametrize("case", range(len(ADD_CASES)))
def test_add_every_input_pair_on_cortex_m4_and_host(case, tmp_path):
    """tq_add_s8 on the M4 (DSP build) and on the host equals TFLM's arithmetic on all 65,536 input pairs:
    rounding ties are too rare for the model tests to meet them all."""
    pytest.importorskip("unicorn")
    import ctypes

    from tinyqi.codegen import runtime_dir

    params = np.array(ADD_CASES[case], dtype=np.int32)
    expected = add_reference(ADD_CASES[case])
    (tmp_path / "add.c").write_text(ADD_HARNESS)
    elf = link_with_runtime(tmp_path, [tmp_path / "add.c"])
    out = np.frombuffer(run_on_cortex_m4(elf, params.tobytes(), 1 << 16), dtype=np.int8).reshape(256, 256)
    np.testing.assert_array_equal(out, expected)
    runtime = runtime_dir()
    library = tmp_path / "add.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-shared", "-fPIC", f"-I{runtime / 'include'}", f"-I{runtime / 'src'}",
                    str(runtime / "src" / "tq_add_s8.c"), str(tmp_path / "add.c"), "-o", str(library)], check=True)
    host = ctypes.CDLL(str(library))
    (ctypes.c_int32 * 11).in_dll(host, "tq_inputs")[:] = params.tolist()
    host.tq_run()
    out = np.frombuffer(bytes((ctypes.c_int8 * (1 << 16)).in_dll(host, "tq_outputs")), dtype=np.int8)
    np.testing.assert_array_equal(out.reshape(256, 256), expected)
