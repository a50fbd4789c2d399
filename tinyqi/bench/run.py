"""`tinyqi bench <task>`: every variant of a run measured from its firmware, written as bench.json, bench.md and
plots in the output directory."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from tinyqi.bench import plots, report
from tinyqi.bench.measure import BenchSettings, Measurement, measure_variant
from tinyqi.bench.rows import add_ratios, bench_row
from tinyqi.bench.variants import load_run, select_variants
from tinyqi.emulate.cycles import TimingModel
from tinyqi.emulate.run import target_for_board
from tinyqi.energy import CR2032, TASK_INFERENCES_PER_MINUTE, PowerFigures, power_figures
from tinyqi.errors import TinyqiError
from tinyqi.files import atomic_path, write_json, write_text
from tinyqi.firmware.boards import BoardProfile, get_board
from tinyqi.tasks import get_task

RATE_NOTES = {"ecg": "one inference per heartbeat at 72 beats per minute",
              "vibration": "one vibration window per minute by default (--per-minute)"}


@dataclass(frozen=True)
class BenchOptions:
    task: str
    run_dir: Path | None = None          # default: runs/<task>
    out_dir: Path | None = None          # default: <run dir>/bench
    board: str = "nrf52840"
    engine: str = "unicorn"
    variants: tuple[str, ...] = ()       # default: all
    per_minute: float | None = None      # default: the task's rate (tinyqi.energy)
    peers: bool = True                   # the CMSIS-NN side by side (needs bakenn)
    job: bool = True                     # ECG: the whole monitoring job per int8 variant (tinyqi.bench.job)


def energy_model(board: BoardProfile) -> tuple[PowerFigures | None, str | None]:
    """The board's electrical figures, or why there are none (a board profile without verified figures)."""
    try:
        return power_figures(board), None
    except TinyqiError as exc:
        return None, str(exc)


def _peers(measurements: list[Measurement], settings: BenchSettings, enabled: bool, log) -> dict | None:
    if not enabled:
        return None
    from tinyqi.bench.peers import compare_with_cmsis_nn, peer_description
    from tinyqi.peers.cmsis_nn import cmsis_nn_sources

    if not all(measurement.run.cycle_model for measurement in measurements):
        return {"skipped": f"the {settings.engine} engine models no cycles; use --engine unicorn", "models": []}
    try:
        cmsis_nn_sources()
    except TinyqiError as exc:
        return {"skipped": str(exc), "models": []}
    models = []
    for measurement in measurements:
        if not measurement.variant.float_model:
            log(f"{measurement.variant.name}: CMSIS-NN peer")
            models.append(compare_with_cmsis_nn(measurement, settings).as_dict())
    return {"description": peer_description(), "models": models}


def _jobs(measurements: list[Measurement], rows: list[dict], settings: BenchSettings, opts: BenchOptions,
          per_minute: float, log) -> dict | None:
    """Adds each row's `job` (the headline) and returns bench.json's `job` section; None when not run."""
    from tinyqi.bench.job import JOB_SECONDS, describe_stream, job_stream, measure_job

    if opts.task != "ecg" or not opts.job:
        return None
    excerpts = job_stream()
    for measurement, row in zip(measurements, rows):
        log(f"{measurement.variant.name}: monitoring job")
        row["job"] = measure_job(measurement.variant, settings, excerpts, per_minute)
    return {"records": describe_stream(excerpts), "seconds_per_record": JOB_SECONDS, "beats_per_minute": per_minute,
            "model": "docs/emulation.md, 'Energy of the monitoring job'"}


def _job_notes(rows: list[dict]) -> list[str]:
    return [f"{row['variant']}: the monitoring job's beat lines differ from the Python reference in "
            f"{row['job']['mismatches']} of {row['job']['beats_compared']} beats" for row in rows
            if row.get("job") and row["job"].get("mismatches")]


def _bit_exact_notes(rows: list[dict]) -> list[str]:
    return [f"{row['variant']}: NOT bit-exact with TFLM; largest absolute output difference "
            f"{row['max_abs_diff']:.3g}" for row in rows if not row["bit_exact"]]


def run_bench(opts: BenchOptions, log=print) -> dict:
    """Measure every selected variant and write bench.json, bench.md and the plots; returns bench.json's data."""
    from tinyqi.emulate import ENGINES

    get_task(opts.task)  # an unknown task is one line before anything is built
    if opts.engine not in ENGINES:
        raise TinyqiError(f"--engine {opts.engine}: unknown engine; choose one of {', '.join(ENGINES)}")
    board = get_board(opts.board)
    run_dir, metrics = load_run(opts.task, opts.run_dir)
    variants = select_variants(run_dir, opts.variants)
    out_dir = opts.out_dir or run_dir / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    figures, no_energy = energy_model(board)
    notes = [] if no_energy is None else [f"no energy estimate: {no_energy}"]
    per_minute = opts.per_minute if opts.per_minute is not None else TASK_INFERENCES_PER_MINUTE[opts.task]
    settings = BenchSettings(board, opts.engine, out_dir)
    measurements = []
    for variant in variants:
        log(f"{variant.name}: build, emulate")
        measurements.append(measure_variant(variant, settings))
    rows = [bench_row(m, figures, per_minute, CR2032) for m in measurements]
    add_ratios(rows)
    job = _jobs(measurements, rows, settings, opts, per_minute, log)
    notes += _bit_exact_notes(rows) + _job_notes(rows)
    peers = _peers(measurements, settings, opts.peers, log)
    if peers is not None and "skipped" in peers:
        notes.append(f"CMSIS-NN side by side not run: {peers['skipped']}")
    bench = {
        "task": opts.task, "run": str(run_dir), "dataset": metrics["dataset"], "board": board.name,
        "board_title": board.title, "clock_hz": board.clock_hz, "engine": opts.engine,
        "inferences_per_minute": per_minute,
        "rate_note": RATE_NOTES[opts.task] if opts.per_minute is None else "set with --per-minute",
        "cycle_model": {**asdict(TimingModel()), "flash_wait_states": target_for_board(board).flash_wait_states},
        "energy_model": None if figures is None else {
            "provenance": figures.provenance, "cell": f"{CR2032.name}, {CR2032.capacity_mah:g} mAh at "
                                                      f"{CR2032.nominal_voltage:g} V ({CR2032.source})"},
        "no_energy_reason": no_energy,
        "rows": rows,
        "job": job,
        "peers": peers,
        "notes": notes,
    }
    write_outputs(bench, out_dir)
    return bench


def write_outputs(bench: dict, out_dir: Path) -> None:
    title = f"tinyqi bench: {bench['task']} on {bench['board']} ({bench['engine']})"
    write_json(out_dir / "bench.json", bench)
    write_text(out_dir / "bench.md", report.markdown(bench))
    for name, plot in ((plots.PARETO_PNG, plots.plot_pareto), (plots.LAYERS_PNG, plots.plot_layers)):
        with atomic_path(out_dir / name) as tmp:
            plot(bench["rows"], title, tmp)  # no plot: no file, and no stale one from an earlier bench either
