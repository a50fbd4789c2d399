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
    if len(model.subgraphs) != 1:
        raise TinyqiError(f"{where}: {len(model.subgraphs)} subgraphs; tinyqi supports single-subgraph models only")
    graph = model.subgraphs[0]
    tensors = [_tensor(i, t, model.buffers) for i, t in enumerate(graph.tensors)]
    operators = [_operator(i, op, model.operatorCodes) for i, op in enumerate(graph.operators or [])]
    return TfliteModel(path, tensors, operators, list(graph.inputs), list(graph.outputs), raw)


def _tensor(index: int, t, buffers) -> Tensor:
    dtype = _DTYPES.get(t.type)
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
    if dtype is None:
        raise TinyqiError(f"tensor '{name}': TFLite type {t.type} is not supported; use int8/int32/float32 tensors")
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    q = t.quantization
    scale = np.asarray(q.scale if q is not None and q.scale is not None else [], dtype=np.float32)
    zero_point = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], dtype=np.int64)
    qdim = int(q.quantizedDimension) if q is not None else 0
    buf = buffers[t.buffer].data if 0 <= t.buffer < len(buffers) else None
    data = None
    if buf is not None and len(buf) > 0:
        data = np.frombuffer(bytes(bytearray(buf)), dtype=dtype).reshape(shape)
    return Tensor(index, name, shape, dtype, scale, zero_point, qdim, data, t.sparsity is not None)


def _operator(index: int, op, codes) -> Operator:
    code = codes[op.opcodeIndex]
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    name = _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if builtin == schema.BuiltinOperator.CUSTOM:
        name = "CUSTOM:" + (code.customCode.decode() if code.customCode else "?")
    return Operator(index, name, [int(i) for i in op.inputs], [int(i) for i in op.outputs], op.builtinOptions,
                    int(code.version))
