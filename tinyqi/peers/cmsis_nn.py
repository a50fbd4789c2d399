"""The CMSIS-NN peer: the same int8 model, with its CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D and
AVERAGE_POOL_2D layers run by Arm's CMSIS-NN v4.0.0 kernels, in the same harness, toolchain, flags and engine.

The peer model directory keeps tinyqi's generated C API (model_data.h), arena planner, golden vectors and
per-layer profiling; only those layers' calls change, to the wrappers in c/tqp_cmsis_nn.c, which pass TFLM's
quantisation parameters to CMSIS-NN the way TFLM's CMSIS-NN port does. Every other op (MEAN, ADD, SOFTMAX, ...:
the bundled CMSIS-NN subset has no source for them) and any layer outside a CMSIS-NN precondition runs tinyqi's
kernel, and its layer name says so. The harness checks the outputs against TFLM's golden outputs, so a peer run
with no mismatch agrees with TFLM (and with tinyqi, which is bit-exact with TFLM) on every golden vector.

The CMSIS-NN C sources come from the installed PyPI package `bakenn==1.0.0` (Apache-2.0), which vendors them;
they are copied into the build directory at build time and never committed.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi import __version__
from tinyqi.codegen import arena, ops_s8
from tinyqi.codegen.emit import write_header, write_source
from tinyqi.codegen.golden import write_golden
from tinyqi.codegen.lowering import ALIAS_OPS, Lowering
from tinyqi.codegen.program import Program, Raw
from tinyqi.codegen.quant import activation_range_s8, conv_multipliers, fully_connected_multipliers
from tinyqi.codegen.shapes import Window
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile
from tinyqi.firmware.build import BuildResult, compile_firmware
from tinyqi.tflite_model import load_tflite

CMSIS_NN_VERSION = "4.0.0"
BAKENN_PIN = "bakenn==1.0.0"
GLUE_DIR = Path(__file__).resolve().parent / "c"
GLUE_FILES = ("tqp_cmsis_nn.h", "tqp_cmsis_nn.c")
PEER_SUFFIX = "_cmsis_nn"  # layer names of layers CMSIS-NN runs end with it, e.g. "1:conv_2d_cmsis_nn"
HEADERS = ("cmsis_nn/Include/arm_nn_math_types.h", "cmsis_nn/Include/arm_nn_types.h",
           "cmsis_nn/Include/arm_nnfunctions.h", "cmsis_nn/Include/arm_nnsupportfunctions.h",
           "cmsis_core/Include/cmsis_compiler.h", "cmsis_core/Include/cmsis_gcc.h")
LICENSES = {"cmsis_nn/LICENSE.txt": "LICENSE-CMSIS-NN.txt", "cmsis_nn/BAKENN_PROVENANCE.md": "PROVENANCE-CMSIS-NN.md"}
_CONV = "cmsis_nn/Source/ConvolutionFunctions/"
_SUPPORT = "cmsis_nn/Source/NNSupportFunctions/"
# The CMSIS-NN sources behind each wrapper (the wrappers dispatch to the specialised kernels listed).
KERNEL_SOURCES = {
    "tqp_conv2d_s8": (_CONV + "arm_convolve_wrapper_s8.c", _CONV + "arm_convolve_s8.c",
                      _CONV + "arm_convolve_1x1_s8_fast.c", _CONV + "arm_convolve_1x1_s8.c",
                      _CONV + "arm_convolve_1_x_n_s8.c", _CONV + "arm_nn_mat_mult_kernel_s8_s16.c",
                      _CONV + "arm_nn_mat_mult_s8.c", _SUPPORT + "arm_nn_mat_mul_core_1x_s8.c",
                      _SUPPORT + "arm_nn_mat_mul_core_4x_s8.c", _SUPPORT + "arm_nn_mat_mult_nt_t_s8.c",
                      _SUPPORT + "arm_q7_to_q15_with_offset.c"),
    "tqp_depthwise_conv2d_s8": (_CONV + "arm_depthwise_conv_wrapper_s8.c", _CONV + "arm_depthwise_conv_3x3_s8.c",
                                _CONV + "arm_depthwise_conv_s8.c", _CONV + "arm_depthwise_conv_s8_opt.c",
                                _SUPPORT + "arm_nn_depthwise_conv_nt_t_padded_s8.c",
                                _SUPPORT + "arm_nn_depthwise_conv_nt_t_s8.c", _SUPPORT + "arm_q7_to_q15_with_offset.c"),
    "tqp_fully_connected_s8": ("cmsis_nn/Source/FullyConnectedFunctions/arm_fully_connected_s8.c",
                               _SUPPORT + "arm_nn_vec_mat_mult_t_s8.c"),
    "tqp_max_pool2d_s8": ("cmsis_nn/Source/PoolingFunctions/arm_max_pool_s8.c",),
    "tqp_avg_pool2d_s8": ("cmsis_nn/Source/PoolingFunctions/arm_avgpool_s8.c",),
}


@dataclass(frozen=True)
class CmsisNnSources:
    root: Path      # bakenn's vendor directory: cmsis_nn/ and cmsis_core/
    revision: str   # the upstream CMSIS-NN git revision bakenn records


def cmsis_nn_sources() -> CmsisNnSources:
    """The CMSIS-NN v4.0.0 sources inside the installed bakenn package."""
    try:
        from bakenn.backend.cmsis_nn import bundle
    except ImportError:
        raise TinyqiError(f"bakenn: not installed; `pip install {BAKENN_PIN}` (Apache-2.0; it ships the CMSIS-NN "
                          f"v{CMSIS_NN_VERSION} sources the peer benchmark compiles)") from None
    if bundle.CMSIS_NN_VERSION != CMSIS_NN_VERSION:
        raise TinyqiError(f"bakenn: ships CMSIS-NN {bundle.CMSIS_NN_VERSION}, the peer benchmark is written "
                          f"against {CMSIS_NN_VERSION}; `pip install {BAKENN_PIN}`")
    root = Path(bundle.__file__).resolve().parent / "vendor"
    missing = [name for name in HEADERS + tuple(f for fs in KERNEL_SOURCES.values() for f in fs)
               if not (root / name).is_file()]
    if missing:
        raise TinyqiError(f"{root}: CMSIS-NN files missing ({', '.join(sorted(set(missing)))}); "
                          f"reinstall {BAKENN_PIN}")
    return CmsisNnSources(root, bundle.CMSIS_NN_REVISION)


# ---------------------------------------------------------------- lowering to CMSIS-NN calls

def _scale(t) -> float:
    return float(t.scale[0])


def _zp(t) -> int:
    return int(t.zero_point[0])


def _dims(shape) -> dict:
    n, h, w, c = (int(d) for d in shape)
    return {"n": n, "h": h, "w": w, "c": c}


def _vector_dims(n: int, c: int) -> dict:
    return {"n": n, "h": 1, "w": 1, "c": c}


def _activation(lw: Lowering, out) -> dict:
    fused = int(getattr(lw.op.options, "fusedActivationFunction", 0))
    lo, hi = activation_range_s8(fused, _scale(out), _zp(out), lw.op_where())
    return {"min": lo, "max": hi}


def _mutable(raw: Raw) -> Raw:
    """A const array where CMSIS-NN's structs want `int32_t *` (it only reads through them)."""
    return Raw(f"(int32_t *){raw.text}")


def _context(lw: Lowering, nbytes: int) -> dict:
    return {"buf": lw.scratch(nbytes), "size": nbytes}


def _bias(lw: Lowering, channels: int) -> Raw:
    """The layer's own int32 bias (CMSIS-NN adds the input offset itself), zeros when the layer has none."""
    t = lw.input_tensor(2)
    values = np.zeros(channels, np.int32) if t is None else t.data.astype(np.int32).ravel()
    return lw.define("bias", values, "bias (not folded: CMSIS-NN applies the input offset)")


def _filter(lw: Lowering):
    w = lw.input_tensor(1)
    if w is None or w.data is None or w.dtype != np.int8 or np.any(w.zero_point != 0):
        raise lw.fail("the filter must be a constant symmetric int8 tensor", "use full-integer int8 conversion")
    return w, lw.define("filter", w.data.ravel(), f"filter '{w.name}' {list(w.shape)}")


def conv2d_scratch_bytes(win: Window) -> int:
    """arm_convolve_wrapper_s8_get_buffer_size() of CMSIS-NN v4.0.0 on a DSP core: 1x1 filters without padding
    or dilation need none; every other case (arm_convolve_s8, arm_convolve_1_x_n_s8) an im2col of two columns of
    int16: 2 * in_c * filter_w * filter_h * 2 bytes."""
    pointwise = win.filter_h == win.filter_w == 1 and win.pad_top == win.pad_left == 0 \
        and win.dilation_h == win.dilation_w == 1
    return 0 if pointwise else 4 * win.input["c"] * win.filter_w * win.filter_h


def depthwise_scratch_bytes(win: Window, out_c: int) -> int:
    """arm_depthwise_conv_wrapper_s8_get_buffer_size(): arm_depthwise_conv_s8_opt's int16 window
    (in_c * filter_w * filter_h * 2 bytes) when it is chosen (depth multiplier 1, batch 1, no dilation)."""
    optimised = win.input["c"] == out_c and win.input["n"] == 1 and win.dilation_h == win.dilation_w == 1
    return 2 * win.input["c"] * win.filter_w * win.filter_h if optimised else 0


def _window_params(win: Window) -> dict:
    return {"stride": {"w": win.stride_w, "h": win.stride_h}, "padding": {"w": win.pad_left, "h": win.pad_top}}


def conv2d(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    if lw.input_tensor(1).shape[3] != inp.shape[3]:
        return ops_s8.conv2d(lw)  # grouped convolution: ops_s8 reports it
    w, filt = _filter(lw)
    out_c, kh, kw, in_c = w.shape
    win = Window.from_op(inp.shape, out.shape, kh, kw, op.options, lw.op_where())
    mults, shifts = conv_multipliers(_scale(inp), w.scale, _scale(out), out_c, lw.op_where())
    conv = {"input_offset": -_zp(inp), "output_offset": _zp(out), **_window_params(win),
            "dilation": {"w": win.dilation_w, "h": win.dilation_h}, "activation": _activation(lw, out)}
    layer = {"ctx": _context(lw, conv2d_scratch_bytes(win)), "conv": conv,
             "quant": {"multiplier": _mutable(lw.define("multiplier", np.array(mults, np.int32))),
                       "shift": _mutable(lw.define("shift", np.array(shifts, np.int32)))},
             "input": _dims(inp.shape), "filter": {"n": out_c, "h": kh, "w": kw, "c": in_c},
             "bias": _vector_dims(1, out_c), "output": _dims(out.shape)}
    bias = _bias(lw, out_c)
    p = lw.define("layer", layer, ctype="tqp_conv2d_t")
    lw.emit("tqp_conv2d_s8", [p, lw.read(op.inputs[0]), filt, bias, lw.write(op.outputs[0])],
            f"{op.index}:conv_2d{PEER_SUFFIX}")


def depthwise_conv2d(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    if lw.input_tensor(1).shape[3] % inp.shape[3]:
        return ops_s8.depthwise_conv2d(lw)  # reports the bad channel counts
    w, filt = _filter(lw)
    _, kh, kw, out_c = w.shape
    in_c = int(inp.shape[3])
    win = Window.from_op(inp.shape, out.shape, kh, kw, op.options, lw.op_where())
    mults, shifts = conv_multipliers(_scale(inp), w.scale, _scale(out), out_c, lw.op_where())
    conv = {"input_offset": -_zp(inp), "output_offset": _zp(out), "ch_mult": out_c // in_c, **_window_params(win),
            "dilation": {"w": win.dilation_w, "h": win.dilation_h}, "activation": _activation(lw, out)}
    layer = {"ctx": _context(lw, depthwise_scratch_bytes(win, out_c)), "conv": conv,
             "quant": {"multiplier": _mutable(lw.define("multiplier", np.array(mults, np.int32))),
                       "shift": _mutable(lw.define("shift", np.array(shifts, np.int32)))},
             "input": _dims(inp.shape), "filter": {"n": 1, "h": kh, "w": kw, "c": out_c},
             "bias": _vector_dims(1, out_c), "output": _dims(out.shape)}
    bias = _bias(lw, out_c)
    p = lw.define("layer", layer, ctype="tqp_depthwise_conv2d_t")
    lw.emit("tqp_depthwise_conv2d_s8", [p, lw.read(op.inputs[0]), filt, bias, lw.write(op.outputs[0])],
            f"{op.index}:depthwise_conv_2d{PEER_SUFFIX}")


def fully_connected(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    w = lw.input_tensor(1)
    if w is None or len(w.scale) > 1 or int(getattr(op.options, "weightsFormat", 0)) != 0:
        return ops_s8.fully_connected(lw)  # CMSIS-NN v4.0.0 FULLY_CONNECTED is per-tensor, default format only
    w, filt = _filter(lw)
    out_c, depth = w.shape
    batches = int(np.prod(inp.shape)) // depth
    mults, shifts = fully_connected_multipliers(_scale(inp), w.scale, _scale(out), out_c, lw.op_where())
    layer = {"ctx": _context(lw, 0),
             "fc": {"input_offset": -_zp(inp), "filter_offset": 0, "output_offset": _zp(out),
                    "activation": _activation(lw, out)},
             "quant": {"multiplier": mults[0], "shift": shifts[0]},
             "input": _vector_dims(batches, depth), "filter": {"n": depth, "h": 1, "w": 1, "c": out_c},
             "bias": _vector_dims(1, out_c), "output": _vector_dims(batches, out_c)}
    bias = _bias(lw, out_c)
    p = lw.define("layer", layer, ctype="tqp_fully_connected_t")
    lw.emit("tqp_fully_connected_s8", [p, lw.read(op.inputs[0]), filt, bias, lw.write(op.outputs[0])],
            f"{op.index}:fully_connected{PEER_SUFFIX}")


def _pool(lw: Lowering, kernel: str, name: str, ours) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    if int(inp.shape[0]) != 1 or _scale(inp) != _scale(out) or _zp(inp) != _zp(out):
        return ours(lw)  # CMSIS-NN pools take one batch and keep the quantisation
    fh, fw = int(op.options.filterHeight), int(op.options.filterWidth)
    win = Window.from_op(inp.shape, out.shape, fh, fw, op.options, lw.op_where())
    # arm_avgpool_s8_get_buffer_size() on a DSP core: one int32 sum per channel.
    scratch = 4 * win.input["c"] if kernel == "tqp_avg_pool2d_s8" else 0
    layer = {"ctx": _context(lw, scratch), "pool": {**_window_params(win), "activation": _activation(lw, out)},
             "input": _dims(inp.shape), "filter": {"n": 1, "h": fh, "w": fw, "c": 1}, "output": _dims(out.shape)}
    p = lw.define("layer", layer, ctype="tqp_pool_t")
    lw.emit(kernel, [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:{name}{PEER_SUFFIX}")


def max_pool2d(lw: Lowering) -> None:
    _pool(lw, "tqp_max_pool2d_s8", "max_pool_2d", ops_s8.max_pool2d)


def avg_pool2d(lw: Lowering) -> None:
    _pool(lw, "tqp_avg_pool2d_s8", "average_pool_2d", ops_s8.avg_pool2d)


LOWERINGS = {**ops_s8.LOWERINGS, "CONV_2D": conv2d, "DEPTHWISE_CONV_2D": depthwise_conv2d,
             "FULLY_CONNECTED": fully_connected, "MAX_POOL_2D": max_pool2d, "AVERAGE_POOL_2D": avg_pool2d}


def lower_peer(model_path: Path) -> Program:
    """The dense int8 model as a Program whose supported layers call CMSIS-NN (codegen's lowering otherwise)."""
    model = load_tflite(model_path)
    lw = Lowering(model, model_path.name, "s8", {})
    for index in model.inputs:
        lw.check_activation(model.tensor(index))
    for op in model.operators:
        lw.op = op
        if op.op in ALIAS_OPS:
            lw.alias(op)
            continue
        if op.op not in LOWERINGS:
            raise TinyqiError(f"{lw.op_where(op)}: op {op.op} is not supported by tinyqi codegen (s8)")
        lw.begin(op)
        LOWERINGS[op.op](lw)
    program = lw.program()
    program.arena_bytes = arena.plan(program.buffers)
    program.naive_bytes = arena.naive_bytes(program.buffers)
    return program


# ---------------------------------------------------------------- sources and build

def kernels_used(program: Program) -> list[str]:
    return sorted({call.kernel for call in program.calls if call.kernel in KERNEL_SOURCES})


def _provenance(model_path: Path, program: Program, sources: CmsisNnSources) -> list[str]:
    used = ", ".join(kernels_used(program)) or "none"
    return [f"Generated by tinyqi {__version__} (tinyqi.peers.cmsis_nn, the CMSIS-NN peer benchmark); do not edit.",
            f"model: {model_path.name} sha256 {hashlib.sha256(model_path.read_bytes()).hexdigest()} (dense)",
            f"CMSIS-NN v{CMSIS_NN_VERSION} (revision {sources.revision}, from {BAKENN_PIN}) runs: {used}",
            f"arena: {program.arena_bytes} bytes of activations and CMSIS-NN scratch"]


def write_peer_model(program: Program, provenance: list[str], out_dir: Path) -> None:
    """model_data.h/.c as codegen writes them, plus the wrapper include the CMSIS-NN calls need."""
    write_header(program, provenance, out_dir / "model_data.h")
    source = write_source(program, provenance, out_dir / "model_data.c")
    runtime_include = '#include "tinyqi.h"\n'
    text = source.read_text()
    if text.count(runtime_include) != 1:
        raise TinyqiError(f"{source}: codegen's include block changed; update tinyqi.peers.cmsis_nn.write_peer_model")
    source.write_text(text.replace(runtime_include, runtime_include + '#include "tqp_cmsis_nn.h"\n'))


def copy_cmsis_nn(program: Program, sources: CmsisNnSources, out_dir: Path) -> None:
    """Headers, the wrappers and the kernels the model calls, flat in the model directory (one include path)."""
    wanted = HEADERS + tuple(sorted({f for kernel in kernels_used(program) for f in KERNEL_SOURCES[kernel]}))
    for name in wanted:
        shutil.copyfile(sources.root / name, out_dir / Path(name).name)
    for name, target in LICENSES.items():
        shutil.copyfile(sources.root / name, out_dir / target)
    for name in GLUE_FILES:
        shutil.copyfile(GLUE_DIR / name, out_dir / name)


def generate_peer_sources(model_dir: Path, out_dir: Path) -> Program:
    """The peer model directory for `model_dir`'s int8 model (dense: CMSIS-NN has no sparse kernels)."""
    sources = cmsis_nn_sources()
    model_path = model_dir / "model_int8.tflite"
    for needed in (model_path, model_dir / "golden.npz"):
        if not needed.is_file():
            raise TinyqiError(f"{needed}: missing; the peer runs the model directory's int8 model on its golden "
                              "vectors (docs/architecture.md)")
    program = lower_peer(model_path)
    provenance = _provenance(model_path, program, sources)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a previous model's kernels must not linger
    out_dir.mkdir(parents=True)
    write_peer_model(program, provenance, out_dir)
    with np.load(model_dir / "golden.npz") as z:
        golden = {k: z[k] for k in z.files}
    write_golden(golden, program, provenance, out_dir, str(model_path))
    copy_cmsis_nn(program, sources, out_dir)
    return program


def build_peer(model_dir: Path, board: BoardProfile, out_dir: Path, profile: bool = False) -> BuildResult:
    """The CMSIS-NN peer harness for `model_dir`, built exactly like `tinyqi build` builds tinyqi's."""
    model_src = out_dir / "model_src"
    generate_peer_sources(model_dir, model_src)
    return compile_firmware(model_src, board, out_dir, profile=profile)
