"""`tinyqi codegen MODEL_DIR --out DIR`: generate model_data.c/.h (and golden_data.c/.h) for the tinyqi runtime."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import OUT_DIR


@click.command("codegen")
@click.argument("model_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=OUT_DIR,
              help="Directory for the generated C files.")
@click.option("--dense", is_flag=True, help="Ignore CSR tables: dense kernels for every layer.")
@click.option("--float", "float_model", is_flag=True,
              help="Generate the float32 FPU baseline from model_float.tflite instead of the int8 model.")
def command(model_dir, out_dir, dense, float_model):
    """Generate C for MODEL_DIR (a run directory or one of its variants/<name>/)."""
    from tinyqi.codegen import generate_program
    from tinyqi.manifest import check_model_dir
    from tinyqi.modeldir import golden_vectors
    from tinyqi.ui import Ui

    ui = Ui()
    check_model_dir(model_dir)  # its files belong together: no golden vectors of another model
    golden, source = golden_vectors(model_dir, float_model)
    files, program = generate_program(model_dir, out_dir, use_csr=not dense, golden=golden, float_model=float_model,
                                      golden_source=source)
    for f in files:
        ui.out.print(f"wrote {f}")
    ui.out.print(f"{len(program.calls)} layers ({program.csr_layers} CSR), arena {program.arena_bytes} bytes "
                 f"({program.naive_bytes} without buffer sharing)")
    if not any(f.name == "golden_data.c" for f in files):
        ui.warn(f"no golden.npz in {model_dir}: golden_data.c/.h not written")
