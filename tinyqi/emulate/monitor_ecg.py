"""The ECG task of `tinyqi emulate --app monitor` (firmware/monitor/main.c): a TQB line per described beat.

Reference: tinyqi.signal.ecg.run_chain on every record of the stream, then TFLM's int8 outputs
(tinyqi.convert.run_tflm) for every described beat, the chain's ints being the model's int8 inputs. The run, the
ELF, the stream and monitor.json are the monitor's (tinyqi.emulate.monitor).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.emulate.monitor import MonitorResult, MonitorTask, Reference, StreamRecord, tflm_reference
from tinyqi.firmware.build import MODEL_FILE
from tinyqi.firmware.monitor import chain_inputs
from tinyqi.signal import ecg


def reference_beats(adc: np.ndarray, tflite: bytes, inputs: list[str]) -> Reference:
    """The chain's described beats and TFLM's int8 outputs for them; `inputs` maps .tflite inputs to x0 / x1."""
    beats = ecg.run_chain(adc)
    chosen = {"x0": beats.x0, "x1": beats.x1}
    return tflm_reference(beats.sample[beats.described], tflite, [chosen[name] for name in inputs],
                          lambda outputs: ecg.decide(outputs, beats.x1, beats.x0.reshape(len(beats.x0), -1)))


def references(model_dir: Path, stream: list[StreamRecord]) -> list[Reference]:
    inputs = chain_inputs(model_dir)
    tflite = (model_dir / MODEL_FILE).read_bytes()
    return [reference_beats(record.adc, tflite, inputs) for record in stream]


def chain_cycles_per_second(result: MonitorResult) -> float | None:
    """The chain runs on every sample: its cycles per second of ECG are what the energy model takes."""
    return result.done.chain_cycles / result.seconds if result.done.samples else None


def energy(result: MonitorResult, figures, sampling, beats_per_minute: float):
    """tinyqi.energy.monitor_energy: the chain per sample, the model per beat."""
    from tinyqi.energy import monitor_energy

    return monitor_energy(chain_cycles_per_second(result), result.model_cycles_per_inference, figures, sampling,
                          beats_per_minute)


def cycle_fields(result: MonitorResult) -> dict:
    return {"chain_cycles_per_second": chain_cycles_per_second(result)}


def energy_fields(energy, figures, sampling) -> dict:
    return {
        "beats_per_minute": energy.beats_per_minute, "cpu_duty": energy.cpu_duty,
        "average_current_ua": energy.average_current_a * 1e6, "average_power_uw": energy.average_power_w * 1e6,
        "energy_per_beat_uj": energy.energy_per_beat_uj, "battery_days": energy.battery_days,
        "cell": energy.cell.name, "cell_capacity_mah": energy.cell.capacity_mah,
        "current_parts_ua": {name: value * 1e6 for name, value in energy.current_parts_a.items()},
        "cpu_figures": figures.provenance, "sampling_figures": sampling.provenance,
        "model": "docs/emulation.md, 'Energy of the monitoring job'",
    }


ECG = MonitorTask(
    name="ecg", label="ECG", unit="beat", tag="TQB", position="sample", chain_per_line=False, rate_hz=ecg.FS_IN,
    seconds_key="ecg_seconds",
    reference_note="tinyqi.signal.ecg.run_chain on the ELF's stream, then TFLM (tinyqi.convert.run_tflm) per beat",
    references=references, energy=energy, cycle_fields=cycle_fields, energy_fields=energy_fields)
