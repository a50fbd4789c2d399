"""The bench's headline: the whole monitoring job of every int8 ECG variant (docs/bench.md, "The whole job").

For each variant whose model takes the ECG chain's inputs: the monitoring firmware `tinyqi build --app monitor`
makes, on one fixed stream (JOB_SECONDS of each of JOB_RECORDS, DS2), run in the emulator with its beat lines
checked against the Python reference, and the job's energy at the bench's beat rate (tinyqi.energy.monitor_energy:
chain per sample, model per beat, wake-ups, ADC, sleep). The float32 model takes no int8 chain inputs: no job.
"""

from __future__ import annotations

from tinyqi.bench.measure import BenchSettings
from tinyqi.bench.variants import Variant
from tinyqi.emulate.monitor import job_energy, run_monitor, summary
from tinyqi.emulate.unicorn_engine import DEFAULT_BUDGET
from tinyqi.errors import TinyqiError
from tinyqi.firmware.monitor import build_monitor, chain_inputs
from tinyqi.signal.stream import Excerpt, load_excerpt

JOB_RECORDS = ("100", "213", "233")  # DS2 records, in the bundled sample too
JOB_SECONDS = 60.0
JOB_KEYS = ("beats_compared", "mismatches", "chain_cycles_per_second", "model_cycles_per_beat", "firmware_flash_bytes",
            "ram_bytes", "stack_peak_bytes")
ENERGY_KEYS = ("energy_per_beat_uj", "battery_days", "average_current_ua", "cpu_duty")


def job_stream() -> tuple[Excerpt, ...]:
    """The stream every variant's job runs on: the database when present, else the bundled sample."""
    return tuple(load_excerpt(record, JOB_SECONDS) for record in JOB_RECORDS)


def describe_stream(excerpts: tuple[Excerpt, ...]) -> list[dict]:
    return [{"record": e.record, "start": e.start, "samples": len(e.adc), "seconds": e.seconds, "source": e.source}
            for e in excerpts]


def measure_job(variant: Variant, settings: BenchSettings, excerpts: tuple[Excerpt, ...],
                beats_per_minute: float) -> dict | None:
    """The job's figures for `variant`, {"skipped": why} when its model takes other inputs, None for float32."""
    if variant.float_model:
        return None
    try:
        chain_inputs(variant.model_dir)
    except TinyqiError as exc:
        return {"skipped": str(exc)}
    built = build_monitor(variant.model_dir, settings.board, settings.build_dir(variant.name, "-monitor"), excerpts)
    result = run_monitor(variant.model_dir, settings.board, settings.engine, budget=DEFAULT_BUDGET,
                         elf=built.result.elf)
    energy = figures = sampling = None
    if result.cycle_model and result.model_cycles_per_inference is not None:
        energy, figures, sampling = job_energy(result, settings.board, beats_per_minute)
    data = summary(result, built.result.breakdown, energy, figures, sampling)
    job = {key: _round(data[key]) for key in JOB_KEYS}
    job.update({key: _round(data["energy"][key]) if data["energy"] else None for key in ENERGY_KEYS})
    job["elf"] = str(built.result.elf)
    return job


def _round(value):
    return round(value, 4) if isinstance(value, float) else value
