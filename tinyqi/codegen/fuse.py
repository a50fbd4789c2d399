"""Which MAX_POOL_2D layers the int8 program folds into the CONV_2D before them.

Every 1-D ECG and vibration front end is Conv1D + ReLU then MaxPooling1D(2): TFLite lowers it to CONV_2D followed by
MAX_POOL_2D 1x2 / stride 2 (through RESHAPE views at most). Requantisation is monotonic when the multiplier is
below 1 (shift <= 0: no wrapping left shift; the rounding steps, offset and clamp are all non-decreasing), so
max(requantise(a), requantise(b)) == requantise(max(a, b)): the convolution can pool its accumulators and
requantise half as many values, bit-exact with TFLM running both ops. The conv lowering (ops_s8.conv2d) checks
the multipliers and emits `pool_w = 2`; this module only finds the candidate pairs in the graph.
"""

from __future__ import annotations

from tinyqi.codegen.lowering import ALIAS_OPS
from tinyqi.codegen.quant import PADDING_VALID
from tinyqi.tflite_model import Operator, TfliteModel

FUSED_POOL_W = 2


def _is_pool_1x2(op: Operator) -> bool:
    o = op.options
    return (op.op == "MAX_POOL_2D" and int(o.filterHeight) == 1 and int(o.filterWidth) == FUSED_POOL_W
            and int(o.strideH) == 1 and int(o.strideW) == FUSED_POOL_W and int(o.padding) == PADDING_VALID
            and int(getattr(o, "fusedActivationFunction", 0)) == 0)


def fusable_pools(model: TfliteModel) -> dict[int, Operator]:
    """CONV_2D op index -> the MAX_POOL_2D 1x2 / stride 2 that alone reads its output (through RESHAPE views)."""
    producer = {t: op for op in model.operators for t in op.outputs}
    readers: dict[int, int] = {}
    for op in model.operators:
        for t in op.inputs:
            readers[t] = readers.get(t, 0) + 1
    outputs = set(model.outputs)
    pairs = {}
    for pool in (op for op in model.operators if _is_pool_1x2(op)):
        tensor = pool.inputs[0]
        source = producer.get(tensor)
        while source is not None and source.op in ALIAS_OPS and readers.get(tensor) == 1 and tensor not in outputs:
            tensor = source.inputs[0]
            source = producer.get(tensor)
        if source is None or source.op != "CONV_2D" or readers.get(tensor) != 1 or tensor in outputs:
            continue
        conv_out, pool_in = model.tensor(source.outputs[0]).shape, model.tensor(pool.inputs[0]).shape
        if len(conv_out) == 4 and tuple(conv_out) == tuple(pool_in):
            pairs[source.index] = pool
    return pairs
