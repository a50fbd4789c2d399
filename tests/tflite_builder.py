"""Small hand-built .tflite models (TFLite's schema object API, no TensorFlow): exact control over every tensor's
type and quantisation, for the bad-input tests. `chain_model()` is a valid int8 model TFLM runs, touching every int8
rescale codegen computes (MEAN, FULLY_CONNECTED, ADD, MUL, QUANTIZE, TANH, LOGISTIC, SOFTMAX); `conv_model()` adds
CONV_2D with per-channel weights."""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

T = schema.TensorType
TYPES = {np.dtype(np.int8): T.INT8, np.dtype(np.uint8): T.UINT8, np.dtype(np.int16): T.INT16,
         np.dtype(np.int32): T.INT32, np.dtype(np.float32): T.FLOAT32}


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: type = np.int8
    scale: list[float] | None = None
    zero_point: list[int] | None = None
    data: np.ndarray | None = None


@dataclass
class OpSpec:
    op: str
    inputs: list[str]
    outputs: list[str]
    options: object | None = None
    option_type: int = 0


@dataclass
class ModelSpec:
    tensors: dict[str, TensorSpec] = field(default_factory=dict)
    ops: list[OpSpec] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def add(self, *specs: TensorSpec) -> None:
        for spec in specs:
            self.tensors[spec.name] = spec

    def to_bytes(self) -> bytes:
        names = list(self.tensors)
        buffers = [_buffer(None)]
        tensors = []
        for name in names:
            spec = self.tensors[name]
            t = schema.TensorT()
            t.name, t.shape, t.type = name, list(spec.shape), TYPES[np.dtype(spec.dtype)]
            t.buffer = len(buffers)
            buffers.append(_buffer(spec.data))
            if spec.scale is not None:
                q = schema.QuantizationParametersT()
                q.scale, q.zeroPoint = list(spec.scale), list(spec.zero_point)
                t.quantization = q
            tensors.append(t)
        codes = sorted({op.op for op in self.ops})
        model = schema.ModelT()
        model.version, model.buffers = 3, buffers
        model.operatorCodes = [_code(name) for name in codes]
        graph = schema.SubGraphT()
        graph.tensors = tensors
        graph.inputs = [names.index(n) for n in self.inputs]
        graph.outputs = [names.index(n) for n in self.outputs]
        graph.operators = [_operator(op, codes, names) for op in self.ops]
        model.subgraphs = [graph]
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _buffer(data: np.ndarray | None):
    buffer = schema.BufferT()
    buffer.data = None if data is None else list(np.ascontiguousarray(data).tobytes())
    return buffer


def _code(name: str):
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, name)
    code.version = 1
    return code


def _operator(op: OpSpec, codes: list[str], names: list[str]):
    operator = schema.OperatorT()
    operator.opcodeIndex = codes.index(op.op)
    operator.inputs = [names.index(n) if n else -1 for n in op.inputs]
    operator.outputs = [names.index(n) for n in op.outputs]
    operator.builtinOptionsType, operator.builtinOptions = op.option_type, op.options
    return operator


def _options(kind: str, **values):
    options = getattr(schema, f"{kind}T")()
    for key, value in values.items():
        setattr(options, key, value)
    return options, getattr(schema.BuiltinOptions, kind)


def _op(name: str, inputs, outputs, kind: str | None = None, **values) -> OpSpec:
    options, option_type = _options(kind, **values) if kind else (None, 0)
    return OpSpec(name, list(inputs), list(outputs), options, option_type)


def chain_model(dtype=np.int8) -> ModelSpec:
    """x[1,2,4] -> MEAN -> FULLY_CONNECTED -> ADD const -> MUL -> QUANTIZE -> TANH -> LOGISTIC -> SOFTMAX -> y[1,3].
    With dtype float32 every activation is float32 (the float model in place of the int8 one)."""
    rng = np.random.default_rng(0)
    m = ModelSpec()
    q = dtype == np.int8

    def act(name, shape, scale, zero_point):
        return TensorSpec(name, shape, dtype, [scale] if q else None, [zero_point] if q else None)

    weights = rng.integers(-127, 128, (3, 4)).astype(np.int8) if q else rng.normal(size=(3, 4)).astype(np.float32)
    bias = np.array([300, -200, 50], np.int32) if q else np.array([0.1, -0.2, 0.05], np.float32)
    addend = np.array([[5, -20, 60]], np.int8) if q else np.array([[0.1, -0.2, 0.3]], np.float32)
    m.add(act("in0_x", (1, 2, 4), 0.02, 3), TensorSpec("axes", (1,), np.int32, data=np.array([1], np.int32)),
          act("mean", (1, 4), 0.015, -2),
          TensorSpec("w", (3, 4), dtype, [0.01, 0.02, 0.005] if q else None, [0, 0, 0] if q else None, weights),
          TensorSpec("b", (3,), np.int32 if q else dtype, [0.0002] if q else None, [0] if q else None, bias),
          act("fc", (1, 3), 0.05, -10), TensorSpec("c", (1, 3), dtype, [0.04] if q else None, [1] if q else None,
                                                   addend),
          act("add", (1, 3), 0.08, 4), act("mul", (1, 3), 0.3, -7), act("requant", (1, 3), 0.25, 0),
          act("tanh", (1, 3), 1 / 128, 0), act("logistic", (1, 3), 1 / 256, -128),
          act("y", (1, 3), 1 / 256, -128))
    m.ops = [_op("MEAN", ["in0_x", "axes"], ["mean"], "ReducerOptions", keepDims=False),
             _op("FULLY_CONNECTED", ["mean", "w", "b"], ["fc"], "FullyConnectedOptions"),
             _op("ADD", ["fc", "c"], ["add"], "AddOptions"),
             _op("MUL", ["add", "fc"], ["mul"], "MulOptions"),
             _op("QUANTIZE" if q else "TANH", ["mul"], ["requant"]),
             _op("TANH", ["requant"], ["tanh"]), _op("LOGISTIC", ["tanh"], ["logistic"]),
             _op("SOFTMAX", ["logistic"], ["y"], "SoftmaxOptions", beta=1.0)]
    m.inputs, m.outputs = ["in0_x"], ["y"]
    return m


def conv_model() -> ModelSpec:
    """x[1,1,6,2] -> CONV_2D (3 channels, per-channel scales, 1x3 VALID, RELU6) -> y[1,1,4,3]."""
    rng = np.random.default_rng(1)
    m = ModelSpec()
    m.add(TensorSpec("in0_x", (1, 1, 6, 2), np.int8, [0.03], [-1]),
          TensorSpec("w", (3, 1, 3, 2), np.int8, [0.01, 0.004, 0.02], [0, 0, 0],
                     rng.integers(-127, 128, (3, 1, 3, 2)).astype(np.int8)),
          TensorSpec("b", (3,), np.int32, [0.0003, 0.00012, 0.0006], [0, 0, 0], np.array([10, -40, 7], np.int32)),
          TensorSpec("y", (1, 1, 4, 3), np.int8, [0.02], [-5]))
    m.ops = [_op("CONV_2D", ["in0_x", "w", "b"], ["y"], "Conv2DOptions", padding=schema.Padding.VALID, strideW=1,
                 strideH=1, dilationWFactor=1, dilationHFactor=1,
                 fusedActivationFunction=schema.ActivationFunctionType.RELU6)]
    m.inputs, m.outputs = ["in0_x"], ["y"]
    return m
