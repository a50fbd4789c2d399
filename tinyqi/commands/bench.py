"""`tinyqi bench <task>`: every variant of a run, from its firmware in the emulator, into bench.json/bench.md/plots."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import OUT_DIR, PER_MINUTE


@click.command("bench")
@click.argument("task")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), default=None,
              help="Run directory (default: runs/<task>, where `tinyqi train <task>` writes).")
@click.option("--out", "out_dir", type=OUT_DIR, default=None,
              help="Output directory for bench.json, bench.md, plots and builds (default: <run>/bench).")
@click.option("--board", default="nrf52840", show_default=True, help="Board profile.")
@click.option("--engine", default="unicorn", show_default=True,
              help="Emulator: unicorn (cycle model) or qemu/renode (functional: no cycles or energy).")
@click.option("--variant", "variants", multiple=True,
              help="Only these variants (repeatable): float32-dense, int8-dense or a variants/<name> directory.")
@click.option("--per-minute", type=PER_MINUTE, default=None,
              help="Inferences per minute for power and battery life (default: ecg 72, one per beat; "
                   "vibration 1, one window per minute).")
@click.option("--no-peers", is_flag=True, help="Skip the CMSIS-NN side by side.")
@click.option("--no-job", is_flag=True, help="ECG: skip the headline, the whole monitoring job per variant.")
def command(task, run_dir, out_dir, board, engine, variants, per_minute, no_peers, no_job):
    """Benchmark every variant of a TASK run (ecg, vibration): accuracy, flash, RAM, cycles, latency, energy,
    battery life."""
    from tinyqi.bench import BenchOptions, run_bench
    from tinyqi.ui import Ui

    ui = Ui()
    opts = BenchOptions(task, run_dir, out_dir, board, engine, tuple(variants), per_minute, not no_peers,
                        not no_job)
    with ui.stage(f"bench {task}") as advance:
        bench = run_bench(opts, log=advance)
    jobs = [r for r in bench["rows"] if r.get("job") and "skipped" not in r["job"]]
    if jobs:
        ui.table("the whole job: continuous ECG monitoring (monitor firmware, chain + model + sleep + SAADC)",
                 ["variant", "µJ / beat", "CR2032 days", "avg µA", "chain cycles/s", "model cycles/beat",
                  "flash B", "RAM B", "beats", "mismatches"],
                 [[r["variant"], _text(r["job"]["energy_per_beat_uj"], ".2f"), _text(r["job"]["battery_days"], ",.0f"),
                   _text(r["job"]["average_current_ua"], ".2f"), _text(r["job"]["chain_cycles_per_second"], ",.0f"),
                   _text(r["job"]["model_cycles_per_beat"], ",.0f"), r["job"]["firmware_flash_bytes"],
                   r["job"]["ram_bytes"], r["job"]["beats_compared"], r["job"]["mismatches"]] for r in jobs])
    ui.table(f"{task} on {bench['board']} ({bench['engine']})",
             ["variant", "accuracy", "macro-F1", "flash B", "RAM B", "cycles", "ms", "µJ", "days", "bit-exact"],
             [[r["variant"], f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}", r["flash_bytes"], r["ram_bytes"],
               _text(r["cycles"], ","), _text(r["latency_ms"], ".3f"), _text(r["energy_uj"], ".3f"),
               _text(r["battery_days"], ",.0f"), "yes" if r["bit_exact"] else "NO"] for r in bench["rows"]])
    for model in (bench["peers"] or {}).get("models", []):
        ui.out.print(f"CMSIS-NN: {model['variant']} tinyqi / CMSIS-NN cycles = {model['ratio']:.3f} "
                     f"(outputs equal TFLM: {'yes' if model['bit_exact'] else 'NO'})")
    for note in bench["notes"]:
        ui.warn(note)
    out = opts.out_dir or Path(bench["run"]) / "bench"
    ui.out.print(f"wrote {out / 'bench.json'}, {out / 'bench.md'}")


def _text(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)
