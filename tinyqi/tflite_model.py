"""A read-only view of a .tflite flatbuffer: tensors, operators and their options.

The one place that parses TFLite files; convert (checks), csr (weight extraction) and codegen read models through it.
Uses the schema module that ships with ai-edge-litert, so parsing needs no TensorFlow import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tinyqi.errors import TinyqiError

_DTYPES = {
    schema.TensorType.FLOAT32: np.float32,
    schema.TensorType.INT32: np.int32,
    schema.TensorType.INT8: np.int8,
    schema.TensorType.UINT8: np.uint8,
    schema.TensorType.INT16: np.int16,
    schema.TensorType.INT64: np.int64,
    schema.TensorType.BOOL: np.bool_,
}
_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    scale: np.ndarray  # per-tensor (1 value) or per-axis; empty when not quantised
    zero_point: np.ndarray
    quantized_dimension: int
    data: np.ndarray | None  # constant data, None for activations
    is_sparse: bool  # carries TFLite sparsity metadata (TFLM would run it silently wrong)


@dataclass
class Operator:
    index: int
    op: str  # builtin name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: object | None  # the schema's *OptionsT object (attributes like strideW, fusedActivationFunction)
    version: int = 1


@dataclass
class TfliteModel:
    path: Path | None
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    raw: bytes = field(repr=False, default=b"")

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def op_names(self) -> list[str]:
        return [o.op for o in self.operators]


def load_tflite(path: str | Path) -> TfliteModel:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TinyqiError(f"{path}: cannot read the .tflite file ({exc.strerror}); check the path") from None
    return parse_tflite(raw, path)


def parse_tflite(raw: bytes, path: Path | None = None) -> TfliteModel:
    where = path or "<tflite bytes>"
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(raw), 0)
    except Exception:
        raise TinyqiError(f"{where}: not a valid TFLite flatbuffer; re-export the model with `tinyqi train`") from None
    subgraphs = model.subgraphs or []
    if len(subgraphs) != 1:
        raise TinyqiError(f"{where}: {len(subgraphs)} subgraphs; tinyqi supports single-subgraph models only")
    graph = subgraphs[0]
    tensors = [_tensor(where, i, t, model.buffers or []) for i, t in enumerate(graph.tensors or [])]
    operators = [_operator(where, i, op, model.operatorCodes or [], len(tensors))
                 for i, op in enumerate(graph.operators or [])]
    inputs, outputs = _indices(graph.inputs), _indices(graph.outputs)
    if any(not 0 <= i < len(tensors) for i in inputs + outputs):
        raise TinyqiError(f"{where}: a model input or output names a tensor outside its {len(tensors)} tensors; "
                          "the file is corrupt, re-export the model")
    return TfliteModel(path, tensors, operators, inputs, outputs, raw)


def _indices(values) -> list[int]:
    return [int(i) for i in (values if values is not None else [])]


def _tensor(where, index: int, t, buffers) -> Tensor:
    dtype = _DTYPES.get(t.type)
    name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else str(t.name)
    if dtype is None:
        raise TinyqiError(f"tensor '{name}': TFLite type {t.type} is not supported; use int8/int32/float32 tensors")
    shape = tuple(_indices(t.shape))
    if any(d < 0 for d in shape):
        raise TinyqiError(f"{where}: tensor '{name}' has shape {shape}; tinyqi needs static shapes, re-export the "
                          "model with a fixed batch size")
    q = t.quantization
    scale = np.asarray(q.scale if q is not None and q.scale is not None else [], dtype=np.float32)
    zero_point = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], dtype=np.int64)
    qdim = int(q.quantizedDimension) if q is not None else 0
    buf = buffers[t.buffer].data if 0 <= t.buffer < len(buffers) else None
    data = None
    if buf is not None and len(buf) > 0:
        data = np.frombuffer(bytes(bytearray(buf)), dtype=np.uint8)
        if data.size != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            raise TinyqiError(f"{where}: tensor '{name}' holds {data.size} bytes of data for shape {shape}; the file "
                              "is corrupt, re-export the model")
        data = data.view(dtype).reshape(shape)
    return Tensor(index, name, shape, dtype, scale, zero_point, qdim, data, t.sparsity is not None)


def _operator(where, index: int, op, codes, tensor_count: int) -> Operator:
    if not 0 <= op.opcodeIndex < len(codes):
        raise TinyqiError(f"{where}: operator {index} names operator code {op.opcodeIndex} of {len(codes)}; the file "
                          "is corrupt, re-export the model")
    code = codes[op.opcodeIndex]
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    name = _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if builtin == schema.BuiltinOperator.CUSTOM:
        name = "CUSTOM:" + (code.customCode.decode(errors="replace") if code.customCode else "?")
    inputs, outputs = _indices(op.inputs), _indices(op.outputs)
    # -1 marks an omitted optional input; an operator always writes real tensors.
    if any(not -1 <= i < tensor_count for i in inputs) or not outputs or any(
            not 0 <= i < tensor_count for i in outputs):
        raise TinyqiError(f"{where}: operator {index} ({name}) names tensors outside the model's {tensor_count}; "
                          "the file is corrupt, re-export the model")
    return Operator(index, name, inputs, outputs, op.builtinOptions, int(code.version))
