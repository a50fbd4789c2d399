"""The CMSIS-NN side by side: each int8 variant's model also built with CMSIS-NN kernels (tinyqi.peers.cmsis_nn;
dense, since CMSIS-NN has no sparse kernels), run on the same golden vectors by the same engine, and compared
layer by layer with tinyqi's kernels (dense or CSR) on the same weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyqi.bench.measure import BenchSettings, Measurement, firmware_outputs
from tinyqi.emulate import run_firmware
from tinyqi.peers.cmsis_nn import CMSIS_NN_VERSION, PEER_SUFFIX, build_peer
from tinyqi.tflite_model import load_tflite

PEER_BUILD = "-cmsis-nn"
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@dataclass(frozen=True)
class LayerComparison:
    op_index: int
    op: str
    ours: str                 # our layer name, e.g. "3:conv_2d_csr" or, fused, "1+2:conv_2d_csr+max_pool_2d"
    peer: str                 # the peer's, e.g. "3:conv_2d_cmsis_nn" (no suffix: tinyqi's kernel ran there too),
                              # "+"-joined when our layer fused several ops
    sparsity: float | None    # fraction of zero weights of the layer (None: no weights)
    cycles_ours: int
    cycles_peer: int

    @property
    def cmsis_nn(self) -> bool:
        """CMSIS-NN ran this layer (all of its ops, when fused)."""
        return all(part.endswith(PEER_SUFFIX) for part in self.peer.split("+"))

    @property
    def ratio(self) -> float | None:
        """Our cycles / CMSIS-NN's: below 1 means tinyqi is faster."""
        return self.cycles_ours / self.cycles_peer if self.cycles_peer else None

    def as_dict(self) -> dict:
        return {"op_index": self.op_index, "op": self.op, "ours": self.ours, "cmsis_nn": self.peer,
                "runs_cmsis_nn": self.cmsis_nn, "weight_sparsity": _round(self.sparsity),
                "cycles_ours": self.cycles_ours, "cycles_cmsis_nn": self.cycles_peer, "ratio": _round(self.ratio)}


@dataclass(frozen=True)
class PeerComparison:
    variant: str
    cycles_ours: float
    cycles_peer: float
    bit_exact: bool           # the peer's outputs equal TFLM's on every golden vector
    outputs_equal_ours: bool
    flash_bytes: int
    layers: tuple[LayerComparison, ...]

    @property
    def ratio(self) -> float:
        return self.cycles_ours / self.cycles_peer

    @property
    def cmsis_layers_ratio(self) -> float | None:
        """Our cycles / CMSIS-NN's, summed over the layers CMSIS-NN ran."""
        ours = sum(layer.cycles_ours for layer in self.layers if layer.cmsis_nn)
        peer = sum(layer.cycles_peer for layer in self.layers if layer.cmsis_nn)
        return ours / peer if peer else None

    def as_dict(self) -> dict:
        return {"variant": self.variant, "cycles_ours": round(self.cycles_ours),
                "cycles_cmsis_nn": round(self.cycles_peer), "ratio": _round(self.ratio),
                "cmsis_nn_layers_ratio": _round(self.cmsis_layers_ratio), "bit_exact": self.bit_exact,
                "outputs_equal_ours": self.outputs_equal_ours, "flash_bytes_cmsis_nn": self.flash_bytes,
                "layers": [layer.as_dict() for layer in self.layers]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def weight_sparsity(measurement: Measurement) -> dict[int, float]:
    """Fraction of exactly-zero int8 weights of each CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, by op index."""
    model = load_tflite(measurement.variant.model_dir / "model_int8.tflite")
    sparsity = {}
    for op in model.operators:
        if op.op in WEIGHT_OPS:
            weights = model.tensor(op.inputs[1]).data
            sparsity[op.index] = float(np.count_nonzero(weights == 0) / weights.size)
    return sparsity


def _op_indices(layer_name: str) -> list[int]:
    """'3:conv_2d_csr' -> [3]; a fused layer names all its ops: '1+2:conv_2d+max_pool_2d' -> [1, 2]."""
    return [int(index) for index in layer_name.split(":", 1)[0].split("+")]


def compare_layers(ours: tuple[tuple[str, int], ...], peer: tuple[tuple[str, int], ...],
                   sparsity: dict[int, float], ops: dict[int, str]) -> tuple[LayerComparison, ...]:
    """Pairs the two programs' layers by TFLite op index (both lower the same ops in the same order); where tinyqi
    fused ops into one call (codegen.fuse) the peer's layers of those ops are summed against it."""
    peer_by_op = {}
    for name, cycles in peer:
        for index in _op_indices(name):
            peer_by_op[index] = (name, cycles)
    pairs = []
    for name, cycles in ours:
        indices = _op_indices(name)
        peer_layers = [peer_by_op[index] for index in indices]
        pairs.append(LayerComparison(indices[0], "+".join(ops[index] for index in indices), name,
                                     "+".join(layer for layer, _ in peer_layers), sparsity.get(indices[0]), cycles,
                                     sum(layer_cycles for _, layer_cycles in peer_layers)))
    return tuple(pairs)


def compare_with_cmsis_nn(measurement: Measurement, settings: BenchSettings) -> PeerComparison:
    """Build and run the CMSIS-NN peer of an int8 variant (plain build for totals, profile build for layers)."""
    variant = measurement.variant
    plain = build_peer(variant.model_dir, settings.board, settings.build_dir(variant.name, PEER_BUILD))
    run = run_firmware(plain.elf, settings.board, settings.engine)
    profiled = build_peer(variant.model_dir, settings.board, settings.build_dir(variant.name, PEER_BUILD + "-profile"),
                          profile=True)
    layers = tuple(run_firmware(profiled.elf, settings.board, settings.engine).layer_cycles.items())
    outputs = firmware_outputs(run, float_model=False)
    model = load_tflite(variant.model_dir / "model_int8.tflite")
    ops = {op.index: op.op for op in model.operators}
    return PeerComparison(
        variant=variant.name, cycles_ours=measurement.cycles, cycles_peer=run.mean_cycles,
        bit_exact=run.bit_exact and bool(np.array_equal(outputs, measurement.reference)),
        outputs_equal_ours=bool(np.array_equal(outputs, measurement.outputs)), flash_bytes=plain.flash_bytes,
        layers=compare_layers(measurement.layers, layers, weight_sparsity(measurement), ops))


def peer_description() -> str:
    return (f"CMSIS-NN v{CMSIS_NN_VERSION} (sources from the PyPI package bakenn==1.0.0), DSP build for "
            "Cortex-M4, called with TFLM's quantisation parameters; layers it has no kernel for run tinyqi's")
