"""The benchmark users decide from: every variant of a run (float32, int8 dense, compressed CSR variants) built
into the firmware `tinyqi flash` uploads, run in the emulator on its golden vectors, and tabulated with accuracy,
flash, RAM, cycles, latency, energy and battery life; plus the CMSIS-NN side by side. docs/bench.md."""

from tinyqi.bench.run import BenchOptions, run_bench

__all__ = ["BenchOptions", "run_bench"]
