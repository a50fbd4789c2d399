"""bench.json rows: one per variant, from its measurement, its metrics.json and the board's energy figures."""

from __future__ import annotations

import math

from tinyqi.bench.measure import Measurement
from tinyqi.bench.variants import FLOAT_VARIANT, INT8_VARIANT
from tinyqi.energy import Cell, PowerFigures, estimate

# The keys every row has (issue #5); the keys after them are extra detail.
ROW_KEYS = ("variant", "accuracy", "macro_f1", "flash_bytes", "ram_bytes", "cycles", "latency_ms", "energy_uj",
            "battery_days", "bit_exact", "engine")


def kernels(measurement: Measurement) -> str:
    if measurement.variant.float_model:
        return "float32 dense (FPU)"
    names = [name for name, _ in measurement.layers]
    csr = sum(1 for name in names if name.endswith("_csr"))
    if csr:
        return f"int8, CSR in {csr} of {len(names)} layers"
    return "int8 dense" if names or not measurement.variant.has_csr else "int8 with CSR tables"


def bench_row(measurement: Measurement, figures: PowerFigures | None, per_minute: float, cell: Cell) -> dict:
    variant = measurement.variant
    metrics = variant.metrics[variant.metrics_key]
    cycles = measurement.cycles
    energy = estimate(cycles, figures, per_minute, cell) if cycles is not None and figures is not None else None
    size = measurement.firmware.breakdown
    return {
        "variant": variant.name,
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "flash_bytes": measurement.firmware.flash_bytes,
        "ram_bytes": measurement.firmware.ram_bytes,
        "cycles": None if cycles is None else round(cycles),
        "latency_ms": None if cycles is None else round(cycles / measurement.run.clock_hz * 1e3, 4),
        "energy_uj": None if energy is None else round(energy.energy_uj, 4),
        "battery_days": None if energy is None else round(energy.battery_days, 1),
        "bit_exact": measurement.bit_exact,
        "engine": measurement.run.engine,
        "kernels": kernels(measurement),
        "model_flash_bytes": size.model_and_runtime_flash_bytes,
        "golden_flash_bytes": next((s.bytes for s in size.sections if s.name == ".tq_golden"), 0),
        "arena_bytes": size.arena_bytes,
        "vectors": len(measurement.run.vectors),
        "max_abs_diff": measurement.max_abs_diff if math.isfinite(measurement.max_abs_diff) else None,
        "model_dir": str(variant.model_dir),
        "elf": str(measurement.firmware.elf),
        "layer_cycles": [{"layer": name, "cycles": cycles} for name, cycles in measurement.layers],
    }


def add_ratios(rows: list[dict]) -> None:
    """x fewer cycles than int8 dense and x less energy than float32 dense (the product's headline claims)."""
    by_name = {row["variant"]: row for row in rows}
    int8, float32 = by_name.get(INT8_VARIANT), by_name.get(FLOAT_VARIANT)
    for row in rows:
        row["speedup_vs_int8_dense"] = _ratio(int8, row, "cycles")
        row["energy_saving_vs_float32_dense"] = _ratio(float32, row, "energy_uj")


def _ratio(reference: dict | None, row: dict, key: str) -> float | None:
    if reference is None or not reference.get(key) or not row.get(key):
        return None
    return round(reference[key] / row[key], 3)


def pareto_front(rows: list[dict], quality: str = "accuracy") -> list[str]:
    """Variants no other variant beats on both `quality` (higher) and energy per inference (lower), cheapest
    first."""
    candidates = sorted((row for row in rows if row.get("energy_uj") is not None),
                        key=lambda row: (row["energy_uj"], -row[quality], row["variant"]))
    front, best = [], float("-inf")
    for row in candidates:
        if row[quality] > best:
            front.append(row["variant"])
            best = row[quality]
    return front
