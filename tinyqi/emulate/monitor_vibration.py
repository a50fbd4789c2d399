"""The vibration task of `tinyqi emulate --app monitor` (firmware/monitor/main_vibration.c): a TQW line per window.

Reference: tinyqi.signal.vibration.windows (hop vibration.HOP, back to back) on every record of the stream, then
TFLM's int8 outputs (tinyqi.convert.run_tflm) for every window, the chain's ints being the model's int8 inputs. A
window line also gives its own chain cycles (its WINDOW pushes and the window written into the model's input). The
run, the ELF, the stream and monitor.json are the monitor's (tinyqi.emulate.monitor).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.emulate.monitor import MonitorResult, MonitorTask, Reference, StreamRecord, tflm_reference
from tinyqi.firmware.build import MODEL_FILE
from tinyqi.firmware.monitor import vibration_input
from tinyqi.signal import vibration


def reference_windows(counts: np.ndarray, tflite: bytes) -> Reference:
    """The chain's windows of one record (back to back) and TFLM's int8 outputs for them."""
    return tflm_reference(vibration.window_starts(len(counts)), tflite, [vibration.windows(counts)[..., None]])


def references(model_dir: Path, stream: list[StreamRecord]) -> list[Reference]:
    vibration_input(model_dir)
    tflite = (model_dir / MODEL_FILE).read_bytes()
    return [reference_windows(record.adc, tflite) for record in stream]


def chain_cycles_per_window(result: MonitorResult) -> float | None:
    """Mean of the windows' own chain cycles: WINDOW pushes and one tq_vib_window."""
    lines = result.output.lines
    return sum(line.chain_cycles for line in lines) / len(lines) if lines else None


def energy(result: MonitorResult, figures, sampling, windows_per_minute: float):
    """tinyqi.energy.vibration_job_energy: a window's chain and model, and the FIFO batches that fill it."""
    from tinyqi.energy import vibration_job_energy

    return vibration_job_energy(chain_cycles_per_window(result), result.model_cycles_per_inference, figures,
                                sampling, windows_per_minute, vibration.WINDOW)


def cycle_fields(result: MonitorResult) -> dict:
    done = result.done
    return {"chain_cycles_per_window": chain_cycles_per_window(result),
            "chain_cycles_per_sample": done.chain_cycles / done.samples if done.samples else None}


def energy_fields(energy, figures, sampling) -> dict:
    from tinyqi.energy import FIFO_READOUT, VIBRATION_SENSOR_NOTE

    return {
        "windows_per_minute": energy.windows_per_minute, "cpu_duty": energy.cpu_duty,
        "active_ms_per_window": energy.active_seconds_per_window * 1e3,
        "average_current_ua": energy.average_current_a * 1e6, "average_power_uw": energy.average_power_w * 1e6,
        "energy_per_window_uj": energy.energy_per_window_uj,
        "active_energy_per_window_uj": energy.active_energy_per_window_uj, "battery_days": energy.battery_days,
        "cell": energy.cell.name, "cell_capacity_mah": energy.cell.capacity_mah,
        "current_parts_ua": {name: value * 1e6 for name, value in energy.current_parts_a.items()},
        "cpu_figures": figures.provenance,
        "sampling_figures": (f"wake-up {sampling.wake_seconds * 1e6:g} us per FIFO batch, sleep with the RTC on "
                             f"{sampling.sleep_current * 1e6:g} uA (sources in tinyqi/firmware/boards.py)"),
        "fifo_readout": FIFO_READOUT.provenance, "sensor": VIBRATION_SENSOR_NOTE,
        "model": "docs/emulation.md, 'Energy of the vibration job'",
    }


VIBRATION = MonitorTask(
    name="vibration", label="vibration", unit="window", tag="TQW", position="first sample", chain_per_line=True,
    rate_hz=vibration.RATE_HZ, seconds_key="seconds",
    reference_note="tinyqi.signal.vibration.windows (hop = window) on the ELF's stream, then TFLM "
                   "(tinyqi.convert.run_tflm) per window",
    references=references, energy=energy, cycle_fields=cycle_fields, energy_fields=energy_fields)
