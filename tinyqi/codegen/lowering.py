"""The context an op's lowering works in (tinyqi.codegen.ops_s8 / ops_f32 receive it): the graph, the arena
buffers read and written so far, the const definitions, and one-line errors that name the layer.

RESHAPE, EXPAND_DIMS and SQUEEZE cost nothing: their output is the same arena buffer as their input (NHWC data is
row-major, so a reshape does not move bytes); `Lowering.alias` records that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyqi.codegen.program import C_INT_TYPES, ArenaRef, Buffer, Call, Definition, Program, Raw
from tinyqi.codegen.quant import check_quantization
from tinyqi.csr import CsrTable
from tinyqi.errors import TinyqiError
from tinyqi.tflite_model import Operator, Tensor, TfliteModel

ALIAS_OPS = {"RESHAPE", "EXPAND_DIMS", "SQUEEZE"}
# Ops whose lowering reads their builtin options (strides, pool size, beta, axis), by the schema class they must be.
OPTIONS = {"CONV_2D": "Conv2DOptionsT", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptionsT", "MAX_POOL_2D": "Pool2DOptionsT",
           "AVERAGE_POOL_2D": "Pool2DOptionsT", "SOFTMAX": "SoftmaxOptionsT", "CONCATENATION": "ConcatenationOptionsT"}
# How many leading inputs an op cannot do without (later ones, like a convolution's bias, are optional).
REQUIRED_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "MUL": 2, "MEAN": 2}
# Ops whose kernels walk input and output as one run of the same number of elements.
ELEMENTWISE = {"SOFTMAX", "TANH", "LOGISTIC", "QUANTIZE"}
# Where a windowed op's output channel count comes from: (input slot, axis).
WINDOW_CHANNELS = {"CONV_2D": (1, 0), "DEPTHWISE_CONV_2D": (1, 3), "MAX_POOL_2D": (0, 3), "AVERAGE_POOL_2D": (0, 3)}
DTYPES = {"s8": np.int8, "f32": np.float32}
ELEMENT_BYTES = {"s8": 1, "f32": 4}


@dataclass
class _Usage:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    scratch: int = 0


class Lowering:
    """State shared by the op lowerings: tensor -> buffer mapping, definitions, per-call buffer usage."""

    def __init__(self, model: TfliteModel, where: str, dtype: str, csr: dict[int, CsrTable]):
        self.model = model
        self.where = where
        self.dtype = dtype
        self.csr = csr
        self.root: dict[int, int] = {}
        self.calls: list[Call] = []
        self.usage: list[_Usage] = []
        self.op: Operator | None = None
        self.pending: Call | None = None  # the call being lowered
        self.fused_pools: dict[int, Operator] = {}  # CONV_2D index -> MAX_POOL_2D it may absorb (codegen.fuse)
        self.absorbed: set[int] = set()  # ops lowered inside another op's call

    # --- naming and errors -------------------------------------------------------------------------------------
    def op_where(self, op: Operator | None = None) -> str:
        op = op or self.op
        out = self.model.tensor(op.outputs[0]).name if op.outputs else "?"
        return f"{self.where}: op {op.index} {op.op} (output tensor '{out}')"

    def fail(self, what: str, todo: str) -> TinyqiError:
        return TinyqiError(f"{self.op_where()}: {what}; {todo}")

    # --- tensors -----------------------------------------------------------------------------------------------
    def tensor(self, index: int) -> Tensor:
        return self.model.tensor(index)

    def input_tensor(self, slot: int) -> Tensor | None:
        idx = self.op.inputs[slot] if slot < len(self.op.inputs) else -1
        return self.model.tensor(idx) if idx >= 0 else None

    def check_activation(self, t: Tensor) -> None:
        if t.dtype != DTYPES[self.dtype]:
            raise self.fail(f"tensor '{t.name}' is {np.dtype(t.dtype).name}, the {self.dtype} kernels need "
                            f"{np.dtype(DTYPES[self.dtype]).name}", "convert the whole model to one dtype")

    def check_rank(self, t: Tensor, rank: int, what: str) -> None:
        if len(t.shape) != rank:
            raise self.fail(f"{what} '{t.name}' has shape {t.shape}, expected {rank} dimensions",
                            "re-convert the model")

    def _key(self, index: int) -> str:
        return f"t{self.root.get(index, index)}"

    def read(self, index: int):
        """A kernel argument for reading tensor `index`: an arena pointer, or a const array for constants."""
        t = self.tensor(index)
        self.check_activation(t)
        if t.data is not None:
            return self.define(f"const_t{index}", t.data.ravel(), f"constant tensor '{t.name}'")
        key = self._key(index)
        self.usage[-1].reads.add(key)
        return ArenaRef(key, self.dtype)

    def write(self, index: int) -> ArenaRef:
        self.check_activation(self.tensor(index))
        key = self._key(index)
        self.usage[-1].writes.add(key)
        return ArenaRef(key, self.dtype)

    def scratch(self, nbytes: int):
        if nbytes <= 0:
            return Raw("0")
        self.usage[-1].scratch = nbytes
        return ArenaRef(f"scratch{len(self.calls)}", "s8")

    # --- definitions and calls ---------------------------------------------------------------------------------
    def _prefix(self) -> str:
        return f"tq_l{len(self.calls)}"

    def define(self, suffix: str, value, comment: str = "", ctype: str | None = None) -> Raw:
        """A const definition private to the current call: an array (numpy or list value) or a struct (dict value,
        ctype required). Returns the expression kernels take: the array name, or the struct's address."""
        name = f"{self._prefix()}_{suffix}"
        if isinstance(value, np.ndarray):
            ctype = ctype or ("float" if value.dtype == np.float32 else C_INT_TYPES[np.dtype(value.dtype)])
        is_array = not isinstance(value, dict)
        self.pending.definitions.append(Definition(ctype, name, value, is_array, comment))
        return Raw(name if is_array else f"&{name}")

    def begin(self, op: Operator) -> None:
        self.op = op
        self._check_structure(op)
        if self.dtype == "s8":
            self._check_quantization(op)
        self.usage.append(_Usage())
        self.pending = Call("", [], "", "")

    def _check_structure(self, op: Operator) -> None:
        """What every lowering takes for granted: its options, its inputs, and activations of the program's dtype."""
        expected, options = OPTIONS.get(op.op), type(op.options).__name__ if op.options is not None else "no"
        if expected is not None and options != expected:
            raise self.fail(f"{op.op} with {options} builtin options", "the file is corrupt, re-export the model")
        needed = REQUIRED_INPUTS.get(op.op, 1)
        if len(op.inputs) < needed or min(op.inputs[:needed]) < 0:
            raise self.fail(f"{op.op} without one of its {needed} inputs", "the file is corrupt, re-export the model")
        for index in [*op.inputs, *op.outputs]:
            if index >= 0 and self.tensor(index).data is None:
                self.check_activation(self.tensor(index))
        problem = self._shape_problem(op)
        if problem:
            raise self.fail(problem, "the kernel would read or write outside its buffers; re-export the model")

    def _shape_problem(self, op: Operator) -> str:
        """Shapes the kernels rely on beyond what each lowering checks: elementwise ops keep the element count,
        windows keep the batch and give the output's channels, concatenation fills its output exactly."""
        shapes = [self.tensor(i).shape if i >= 0 else () for i in op.inputs]
        out = self.tensor(op.outputs[0]).shape
        size = int(np.prod(out))
        if op.op in ELEMENTWISE and int(np.prod(shapes[0])) != size:
            return f"input {shapes[0]} and output {out} differ in size"
        if op.op == "SOFTMAX" and (not out or out[-1] < 1):
            return f"softmax over shape {out}"
        if op.op == "CONCATENATION" and sum(int(np.prod(s)) for s in shapes) != size:
            return f"inputs {shapes} do not fill output {out}"
        if op.op in WINDOW_CHANNELS and len(out) == 4 and all(len(s) == 4 for s in shapes[:2]):
            channels = shapes[WINDOW_CHANNELS[op.op][0]][WINDOW_CHANNELS[op.op][1]]
            if out[3] != channels or out[0] != shapes[0][0]:
                return f"output {out} does not match input {shapes[0]} and filter/window {shapes[1:2]}"
        return ""

    def _check_quantization(self, op: Operator) -> None:
        """Every int8 tensor the op touches, before its lowering derives multipliers and clamps from them."""
        for index in [*op.inputs, *op.outputs]:
            if index >= 0 and self.tensor(index).dtype == np.int8:
                check_quantization(self.tensor(index), self.op_where(op))

    def emit(self, kernel: str, args: list, layer_name: str) -> None:
        call = self.pending
        out = self.tensor(self.op.outputs[0]).name
        call.kernel, call.args, call.layer_name = kernel, args, layer_name
        call.comment = f"op {self.op.index} {self.op.op} -> '{out}'"
        self.calls.append(call)

    def alias(self, op: Operator) -> None:
        src, dst = self.tensor(op.inputs[0]), self.tensor(op.outputs[0])
        if src.data is not None:
            raise TinyqiError(f"{self.op_where(op)}: reshaping a constant tensor is not supported; "
                              "fold it into the model before conversion")
        if int(np.prod(src.shape)) != int(np.prod(dst.shape)):
            raise TinyqiError(f"{self.op_where(op)}: {src.shape} -> {dst.shape} changes the element count")
        self.root[op.outputs[0]] = self.root.get(op.inputs[0], op.inputs[0])

    # --- result ------------------------------------------------------------------------------------------------
    def program(self) -> Program:
        model = self.model
        if len(model.outputs) != 1:
            raise TinyqiError(f"{self.where}: {len(model.outputs)} outputs; tinyqi supports single-output models")
        last = max(len(self.calls) - 1, 0)
        buffers: dict[str, Buffer] = {}

        def touch(key: str, step: int, nbytes: int, label: str) -> None:
            b = buffers.get(key)
            if b is None:
                buffers[key] = Buffer(key, nbytes, step, step, label)
            else:
                b.first, b.last = min(b.first, step), max(b.last, step)

        for i in model.inputs:
            touch(self._key(i), 0, self._nbytes(i), f"input '{self.tensor(i).name}'")
        for step, use in enumerate(self.usage):
            for key in sorted(use.reads | use.writes):
                index = int(key[1:])
                touch(key, step, self._nbytes(index), f"'{self.tensor(index).name}'")
            if use.scratch:
                touch(f"scratch{step}", step, use.scratch, f"scratch of layer {step}")
        out_key = self._key(model.outputs[0])
        touch(out_key, last, self._nbytes(model.outputs[0]), f"output '{self.tensor(model.outputs[0]).name}'")
        buffers[out_key].last = last
        inputs = [ArenaRef(self._key(i), self.dtype) for i in model.inputs]
        sizes = [int(np.prod(self.tensor(i).shape)) for i in model.inputs]
        out_size = int(np.prod(self.tensor(model.outputs[0]).shape))
        return Program(self.calls, buffers, inputs, sizes, ArenaRef(out_key, self.dtype), out_size, self.dtype)

    def _nbytes(self, index: int) -> int:
        return int(np.prod(self.tensor(index).shape)) * ELEMENT_BYTES[self.dtype]
