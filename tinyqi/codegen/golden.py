"""golden_data.h / golden_data.c: embedded test vectors (golden.npz, docs/architecture.md) for the firmware."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.codegen.emit import IO_TYPES, banner
from tinyqi.codegen.program import Program, render_array_rows, render_array_values
from tinyqi.errors import TinyqiError


def check_golden(golden: dict[str, np.ndarray], program: Program, where: str) -> int:
    """Number of vectors, after checking the arrays fit the model's inputs and output."""
    count = len(golden["output"])
    for k, size in enumerate(program.input_sizes):
        key = f"input{k}"
        if key not in golden:
            raise TinyqiError(f"{where}: golden vectors lack '{key}'; regenerate golden.npz for this model")
        if len(golden[key]) != count or golden[key][0].size != size:
            raise TinyqiError(f"{where}: golden '{key}' has shape {golden[key].shape}, the model input has {size} "
                              "elements; regenerate golden.npz for this model")
    if golden["output"][0].size != program.output_size:
        raise TinyqiError(f"{where}: golden 'output' has shape {golden['output'].shape}, the model output has "
                          f"{program.output_size} elements; regenerate golden.npz for this model")
    return count


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
