"""bench.md: the table users decide from, how every figure was made, and the CMSIS-NN side by side."""

from __future__ import annotations

from tinyqi.bench.plots import LAYERS_PNG, PARETO_PNG
from tinyqi.bench.rows import pareto_front

CLAIM_SPEEDUP = 4.0        # issue #5: QINN CSR at least 4x fewer cycles than int8 dense ...
CLAIM_ENERGY = 10.0        # ... and at least 10x less energy than float32 dense
CLAIM_DENSE_RATIO = 1.3    # our dense kernels within 1.3x of CMSIS-NN's cycles
CLAIM_SPARSITY = 0.6       # our CSR kernels faster than CMSIS-NN dense once sparsity passes 60 %


def _fmt(value, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    return format(value, spec)


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def rows_table(rows: list[dict]) -> list[str]:
    lines = ["| variant | kernels | accuracy | macro-F1 | flash B (model + runtime) | RAM B (arena) | cycles | "
             "latency ms | µJ / inference | battery days | bit-exact | fewer cycles than int8 dense | "
             "less energy than float32 dense |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['kernels']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
                     f"{r['flash_bytes']} ({r['model_flash_bytes']}) | {r['ram_bytes']} ({r['arena_bytes']}) | "
                     f"{_fmt(r['cycles'], ',')} | {_fmt(r['latency_ms'], '.3f')} | {_fmt(r['energy_uj'], '.3f')} | "
                     f"{_fmt(r['battery_days'], ',.0f')} | {_fmt(r['bit_exact'])} | "
                     f"{_times(r['speedup_vs_int8_dense'])} | {_times(r['energy_saving_vs_float32_dense'])} |")
    return lines


def method_section(bench: dict) -> list[str]:
    timing, energy = bench["cycle_model"], bench["energy_model"]
    lines = ["## How the figures are made", "",
             "- **Firmware**: for each variant, the harness ELF `tinyqi build`/`tinyqi flash --board "
             f"{bench['board']}` make for it (float32: `--float`; compressed variants: `--variant NAME`), built "
             "offline by PlatformIO with the project's build flags (platformio.ini). It runs every golden vector "
             "of the variant's model directory and prints its int8 outputs (float32: their IEEE-754 bits).",
             "- **bit-exact**: the firmware's outputs equal TFLM's (golden.npz, from TFLM's Python interpreter; "
             "float32: TFLM's float interpreter on the same test rows) on every golden vector, bit for bit.",
             f"- **Cycles** ({bench['engine']} engine): the mean over the golden vectors of the firmware's own DWT "
             "CYCCNT difference around `tq_model_invoke()`, which the emulator answers with a Cortex-M4 timing model "
             "(Arm Cortex-M4 TRM instruction timings, docs/emulation.md) over the instructions the ELF really "
             f"executes: taken-branch refill {timing['branch_refill']} cycles (+{timing['unaligned_wide_target']} "
             f"for a 32-bit target at an address = 2 mod 4), SDIV/UDIV {timing['divide']} cycles (upper bound), "
             f"{timing['flash_wait_states']} flash wait states (the nRF52840 cache assumed to hide them), no bus "
             "contention, no interrupts. **Not cycle-accurate**: good for comparing kernels and variants; confirm "
             "absolute figures on a board.",
             f"- **Latency** = cycles / {bench['clock_hz'] / 1e6:g} MHz (the harness clock).",
             "- **Per-layer cycles**: vector 0 of a second build with `-DTQ_PROFILE` (`tinyqi build --profile`); "
             "the profiling calls are left out of each layer, so layers sum to slightly less than the row's cycles."]
    if energy is None:
        lines.append(f"- **Energy**: not estimated: {bench['no_energy_reason']}")
    else:
        lines += [f"- **Energy** per inference = cycles / f_clk × I_run × V; average power = V × (d × I_run + "
                  "(1 − d) × I_sleep) with d the active fraction; battery life = capacity × V_cell / power "
                  "(ideal conversion, no self-discharge; MCU compute only: no sensor, front end or radio). "
                  f"Figures: {energy['provenance']}.",
                  f"- **Rate**: {bench['inferences_per_minute']:g} inferences per minute ({bench['rate_note']}). "
                  f"**Cell**: {energy['cell']}."]
    lines.append("- **Sizes**: flash and RAM of the whole ELF (harness, startup, libc and the golden test vectors "
                 "included); in brackets what the model needs: runtime kernels + generated code + constants, and "
                 "the activation arena.")
    return lines + [""]


def job_section(bench: dict) -> list[str]:
    """The headline: what continuous monitoring costs with each variant (tinyqi.bench.job)."""
    job = bench.get("job")
    if job is None:
        return []
    records = ", ".join(f"{r['record']} ({r['seconds']:g} s)" for r in job["records"])
    lines = ["## The whole job: continuous ECG monitoring (headline)", "",
             f"The monitoring firmware (`tinyqi build --app monitor`: every 360 Hz sample through the ECG chain, every "
             f"beat it describes through the model) on DS2 records {records}; its beat lines checked against the "
             "Python reference (tinyqi.signal.ecg, then TFLM) bit for bit. "
             f"Energy at {job['beats_per_minute']:g} beats per minute, including the sleep between samples, the "
             f"wake-ups (one per SAADC ring of samples) and the SAADC ({job['model']}). Samples: "
             + "; ".join(r["source"] for r in job["records"]) + ".", "",
             "| variant | accuracy | µJ per beat | CR2032 days | average µA | chain cycles / s of ECG | "
             "model cycles / beat | flash B | RAM B | beats checked | mismatches |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in bench["rows"]:
        j = r.get("job")
        if not j:
            continue
        if "skipped" in j:
            lines.append(f"| {r['variant']} | {r['accuracy']:.4f} | not run: {j['skipped']} |" + " |" * 8)
            continue
        lines.append(f"| {r['variant']} | {r['accuracy']:.4f} | {_fmt(j['energy_per_beat_uj'], '.2f')} | "
                     f"{_fmt(j['battery_days'], ',.0f')} | {_fmt(j['average_current_ua'], '.2f')} | "
                     f"{_fmt(j['chain_cycles_per_second'], ',.0f')} | {_fmt(j['model_cycles_per_beat'], ',.0f')} | "
                     f"{j['firmware_flash_bytes']:,} | {j['ram_bytes']:,} | {j['beats_compared']} | "
                     f"{j['mismatches']} |")
    return lines + ["", "Flash excludes the recorded test stream; RAM includes the 2 KiB stack. The per-inference "
                        "table below counts the model alone.", ""]


def claims_section(rows: list[dict]) -> list[str]:
    lines = ["## Against the headline claims", "",
             f"Claims to check: a compressed (QINN CSR) variant runs at least {CLAIM_SPEEDUP:g}x fewer cycles than "
             f"int8 dense and uses at least {CLAIM_ENERGY:g}x less energy than float32 dense. Measured:", ""]
    for r in rows:
        if r["variant"] in ("float32-dense", "int8-dense"):
            continue
        lines.append(f"- {r['variant']}: {_times(r['speedup_vs_int8_dense'])} fewer cycles than int8 dense "
                     f"(claim ≥ {CLAIM_SPEEDUP:g}x), {_times(r['energy_saving_vs_float32_dense'])} less energy than "
                     f"float32 dense (claim ≥ {CLAIM_ENERGY:g}x), accuracy {r['accuracy']:.4f}, "
                     f"macro-F1 {r['macro_f1']:.4f}")
    if len(lines) == 4:
        lines.append("- no compressed variant in this run (create them with `tinyqi compress`)")
    return lines + [""]


def pareto_section(rows: list[dict]) -> list[str]:
    lines = ["## Pareto front (quality vs energy per inference)", ""]
    for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        front = pareto_front(rows, key)
        lines.append(f"- {label}: {', '.join(front) if front else 'no energy figures'}")
    return lines + ["", f"![accuracy and macro-F1 vs energy]({PARETO_PNG})", "",
                    f"![cycles per layer]({LAYERS_PNG})", ""]


def _peer_model_table(models: list[dict]) -> list[str]:
    lines = ["| variant | tinyqi cycles | CMSIS-NN cycles | tinyqi / CMSIS-NN (model) | tinyqi / CMSIS-NN (layers "
             "CMSIS-NN runs) | CMSIS-NN == TFLM | CMSIS-NN == tinyqi |",
             "|---|---|---|---|---|---|---|"]
    for m in models:
        lines.append(f"| {m['variant']} | {m['cycles_ours']:,} | {m['cycles_cmsis_nn']:,} | {m['ratio']:.3f} | "
                     f"{_fmt(m['cmsis_nn_layers_ratio'], '.3f')} | {_fmt(m['bit_exact'])} | "
                     f"{_fmt(m['outputs_equal_ours'])} |")
    return lines


def _peer_layer_table(model: dict) -> list[str]:
    lines = [f"#### {model['variant']}", "",
             "| op | tinyqi layer | CMSIS-NN layer | weight sparsity | tinyqi cycles | CMSIS-NN cycles | "
             "tinyqi / CMSIS-NN |", "|---|---|---|---|---|---|---|"]
    for layer in model["layers"]:
        lines.append(f"| {layer['op_index']} {layer['op']} | {layer['ours']} | {layer['cmsis_nn']} | "
                     f"{_fmt(layer['weight_sparsity'], '.0%')} | {layer['cycles_ours']:,} | "
                     f"{layer['cycles_cmsis_nn']:,} | {_fmt(layer['ratio'], '.3f')} |")
    return lines + [""]


def _peer_targets(models: list[dict]) -> list[str]:
    lines = []
    dense_model = next((m for m in models if m["variant"] == "int8-dense"), None)
    if dense_model is not None:
        lines.append(f"- Dense: tinyqi / CMSIS-NN = {dense_model['ratio']:.3f} over the whole int8-dense model, "
                     f"{_fmt(dense_model['cmsis_nn_layers_ratio'], '.3f')} over the layers CMSIS-NN runs "
                     f"(target ≤ {CLAIM_DENSE_RATIO:g}).")
    sparse = [(m["variant"], layer) for m in models for layer in m["layers"]
              if layer["runs_cmsis_nn"] and "_csr" in layer["ours"]]
    for variant, layer in sparse:
        verdict = "faster" if layer["ratio"] < 1 else "slower"
        fused = " (with its fused max-pool, against CMSIS-NN's conv + pool)" if "+" in layer["op"] else ""
        lines.append(f"- CSR: {variant} layer {layer['ours']} at {layer['weight_sparsity']:.0%} sparsity{fused} is "
                     f"{verdict} than CMSIS-NN dense on the same weights (ratio {layer['ratio']:.3f}; target: "
                     f"< 1 past {CLAIM_SPARSITY:.0%} sparsity).")
    return lines


def peer_section(peer: dict | None) -> list[str]:
    lines = ["## CMSIS-NN side by side", ""]
    if peer is None or not peer.get("models"):
        reason = peer.get("skipped", "no int8 variant selected") if peer else "disabled (--no-peers)"
        return lines + [f"Not run: {reason}", ""]
    lines += [f"{peer['description']}. Same harness, toolchain, flags, board and engine; CMSIS-NN runs the same "
              "weights densely (it has no sparse kernels). Ratios below 1: tinyqi is faster.", ""]
    lines += _peer_model_table(peer["models"]) + [""] + _peer_targets(peer["models"]) + ["", "### Per layer", ""]
    for model in peer["models"]:
        lines += _peer_layer_table(model)
    return lines


def markdown(bench: dict) -> str:
    ds = bench["dataset"]
    sample = " — BUNDLED SAMPLE: a smoke test, not a result" if ds.get("sample") else ""
    lines = [f"# tinyqi bench: {bench['task']} on {bench['board_title']}", "",
             f"Run `{bench['run']}`; accuracy and macro-F1 from each variant's metrics.json on the "
             f"{ds['name']} {ds['split']} test set ({ds.get('test_count', '?')} samples){sample}; float32 row: "
             "float metrics, every other row: int8. Engine: "
             f"{bench['engine']}, board {bench['board']} at {bench['clock_hz'] / 1e6:g} MHz.", ""]
    headline = job_section(bench)
    lines += headline + (["## Per inference", ""] if headline else []) + rows_table(bench["rows"]) + [""]
    lines += claims_section(bench["rows"]) + pareto_section(bench["rows"]) + peer_section(bench["peers"])
    lines += method_section(bench)
    if bench["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in bench["notes"]] + [""]
    return "\n".join(lines)
