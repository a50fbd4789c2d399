"""golden_data.h / golden_data.c: embedded test vectors (golden.npz, docs/architecture.md) for the firmware."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.codegen.emit import IO_TYPES, banner
from tinyqi.codegen.program import Program, render_array_rows, render_array_values
from tinyqi.errors import TinyqiError
from tinyqi.files import read_npz


GOLDEN_TODO = "regenerate golden.npz for this model (`tinyqi train` or `tinyqi compress`)"
IO_DTYPES = {"s8": np.int8, "f32": np.float32}


def load_golden(path: Path) -> dict[str, np.ndarray]:
    """golden.npz as arrays; check_golden then checks them against the model they are for."""
    return read_npz(path, GOLDEN_TODO)


def check_golden(golden: dict[str, np.ndarray], program: Program, where: str) -> int:
    """Number of vectors, after checking the arrays fit the model's inputs and output exactly: the firmware
    compares its outputs with them, so a wrong dtype (wrapped into int8) or shape is a wrong verdict."""
    if not isinstance(golden, dict):
        raise TinyqiError(f"{where}: golden vectors must be a dict of arrays, not {type(golden).__name__}")
    keys = [f"input{k}" for k in range(len(program.input_sizes))] + ["output"]
    missing = [key for key in keys if key not in golden]
    if missing:
        raise TinyqiError(f"{where}: golden vectors lack '{missing[0]}'; {GOLDEN_TODO}")
    output = np.asarray(golden["output"])
    count = len(output) if output.ndim else 0
    if count == 0:
        raise TinyqiError(f"{where}: golden 'output' holds no vectors; {GOLDEN_TODO}")
    for key, size in zip(keys, [*program.input_sizes, program.output_size]):
        _check_rows(np.asarray(golden[key]), key, size, count, program.dtype, where)
    for key in ("label", "index"):
        value = np.asarray(golden.get(key, np.zeros(count, np.int32)))
        int32 = np.iinfo(np.int32)
        if value.shape != (count,) or not np.issubdtype(value.dtype, np.integer) or (
                value.min() < int32.min or value.max() > int32.max):
            raise TinyqiError(f"{where}: golden '{key}' is {value.dtype}{list(value.shape)}, expected {count} "
                              f"int32 values; {GOLDEN_TODO}")
    return count


def _check_rows(values: np.ndarray, key: str, size: int, count: int, dtype: str, where: str) -> None:
    expected = np.dtype(IO_DTYPES[dtype])
    if values.dtype != expected:
        raise TinyqiError(f"{where}: golden '{key}' is {values.dtype}, the model's are {expected.name}; "
                          f"{GOLDEN_TODO}")
    if values.ndim < 1 or len(values) != count or values[0].size != size:
        raise TinyqiError(f"{where}: golden '{key}' has shape {values.shape}, expected {count} rows of {size} "
                          f"elements; {GOLDEN_TODO}")
    if dtype == "f32" and not np.all(np.isfinite(values)):
        raise TinyqiError(f"{where}: golden '{key}' holds NaN/Inf values; {GOLDEN_TODO}")


def write_golden(golden: dict[str, np.ndarray], program: Program, provenance: list[str], out_dir: Path,
                 where: str) -> list[Path]:
    count = check_golden(golden, program, where)
    io = IO_TYPES[program.dtype]
    dtype = np.float32 if program.dtype == "f32" else np.int8
    labels = np.asarray(golden.get("label", np.full(count, -1)), dtype=np.int32)
    index = np.asarray(golden.get("index", np.arange(count)), dtype=np.int32)
    decls = [f"extern const {io} tq_golden_input{k}[TQ_GOLDEN_COUNT][TQ_MODEL_INPUT{k}_SIZE];"
             for k in range(len(program.input_sizes))]
    header = (f"{banner(provenance)}#ifndef TQ_GOLDEN_DATA_H\n#define TQ_GOLDEN_DATA_H\n\n#include <stdint.h>\n\n"
              f'#include "model_data.h"\n\n#define TQ_GOLDEN_COUNT {count}\n\n' + "\n".join(decls) +
              f"\nextern const {io} tq_golden_output[TQ_GOLDEN_COUNT][TQ_MODEL_OUTPUT_SIZE];\n"
              "extern const int32_t tq_golden_label[TQ_GOLDEN_COUNT]; /* class label, -1 when unknown */\n"
              "extern const int32_t tq_golden_index[TQ_GOLDEN_COUNT]; /* row in testset.npz */\n\n"
              "#endif /* TQ_GOLDEN_DATA_H */\n")
    parts = [banner(provenance), '#include "golden_data.h"\n\n']
    for k in range(len(program.input_sizes)):
        values = np.asarray(golden[f"input{k}"]).astype(dtype).reshape(count, -1)
        parts.append(f"const {io} tq_golden_input{k}[TQ_GOLDEN_COUNT][TQ_MODEL_INPUT{k}_SIZE] = "
                     f"{render_array_rows(values)};\n\n")
    outputs = np.asarray(golden["output"]).astype(dtype).reshape(count, -1)
    parts.append(f"const {io} tq_golden_output[TQ_GOLDEN_COUNT][TQ_MODEL_OUTPUT_SIZE] = "
                 f"{render_array_rows(outputs)};\n\n")
    parts.append(f"const int32_t tq_golden_label[TQ_GOLDEN_COUNT] = {render_array_values(labels)};\n\n")
    parts.append(f"const int32_t tq_golden_index[TQ_GOLDEN_COUNT] = {render_array_values(index)};\n")
    h, c = out_dir / "golden_data.h", out_dir / "golden_data.c"
    h.write_text(header)
    c.write_text("".join(parts))
    return [h, c]
