"""Lower a TFLite graph to a Program: kernel calls in operator order over arena buffers, and const definitions.

Each op is lowered by tinyqi.codegen.ops_s8 / ops_f32 within a tinyqi.codegen.lowering.Lowering; RESHAPE,
EXPAND_DIMS and SQUEEZE only alias their input's buffer.
"""

from __future__ import annotations

import numpy as np

from tinyqi.codegen import ops_f32, ops_s8
from tinyqi.codegen.fuse import fusable_pools
from tinyqi.codegen.lowering import ALIAS_OPS, DTYPES, Lowering
from tinyqi.codegen.program import Program
from tinyqi.csr import CsrTable
from tinyqi.errors import TinyqiError
from tinyqi.tflite_model import TfliteModel


def lower(model: TfliteModel, where: str, dtype: str, csr: dict[int, CsrTable]) -> Program:
    lowerings = ops_s8.LOWERINGS if dtype == "s8" else ops_f32.LOWERINGS
    lw = Lowering(model, where, dtype, csr)
    if dtype == "s8":
        lw.fused_pools = fusable_pools(model)
    for i in model.inputs:
        t = model.tensor(i)
        if t.dtype != DTYPES[dtype]:
            raise TinyqiError(f"{where}: model input '{t.name}' is {np.dtype(t.dtype).name}, expected "
                              f"{np.dtype(DTYPES[dtype]).name}; export the model with "
                              f"{'int8' if dtype == 's8' else 'float32'} inputs")
    for op in model.operators:
        lw.op = op
        if op.op in ALIAS_OPS:
            lw.alias(op)
            continue
        if op.index in lw.absorbed:
            continue
        lowering = lowerings.get(op.op)
        if lowering is None:
            supported = ", ".join(sorted(set(lowerings) | ALIAS_OPS))
            raise TinyqiError(f"{lw.op_where(op)}: op {op.op} is not supported by tinyqi codegen ({dtype}); "
                              f"supported: {supported}")
        lw.begin(op)
        lowering(lw)
    program = lw.program()
    program.csr_layers = sum(1 for c in program.calls if "_csr_" in c.kernel)
    return program
