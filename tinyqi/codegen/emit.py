"""Write model_data.h / model_data.c (the generated C API of docs/architecture.md) from a planned Program."""

from __future__ import annotations

from pathlib import Path

from tinyqi.codegen.program import ARENA, Program, c_comment, render, render_definition

IO_TYPES = {"s8": "int8_t", "f32": "float"}


def banner(provenance: list[str]) -> str:
    lines = "".join(f" * {c_comment(line)}\n" for line in provenance)
    return f"/*\n{lines} */\n"


def write_header(program: Program, provenance: list[str], path: Path) -> Path:
    io = IO_TYPES[program.dtype]
    sizes = "".join(f"#define TQ_MODEL_INPUT{i}_SIZE {n} /* elements */\n" for i, n in enumerate(program.input_sizes))
    text = f"""{banner(provenance)}#ifndef TQ_MODEL_DATA_H
#define TQ_MODEL_DATA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define TQ_MODEL_INPUT_COUNT {len(program.input_sizes)}
{sizes}#define TQ_MODEL_OUTPUT_SIZE {program.output_size} /* elements */
#define TQ_MODEL_ARENA_BYTES {program.arena_bytes}
#define TQ_MODEL_LAYER_COUNT {len(program.calls)}
#define TQ_MODEL_CSR_LAYERS {program.csr_layers}
#define TQ_MODEL_IO_FLOAT {1 if program.dtype == "f32" else 0}

typedef {io} tq_model_io_t; /* element type of inputs and output */

extern const char *const tq_model_layer_names[TQ_MODEL_LAYER_COUNT];

/* Where to write input `index` (.tflite input order) before invoking; NULL for an unknown index. */
tq_model_io_t *tq_model_input(int index);
const tq_model_io_t *tq_model_output(void);
/* Runs the layers in order: no interpreter, no malloc. With TQ_PROFILE defined, calls
 * tq_profile_layer_end(layer) after each layer. */
void tq_model_invoke(void);

#ifdef __cplusplus
}}
#endif

#endif /* TQ_MODEL_DATA_H */
"""
    path.write_text(text)
    return path


def _arena_plan_comment(program: Program) -> str:
    rows = sorted(program.buffers.values(), key=lambda b: (b.offset, b.key))
    lines = [f" *   [{b.offset:6d}, {b.offset + b.nbytes:6d}) layers {b.first}..{b.last}  {c_comment(b.label)}"
             for b in rows]
    return ("/* Activation arena: buffers whose lifetimes overlap never share bytes "
            f"({program.arena_bytes} bytes; {program.naive_bytes} without sharing).\n" + "\n".join(lines) + "\n */\n")


def write_source(program: Program, provenance: list[str], path: Path) -> Path:
    io = IO_TYPES[program.dtype]
    b = program.buffers
    parts = [banner(provenance),
             '#include <stddef.h>\n#include <stdint.h>\n\n#include "model_data.h"\n#include "tinyqi.h"\n\n']
    parts.append("#ifdef TQ_PROFILE\nvoid tq_profile_layer_end(int layer);\n#define TQ_LAYER_END(layer) "
                 "tq_profile_layer_end(layer)\n#else\n#define TQ_LAYER_END(layer) ((void)0)\n#endif\n\n")
    parts.append(_arena_plan_comment(program))
    words = max(program.arena_bytes // 4, 1)
    parts.append(f"static union {{\n    uint32_t words[{words}];\n    int8_t s8[{words * 4}];\n"
                 f"    float f32[{words}];\n}} {ARENA};\n\n")
    names = ", ".join(f'"{c.layer_name}"' for c in program.calls)
    parts.append(f"const char *const tq_model_layer_names[TQ_MODEL_LAYER_COUNT] = {{{names}}};\n\n")
    for i, call in enumerate(program.calls):
        parts.append(f"/* ---- layer {i}: {c_comment(call.comment)} */\n")
        parts.extend(render_definition(d, b) for d in call.definitions)
        parts.append("\n")
    cases = "".join(f"    case {i}:\n        return {render(ref, b)};\n" for i, ref in enumerate(program.inputs))
    parts.append(f"{io} *tq_model_input(int index)\n{{\n    switch (index) {{\n{cases}    default:\n"
                 f"        return NULL;\n    }}\n}}\n\n")
    parts.append(f"const {io} *tq_model_output(void)\n{{\n    return {render(program.output, b)};\n}}\n\n")
    body = "".join(f"    {c.kernel}({', '.join(render(a, b) for a in c.args)});\n    TQ_LAYER_END({i});\n"
                   for i, c in enumerate(program.calls))
    parts.append(f"void tq_model_invoke(void)\n{{\n{body}}}\n")
    path.write_text("".join(parts))
    return path

