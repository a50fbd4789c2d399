"""Static cost of a .tflite model: multiply-accumulates (dense, and effective = skipping zero weights) and weight bytes."""

from __future__ import annotations

import numpy as np

from tinyqi.tflite_model import TfliteModel

_WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def layer_macs(model: TfliteModel, effective: bool = False) -> list[int]:
    """MACs per operator. Each output element of a weight op costs one MAC per weight of its output channel;
    `effective` counts only non-zero weights (what a CSR kernel executes)."""
    macs = []
    for op in model.operators:
        if op.op not in _WEIGHT_OPS:
            macs.append(0)
            continue
        w = model.tensor(op.inputs[1])
        out = model.tensor(op.outputs[0])
        if op.op == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, channels]: one filter column per channel
            per_channel = np.count_nonzero(w.data, axis=(0, 1, 2)) if effective else np.full(w.shape[3], w.shape[1] * w.shape[2])
        else:  # weights [out, ...]
            flat = w.data.reshape(w.shape[0], -1)
            per_channel = np.count_nonzero(flat, axis=1) if effective else np.full(w.shape[0], flat.shape[1])
        positions = int(np.prod(out.shape)) // out.shape[-1]
        macs.append(int(positions * per_channel.sum()))
    return macs


def total_macs(model: TfliteModel, effective: bool = False) -> int:
    return int(sum(layer_macs(model, effective)))


def weight_params(model: TfliteModel) -> int:
    """Number of constant weight/bias elements of the weight ops (what the float model calls parameters)."""
    seen = set()
    for op in model.operators:
        if op.op in _WEIGHT_OPS:
            seen.update(i for i in op.inputs[1:] if i >= 0)
    return int(sum(model.tensor(i).data.size for i in seen if model.tensor(i).data is not None))
