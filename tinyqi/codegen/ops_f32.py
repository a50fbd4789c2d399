"""float32 op lowerings, for the FPU baseline built from model_float.tflite."""

from __future__ import annotations

import numpy as np

from tinyqi.codegen import ops_s8
from tinyqi.codegen.lowering import Lowering
from tinyqi.codegen.program import CFloat
from tinyqi.codegen.quant import activation_range_f32
from tinyqi.codegen.shapes import Window, broadcast, reduction_view


def _act(lw: Lowering) -> dict:
    lo, hi = activation_range_f32(int(getattr(lw.op.options, "fusedActivationFunction", 0)), lw.op_where())
    return {"min": CFloat(lo), "max": CFloat(hi)}


def _const_f32(lw: Lowering, slot: int, what: str) -> np.ndarray:
    t = lw.input_tensor(slot)
    if t is None or t.data is None or t.dtype != np.float32:
        raise lw.fail(f"the {what} must be a constant float32 tensor", "convert with to_float_tflite (no quantisation)")
    return t.data


def _bias(lw: Lowering, channels: int):
    t = lw.input_tensor(2)
    data = np.zeros(channels, dtype=np.float32) if t is None else _const_f32(lw, 2, "bias").ravel()
    return lw.define("bias", data.astype(np.float32))


def conv2d(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    w = _const_f32(lw, 1, "filter")
    out_c, kh, kw, in_c = w.shape
    if in_c != inp.shape[3]:
        raise lw.fail("grouped convolution", "use groups=1 or a depthwise convolution")
    win = Window.from_op(inp.shape, out.shape, kh, kw, op.options, lw.op_where())
    p = lw.define("params", {"window": win.c_value(), "act": _act(lw)}, ctype="tq_conv2d_f32_params_t")
    filt = lw.define("filter", w.ravel())
    lw.emit("tq_conv2d_f32", [p, lw.read(op.inputs[0]), filt, _bias(lw, out_c), lw.write(op.outputs[0])],
            f"{op.index}:conv_2d")


def depthwise_conv2d(lw: Lowering) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    w = _const_f32(lw, 1, "filter")
    _, kh, kw, out_c = w.shape
    win = Window.from_op(inp.shape, out.shape, kh, kw, op.options, lw.op_where())
    p = lw.define("params", {"window": win.c_value(), "depth_multiplier": out_c // inp.shape[3], "act": _act(lw)},
                  ctype="tq_depthwise_conv2d_f32_params_t")
    filt = lw.define("filter", w.ravel())
    lw.emit("tq_depthwise_conv2d_f32", [p, lw.read(op.inputs[0]), filt, _bias(lw, out_c), lw.write(op.outputs[0])],
            f"{op.index}:depthwise_conv_2d")


def fully_connected(lw: Lowering) -> None:
    op = lw.op
    inp = lw.input_tensor(0)
    w = _const_f32(lw, 1, "filter")
    out_c, depth = w.shape
    params = {"batches": int(np.prod(inp.shape)) // depth, "accum_depth": depth, "output_depth": out_c,
              "act": _act(lw)}
    p = lw.define("params", params, ctype="tq_fully_connected_f32_params_t")
    filt = lw.define("filter", w.ravel())
    lw.emit("tq_fully_connected_f32", [p, lw.read(op.inputs[0]), filt, _bias(lw, out_c), lw.write(op.outputs[0])],
            f"{op.index}:fully_connected")


def _pool(lw: Lowering, kernel: str, name: str) -> None:
    op = lw.op
    inp, out = lw.input_tensor(0), lw.tensor(op.outputs[0])
    win = Window.from_op(inp.shape, out.shape, int(op.options.filterHeight), int(op.options.filterWidth), op.options,
                         lw.op_where())
    p = lw.define("params", {"window": win.c_value(), "act": _act(lw)}, ctype="tq_pool_f32_params_t")
    lw.emit(kernel, [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:{name}")


def max_pool2d(lw: Lowering) -> None:
    _pool(lw, "tq_max_pool2d_f32", "max_pool_2d")


def avg_pool2d(lw: Lowering) -> None:
    _pool(lw, "tq_avg_pool2d_f32", "average_pool_2d")


def mean(lw: Lowering) -> None:
    op = lw.op
    inp, axes, out = lw.input_tensor(0), lw.input_tensor(1), lw.tensor(op.outputs[0])
    if axes is None or axes.data is None:
        raise lw.fail("the reduction axes are not constant", "use a constant axis")
    outer, reduce, inner = reduction_view(inp.shape, axes.data, out.shape, lw.op_where())
    p = lw.define("params", {"outer": outer, "reduce": reduce, "inner": inner}, ctype="tq_mean_f32_params_t")
    lw.emit("tq_mean_f32", [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:mean")


def _binary(lw: Lowering, kernel: str, name: str) -> None:
    op = lw.op
    a, b, out = lw.input_tensor(0), lw.input_tensor(1), lw.tensor(op.outputs[0])
    params = {"shape": broadcast(a.shape, b.shape, out.shape, lw.op_where()), "act": _act(lw)}
    p = lw.define("params", params, ctype="tq_binary_f32_params_t")
    lw.emit(kernel, [p, lw.read(op.inputs[0]), lw.read(op.inputs[1]), lw.write(op.outputs[0])],
            f"{op.index}:{name}")


def add(lw: Lowering) -> None:
    _binary(lw, "tq_add_f32", "add")


def mul(lw: Lowering) -> None:
    _binary(lw, "tq_mul_f32", "mul")


def softmax(lw: Lowering) -> None:
    op = lw.op
    inp = lw.input_tensor(0)
    depth = int(inp.shape[-1])
    params = {"outer": int(np.prod(inp.shape)) // depth, "depth": depth, "beta": CFloat(float(op.options.beta))}
    p = lw.define("params", params, ctype="tq_softmax_f32_params_t")
    lw.emit("tq_softmax_f32", [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:softmax")


def _elementwise(lw: Lowering, kernel: str, name: str) -> None:
    op = lw.op
    p = lw.define("params", {"size": int(np.prod(lw.tensor(op.outputs[0]).shape))},
                  ctype="tq_elementwise_f32_params_t")
    lw.emit(kernel, [p, lw.read(op.inputs[0]), lw.write(op.outputs[0])], f"{op.index}:{name}")


def tanh(lw: Lowering) -> None:
    _elementwise(lw, "tq_tanh_f32", "tanh")


def logistic(lw: Lowering) -> None:
    _elementwise(lw, "tq_logistic_f32", "logistic")


def concatenation(lw: Lowering) -> None:
    ops_s8.concatenation(lw, element_bytes=4)


LOWERINGS = {
    "CONV_2D": conv2d, "DEPTHWISE_CONV_2D": depthwise_conv2d, "FULLY_CONNECTED": fully_connected,
    "MAX_POOL_2D": max_pool2d, "AVERAGE_POOL_2D": avg_pool2d, "MEAN": mean, "ADD": add, "MUL": mul, "TANH": tanh,
    "LOGISTIC": logistic, "SOFTMAX": softmax, "CONCATENATION": concatenation,
}
