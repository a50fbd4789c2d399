"""What a compressed int8 model costs on the microcontroller: weight bytes (CSR where it pays) and MACs.

weight_bytes: the int8 weight tensors of the weight ops (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED), each counted
as its CSR table (values + column indices + row pointers, CsrTable.storage_bytes) when it has one (worthwhile_tables:
smaller than the dense bytes and, for a convolution, faster), else its dense bytes. bias_bytes (int32 biases) are
reported beside it, not inside it.
effective_macs: per weight op, the non-zero weights' MACs when a CSR kernel runs it (it has a table), otherwise
the dense MACs (a dense kernel multiplies the zeros too), using tinyqi.cost's MAC counts.
"""

from __future__ import annotations

import numpy as np

from tinyqi import cost, csr
from tinyqi.tflite_model import TfliteModel

WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
# A convolution denser than this runs faster on the dense kernel (two pixels x two channels per SMLAD-fed step) than
# on the CSR one (per non-zero an index, a value and a word load for four scalar multiply-accumulates, and a walk's
# and a channel's overhead besides). Measured 2026-12-07 on the ECG QINN's channel-pruned variants
# (docs/emulation.md): 42 % and 40 % dense ran faster on the dense kernel (-1,925 and -340 cycles), 31 % and 33 % on
# the CSR one (-237 and -2,175); with the CSR kernel's word loads, 42 % is a tie (31 cycles in 40,644).
CSR_CONV_MAX_DENSITY = 0.375


def worthwhile_tables(model: TfliteModel) -> list[csr.CsrTable]:
    """CSR tables for the sparse-capable weight tensors whose table is smaller than their dense bytes; for a
    convolution, only up to CSR_CONV_MAX_DENSITY (above it the dense kernel is faster, and a few bytes larger)."""
    convolutions = {op.inputs[1] for op in model.operators if op.op == "CONV_2D"}
    return [t for t in csr.tables_from_tflite(model) if t.storage_bytes() < model.tensor(t.tensor_index).data.nbytes
            and (t.tensor_index not in convolutions or t.density <= CSR_CONV_MAX_DENSITY)]


def storage(model: TfliteModel, tables: list[csr.CsrTable]) -> dict:
    by_index = {t.tensor_index: t for t in tables}
    weights, biases = [], []
    for op in model.operators:
        if op.op in WEIGHT_OPS:
            weights.append(op.inputs[1])
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                biases.append(op.inputs[2])
    weights, biases = sorted(set(weights)), sorted(set(biases))
    weight_bytes = sum(by_index[i].storage_bytes() if i in by_index else model.tensor(i).data.nbytes for i in weights)
    dense_macs = cost.layer_macs(model)
    nonzero_macs = cost.layer_macs(model, effective=True)
    effective = sum(nz if op.op in WEIGHT_OPS and op.inputs[1] in by_index else d
                    for op, d, nz in zip(model.operators, dense_macs, nonzero_macs))
    return {
        "nonzero_weights": int(sum(np.count_nonzero(model.tensor(i).data) for i in weights)),
        "weight_bytes": int(weight_bytes),
        "dense_weight_bytes": int(sum(model.tensor(i).data.nbytes for i in weights)),
        "bias_bytes": int(sum(model.tensor(i).data.nbytes for i in biases)),
        "effective_macs": int(effective),
        "dense_macs": int(sum(dense_macs)),
        "csr_tensors": len(tables),
    }
