"""int8 op lowerings: TFLM's Prepare() arithmetic (tinyqi.codegen.quant / fixedpoint) -> const params + a call.

Weights stay exactly the int8 values of the .tflite; biases are folded with the input zero point
(b + input_offset * sum(w), exact int32 arithmetic) so the kernels' inner loops are plain int8 dot products.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinyqi.codegen import fixedpoint
from tinyqi.codegen.fuse import FUSED_POOL_W
from tinyqi.codegen.lowering import Lowering
from tinyqi.codegen.program import Raw
from tinyqi.codegen.quant import (activation_range_s8, checked_multiplier, conv_multipliers,
                                  fully_connected_multipliers)
from tinyqi.codegen.shapes import Window, broadcast, reduction_view
from tinyqi.csr import CsrTable, smallest_uint

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _scale(t) -> float:
    return float(t.scale[0])


def _zp(t) -> int:
    return int(t.zero_point[0])


def _act(lw: Lowering, out) -> dict:
    lo, hi = activation_range_s8(int(getattr(lw.op.options, "fusedActivationFunction", 0)), _scale(out), _zp(out),
                                 lw.op_where())
    return {"min": lo, "max": hi}


def _folded_bias(lw: Lowering, weights: np.ndarray, input_offset: int, channels: int) -> np.ndarray:
    """bias + input_offset * sum(weights of the channel); weights given as [channels, taps]."""
    bias_t = lw.input_tensor(2)
    if bias_t is not None and (bias_t.data is None or bias_t.dtype != np.int32 or bias_t.data.size != channels):
        raise lw.fail(f"bias '{bias_t.name}' is {np.dtype(bias_t.dtype).name}{bias_t.shape}"
                      f"{'' if bias_t.data is not None else ' (not constant)'}, expected constant int32[{channels}]",
                      "re-convert with 32-bit biases")
    bias = np.zeros(channels, dtype=np.int64) if bias_t is None else bias_t.data.astype(np.int64).ravel()
    folded = bias + int(input_offset) * weights.astype(np.int64).sum(axis=1)
    if folded.min(initial=0) < INT32_MIN or folded.max(initial=0) > INT32_MAX:
        raise lw.fail("folded bias overflows int32", "check the layer's weights and input quantisation")
    return folded.astype(np.int32)


def _quant(lw: Lowering, multipliers: list[int], shifts: list[int]) -> dict:
    return {"multiplier": lw.define("multiplier", np.array(multipliers, dtype=np.int32)),
            "shift": lw.define("shift", np.array(shifts, dtype=np.int32))}


def _weights(lw: Lowering, rank: int, slot: int = 1):
    w = lw.input_tensor(slot)
    if w is None or w.data is None or w.dtype != np.int8:
        raise lw.fail("the filter must be a constant int8 tensor", "use full-integer int8 conversion")
    lw.check_rank(w, rank, "filter")
    if np.any(w.zero_point != 0):
        raise lw.fail(f"filter '{w.name}' has a non-zero zero point", "TFLite int8 weights are symmetric; re-convert")
    return w


def _csr_struct(lw: Lowering, table: CsrTable, col_idx: np.ndarray) -> Raw:
    """const tq_csr_t for `table` with the given column indices (the table's own, or window offsets)."""
    row_ptr = lw.define("row_ptr", table.row_ptr)
    cols = lw.define("col_idx", col_idx)
    values = lw.define("values", table.values, f"{table.nnz} non-zeros of {table.rows}x{table.cols} "
                                                f"({100 * table.nnz / (table.rows * table.cols):.1f} % dense)")
    return lw.define("filter", {"row_ptr": row_ptr, "col_idx": cols, "values": values,
                                "row_ptr_bytes": table.row_ptr.dtype.itemsize,
                                "col_idx_bytes": col_idx.dtype.itemsize}, ctype="tq_csr_t")


def _fused_pool(lw: Lowering, out, shifts: list[int]):
    """The MAX_POOL_2D this CONV_2D absorbs (codegen.fuse), or None: only with monotonic requantisation (no
    multiplier >= 1, whose left shift may wrap) and the pool keeping the quantisation, as TFLite requires."""
    pool = lw.fused_pools.get(lw.op.index)
    if pool is None or max(shifts) > 0:
        return None
    pooled = lw.tensor(pool.outputs[0])
    if _scale(pooled) != _scale(out) or _zp(pooled) != _zp(out):
        return None
    lw.absorbed.add(pool.index)
    return pool


def conv2d(lw: Lowering) -> None:
    op = lw.op
    inp, out, w = lw.input_tensor(0), lw.tensor(op.outputs[0]), _weights(lw, 4)
    lw.check_rank(inp, 4, "input")
    out_c, kh, kw, in_c = w.shape
    if in_c != inp.shape[3]:
        raise lw.fail(f"grouped convolution ({inp.shape[3]} input channels, filter depth {in_c})",
                      "use groups=1 or a depthwise convolution")
    win = Window.from_op(inp.shape, out.shape, kh, kw, op.options, lw.op_where())
    input_offset = -_zp(inp)
    mults, shifts = conv_multipliers(_scale(inp), w.scale, _scale(out), out_c, lw.op_where())
    pool = _fused_pool(lw, out, shifts)
    result, name = op.outputs[0], f"{op.index}:conv_2d"
    if pool is not None:  # the convolution computes the pixels the pool reads: twice its output width
        result, name = pool.outputs[0], f"{op.index}+{pool.index}:conv_2d"
        win = replace(win, output={**win.output, "w": FUSED_POOL_W * int(lw.tensor(result).shape[2])})
    params = {"window": win.c_value(), "input_offset": input_offset, "output_offset": _zp(out),
              "act": _act(lw, out), "quant": _quant(lw, mults, shifts), "pool_w": 0 if pool is None else FUSED_POOL_W}
    bias = lw.define("bias", _folded_bias(lw, w.data.reshape(out_c, -1), input_offset, out_c),
                     "bias + input_offset * sum(w)")
    table = lw.csr.get(op.inputs[1])
    p = lw.define("params", params, ctype="tq_conv2d_s8_params_t")
    suffix = "" if pool is None else "+max_pool_2d"
    if table is None:
        scratch = lw.scratch(win.padded_bytes_s8)
        filt = lw.define("filter", w.data.ravel(), f"filter '{w.name}' {list(w.shape)}")
        lw.emit("tq_conv2d_s8", [scratch, p, lw.read(op.inputs[0]), filt, bias, lw.write(result)], name + suffix)
        return
    scratch = lw.scratch(win.planar_bytes_s8)
    filt = _csr_struct(lw, table, _planar_offsets(lw, table, win, kw, in_c))
    lw.emit("tq_conv2d_csr_s8", [scratch, p, lw.read(op.inputs[0]), filt, bias, lw.write(result)],
            name + "_csr" + suffix)


def _planar_offsets(lw: Lowering, table: CsrTable, win: Window, kw: int, in_c: int) -> np.ndarray:
    """The CSR table's columns (filter row, column, channel) as offsets in tq_conv2d_csr_s8's channel-planar copy
    of the input: channel * plane + row * dilation * width + column * dilation."""
    fy, rem = np.divmod(table.col_idx.astype(np.int64), kw * in_c)
    fx, ch = np.divmod(rem, in_c)
    offsets = ch * win.planar_plane + fy * win.dilation_h * win.planar_row + fx * win.dilation_w
    if offsets.max(initial=0) > np.iinfo(np.uint16).max:
        raise lw.fail("a filter window spans more than 64 KiB of input, beyond the CSR kernel's 16-bit offsets",
                      "generate this model with --dense")
    return offsets.astype(smallest_uint(int(offsets.max(initial=0))))


def depthwise_conv2d(lw: Lowering) -> None:
    op = lw.op
    inp, out, w = lw.input_tensor(0), lw.tensor(op.outputs[0]), _weights(lw, 4)
    lw.check_rank(inp, 4, "input")
    _, kh, kw, out_c = w.shape
    in_c = inp.shape[3]
    if out_c % in_c:
        raise lw.fail(f"{out_c} output channels is not a multiple of {in_c} input channels", "re-convert the model")
    win = Window.from_op(inp.shape, out.shape, kh, kw, op.options, lw.op_where())
    input_offset = -_zp(inp)
    mults, shifts = conv_multipliers(_scale(inp), w.scale, _scale(out), out_c, lw.op_where())
    params = {"window": win.c_value(), "depth_multiplier": out_c // in_c, "input_offset": input_offset,
              "output_offset": _zp(out), "act": _act(lw, out), "quant": _quant(lw, mults, shifts)}
    bias = lw.define("bias", _folded_bias(lw, w.data.reshape(-1, out_c).T, input_offset, out_c),
                     "bias + input_offset * sum(w)")
    filt = lw.define("filter", w.data.ravel(), f"filter '{w.name}' {list(w.shape)}")
    scratch = lw.scratch(win.padded_bytes_s8)
    p = lw.define("params", params, ctype="tq_depthwise_conv2d_s8_params_t")
    lw.emit("tq_depthwise_conv2d_s8", [scratch, p, lw.read(op.inputs[0]), filt, bias, lw.write(op.outputs[0])],
            f"{op.index}:depthwise_conv_2d")


def fully_connected(lw: Lowering) -> None:
    op = lw.op
    inp, out, w = lw.input_tensor(0), lw.tensor(op.outputs[0]), _weights(lw, 2)
    if int(getattr(op.options, "weightsFormat", 0)) != 0:
        raise lw.fail("shuffled weights format", "convert with the default weights format")
    out_c, depth = w.shape
    batches = int(np.prod(inp.shape)) // depth
    if batches * depth != int(np.prod(inp.shape)) or batches * out_c != int(np.prod(out.shape)):
        raise lw.fail(f"input {inp.shape} / output {out.shape} do not fit filter {w.shape}", "re-convert the model")
    input_offset = -_zp(inp)
    mults, shifts = fully_connected_multipliers(_scale(inp), w.scale, _scale(out), out_c, lw.op_where())
    params = {"batches": batches, "accum_depth": depth, "output_depth": out_c, "output_offset": _zp(out),
              "act": _act(lw, out), "quant": _quant(lw, mults, shifts)}
    bias = lw.define("bias", _folded_bias(lw, w.data, input_offset, out_c), "bias + input_offset * sum(w)")
    p = lw.define("params", params, ctype="tq_fully_connected_s8_params_t")
    table = lw.csr.get(op.inputs[1])
    if table is None:
        filt = lw.define("filter", w.data.ravel(), f"filter '{w.name}' {list(w.shape)}")
        lw.emit("tq_fully_connected_s8", [p, lw.read(op.inputs[0]), filt, bias, lw.write(op.outputs[0])],
                f"{op.index}:fully_connected")
    else:
        filt = _csr_struct(lw, table, table.col_idx)
        lw.emit("tq_fully_connected_csr_s8", [p, lw.read(op.inputs[0]), filt, bias, lw.write(op.outputs[0])],
                f"{op.index}:fully_connected_csr")


def _pool(lw: Lowering, kernel: str, name: str) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    if _scale(inp) != _scale(out) or _zp(inp) != _zp(out):
        raise lw.fail("input and output quantisation differ", "TFLite pools keep the quantisation; re-convert")
    win = Window.from_op(inp.shape, out.shape, int(op.options.filterHeight), int(op.options.filterWidth), op.options,
                         lw.op_where())
    p = lw.define("params", {"window": win.c_value(), "act": _act(lw, out)}, ctype="tq_pool_s8_params_t")
    lw.emit(kernel, [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:{name}")


def max_pool2d(lw: Lowering) -> None:
    _pool(lw, "tq_max_pool2d_s8", "max_pool_2d")


def avg_pool2d(lw: Lowering) -> None:
    _pool(lw, "tq_avg_pool2d_s8", "average_pool_2d")


def mean(lw: Lowering) -> None:
    op = lw.op
    inp, axes, out = lw.input_tensor(0), lw.input_tensor(1), lw.tensor(op.outputs[0])
    if axes is None or axes.data is None:
        raise lw.fail("the reduction axes are not constant", "use a constant axis")
    outer, reduce, inner = reduction_view(inp.shape, axes.data, out.shape, lw.op_where())
    multiplier, shift = checked_multiplier(float(np.float32(_scale(inp))) / float(np.float32(_scale(out))),
                                           lw.op_where(), f"input scale {_scale(inp):g} / output scale {_scale(out):g}")
    # TFLM folds 1/reduce into the multiplier (reduce.h, QuantizedMeanOrSum), keeping shift >= -31.
    fold = min(reduce.bit_length() - 1, 32, 31 + shift)
    multiplier, shift = (multiplier << fold) // reduce, shift - fold
    params = {"outer": outer, "reduce": reduce, "inner": inner, "input_zero_point_sum": _zp(inp) * reduce,
              "multiplier": multiplier, "shift": shift, "output_offset": _zp(out)}
    p = lw.define("params", params, ctype="tq_mean_s8_params_t")
    lw.emit("tq_mean_s8", [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:mean")


def _binary_inputs(lw: Lowering):
    op = lw.op
    a, b, out = lw.input_tensor(0), lw.input_tensor(1), lw.tensor(op.outputs[0])
    return a, b, out, broadcast(a.shape, b.shape, out.shape, lw.op_where())


def add(lw: Lowering) -> None:
    op = lw.op
    a, b, out, shape = _binary_inputs(lw)
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(_scale(a)), np.float32(_scale(b))))
    where = lw.op_where()
    m1, s1 = checked_multiplier(float(np.float32(_scale(a))) / twice_max, where, "input 1 rescale")
    m2, s2 = checked_multiplier(float(np.float32(_scale(b))) / twice_max, where, "input 2 rescale")
    mo, so = checked_multiplier(twice_max / ((1 << left_shift) * float(np.float32(_scale(out)))), where,
                                f"2 * max input scale {twice_max / 2:g} / (2^20 * output scale {_scale(out):g})")
    params = {"shape": shape, "input1_offset": -_zp(a), "input2_offset": -_zp(b), "left_shift": left_shift,
              "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2, "input2_shift": s2,
              "output_multiplier": mo, "output_shift": so, "output_offset": _zp(out), "act": _act(lw, out)}
    p = lw.define("params", params, ctype="tq_add_s8_params_t")
    lw.emit("tq_add_s8", [p, lw.read(op.inputs[0]), lw.read(op.inputs[1]), lw.write(op.outputs[0])],
            f"{op.index}:add")


def mul(lw: Lowering) -> None:
    op = lw.op
    a, b, out, shape = _binary_inputs(lw)
    m, s = checked_multiplier(float(np.float32(_scale(a))) * float(np.float32(_scale(b)))
                              / float(np.float32(_scale(out))), lw.op_where(),
                              f"input scales {_scale(a):g} * {_scale(b):g} / output scale {_scale(out):g}")
    params = {"shape": shape, "input1_offset": -_zp(a), "input2_offset": -_zp(b), "output_multiplier": m,
              "output_shift": s, "output_offset": _zp(out), "act": _act(lw, out)}
    p = lw.define("params", params, ctype="tq_mul_s8_params_t")
    lw.emit("tq_mul_s8", [p, lw.read(op.inputs[0]), lw.read(op.inputs[1]), lw.write(op.outputs[0])],
            f"{op.index}:mul")


def _lut(lw: Lowering, table: np.ndarray, name: str) -> None:
    op = lw.op
    size = int(np.prod(lw.tensor(op.outputs[0]).shape))
    t = lw.define("table", table, f"TFLM int8 {name.upper()} for each input, indexed by (uint8_t)input")
    p = lw.define("params", {"size": size, "table": t}, ctype="tq_lut_s8_params_t")
    lw.emit("tq_lut_s8", [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:{name}")


def _check_lut_output(lw: Lowering, name: str, scale: float, zero_point: int) -> None:
    """The tables hold TFLM's outputs in its fixed output quantisation: any other would be read as wrong values."""
    out = lw.tensor(lw.op.outputs[0])
    if np.float32(_scale(out)) != np.float32(scale) or _zp(out) != zero_point:
        raise lw.fail(f"output quantisation {_scale(out):g}/{_zp(out)}", f"TFLM's int8 {name} needs scale "
                      f"{scale:g}, zero point {zero_point}; re-convert")


def tanh(lw: Lowering) -> None:
    inp = lw.input_tensor(0)
    _check_lut_output(lw, "TANH", 1 / 128, 0)
    _lut(lw, fixedpoint.tanh_table(_scale(inp), _zp(inp), lw.op_where()), "tanh")


def logistic(lw: Lowering) -> None:
    inp = lw.input_tensor(0)
    _check_lut_output(lw, "LOGISTIC", 1 / 256, -128)
    _lut(lw, fixedpoint.logistic_table(_scale(inp), _zp(inp), lw.op_where()), "logistic")


def softmax(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    if _zp(out) != -128 or np.float32(_scale(out)) != np.float32(1 / 256):
        raise lw.fail(f"output quantisation {_scale(out)}/{_zp(out)}", "TFLM's int8 SOFTMAX needs scale 1/256, "
                      "zero point -128; re-convert")
    depth = int(inp.shape[-1])
    multiplier, left_shift, diff_min = fixedpoint.softmax_params(float(op.options.beta), _scale(inp), lw.op_where())
    params = {"outer": int(np.prod(inp.shape)) // depth, "depth": depth, "input_multiplier": multiplier,
              "input_left_shift": left_shift, "diff_min": diff_min}
    p = lw.define("params", params, ctype="tq_softmax_s8_params_t")
    lw.emit("tq_softmax_s8", [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:softmax")


def quantize(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    if inp.dtype != np.int8:
        raise lw.fail(f"QUANTIZE from {np.dtype(inp.dtype).name}", "export the model with int8 inputs")
    m, s = checked_multiplier(float(np.float32(_scale(inp))) / float(np.float32(_scale(out))), lw.op_where(),
                              f"input scale {_scale(inp):g} / output scale {_scale(out):g}")
    params = {"size": int(np.prod(out.shape)), "input_offset": -_zp(inp), "multiplier": m, "shift": s,
              "output_offset": _zp(out)}
    p = lw.define("params", params, ctype="tq_requantize_s8_params_t")
    lw.emit("tq_requantize_s8", [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:quantize")


def concatenation(lw: Lowering, element_bytes: int = 1) -> None:
    op = lw.op
    out = lw.tensor(op.outputs[0])
    if int(getattr(op.options, "fusedActivationFunction", 0)) != 0:
        raise lw.fail("fused activation on CONCATENATION", "apply the activation as a separate layer")
    axis = int(op.options.axis) % len(out.shape)
    ins = [lw.tensor(i) for i in op.inputs]
    for t in ins:
        if t.dtype == np.int8 and (_scale(t) != _scale(out) or _zp(t) != _zp(out)):
            raise lw.fail(f"input '{t.name}' is quantised differently from the output",
                          "TFLM concatenates int8 tensors of one quantisation; re-convert")
    chunks = np.array([int(np.prod(t.shape[axis:])) * element_bytes for t in ins], dtype=np.int32)
    pointers = lw.define("inputs", [lw.read(i) for i in op.inputs], ctype="void *const")
    p = lw.define("params", {"count": len(ins), "outer": int(np.prod(out.shape[:axis])),
                             "chunk_bytes": lw.define("chunk_bytes", chunks)}, ctype="tq_concat_params_t")
    lw.emit("tq_concat", [p, pointers, lw.write(op.outputs[0])], f"{op.index}:concatenation")


LOWERINGS = {
    "CONV_2D": conv2d, "DEPTHWISE_CONV_2D": depthwise_conv2d, "FULLY_CONNECTED": fully_connected,
    "MAX_POOL_2D": max_pool2d, "AVERAGE_POOL_2D": avg_pool2d, "MEAN": mean, "ADD": add, "MUL": mul, "TANH": tanh,
    "LOGISTIC": logistic, "SOFTMAX": softmax, "QUANTIZE": quantize, "CONCATENATION": concatenation,
}

