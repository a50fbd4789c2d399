"""One variant measured: the firmware `tinyqi build`/`tinyqi flash` make for it, run in the emulator on its golden
inputs, its outputs checked against TFLM's, and (from a second, -DTQ_PROFILE build) its cycles per layer.

Build directories: <out>/firmware/<variant>/<board> (the plain build: the binary `tinyqi flash` uploads, and the
one every cycle, latency and energy figure comes from) and <out>/firmware/<variant>/<board>-profile (per-layer
cycles only: the profiling calls add a few cycles per layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi.bench.variants import Variant
from tinyqi.emulate import EmulationResult, run_firmware
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile
from tinyqi.firmware.build import BuildResult, build


@dataclass(frozen=True)
class BenchSettings:
    board: BoardProfile
    engine: str
    out_dir: Path

    def build_dir(self, variant: str, suffix: str = "") -> Path:
        return self.out_dir / "firmware" / variant / f"{self.board.name}{suffix}"


@dataclass(frozen=True)
class Measurement:
    variant: Variant
    firmware: BuildResult
    run: EmulationResult
    outputs: np.ndarray                  # [vectors, outputs]: int8, or float32 for the float model
    reference: np.ndarray                # TFLM's outputs for the same golden inputs
    layers: tuple[tuple[str, int], ...]  # (layer name, cycles) of vector 0 in the profile build; () without cycles

    @property
    def bit_exact(self) -> bool:
        """Every output of every golden vector equals TFLM's, bit for bit (and the harness saw no mismatch when
        it compares exactly, i.e. for int8)."""
        same = self.outputs.shape == self.reference.shape and self.outputs.size > 0 and bool(
            np.array_equal(self.outputs.view(np.uint32) if self.variant.float_model else self.outputs,
                           self.reference.view(np.uint32) if self.variant.float_model else self.reference))
        return same and (self.variant.float_model or self.run.bit_exact)

    @property
    def max_abs_diff(self) -> float:
        if self.outputs.shape != self.reference.shape or not self.outputs.size:
            return float("inf")
        return float(np.max(np.abs(self.outputs.astype(np.float64) - self.reference.astype(np.float64))))

    @property
    def cycles(self) -> float | None:
        """Mean modelled cycles per inference over the golden vectors (None: the engine models no cycles)."""
        return self.run.mean_cycles


def firmware_outputs(run: EmulationResult, float_model: bool) -> np.ndarray:
    """The outputs the harness printed: int8 values, or float32 bit patterns (docs/bench.md) decoded."""
    values = np.array([vector.outputs for vector in run.vectors], dtype=np.int64)
    if float_model:
        return values.astype(np.int32).view(np.float32)
    return values.astype(np.int8)


def reference_outputs(variant: Variant) -> np.ndarray:
    """TFLM's outputs for the golden inputs: golden.npz for int8; for float32 the same rows that codegen embeds
    in the float harness (TFLM's float interpreter on testset.npz)."""
    from tinyqi.modeldir import golden_vectors  # the vectors the firmware was generated with

    golden, source = golden_vectors(variant.model_dir, variant.float_model)
    if golden is None:
        raise TinyqiError(f"{source}: missing; the bench compares the firmware with it: re-run `tinyqi train` / "
                          "`tinyqi compress`")
    dtype = np.float32 if variant.float_model else np.int8
    return np.asarray(golden["output"], dtype=dtype).reshape(len(golden["output"]), -1)


def profile_layers(variant: Variant, settings: BenchSettings) -> tuple[tuple[str, int], ...]:
    firmware = build(variant.model_dir, settings.board, settings.build_dir(variant.name, "-profile"), profile=True,
                     float_model=variant.float_model)
    run = run_firmware(firmware.elf, settings.board, settings.engine)
    return tuple(run.layer_cycles.items())


def measure_variant(variant: Variant, settings: BenchSettings) -> Measurement:
    firmware = build(variant.model_dir, settings.board, settings.build_dir(variant.name),
                     float_model=variant.float_model)
    run = run_firmware(firmware.elf, settings.board, settings.engine)
    layers = profile_layers(variant, settings) if run.cycle_model else ()
    return Measurement(variant, firmware, run, firmware_outputs(run, variant.float_model),
                       reference_outputs(variant), layers)
