"""report.md of a sweep: the settings and space, every trial, the Pareto points and how to use them, and (apart,
labelled) the Pareto points' test-set figures."""

from __future__ import annotations

from tinyqi.sweep.pareto import PARETO_PNG, TEST_SECTION
from tinyqi.sweep.state import SweepState
from tinyqi.sweep.trial import OBJECTIVE_BOARD, TEST_SET, VALIDATION_SET


def _num(value, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def describe(config: dict) -> str:
    """A configuration in one short cell: architecture, training, compression."""
    parts = [f"{config['filters1']}-{config['filters2']}-{config['filters3']}/{config['hidden']}"
             + (f" r{config['rank']}" if "rank" in config else ""),
             f"{config['epochs']} ep, lr {config['learning_rate']:.2g}, wp {config['weight_power']:.2f}",
             config["method"]]
    for name, short in (("target_sparsity", "s"), ("channel_sparsity", "ch"), ("weight_fraction", "wf")):
        if name in config:
            parts.append(f"{short} {config[name]:.2f}")
    return ", ".join(parts)


def trial_rows(rows: list[dict]) -> list[str]:
    lines = ["| trial | configuration | status | val macro-F1 | val F1 S | val F1 V | µJ | model flash B | flash B | "
             "RAM B | weight B | cycles | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = sorted(rows, key=lambda r: (r["status"] != "done", -(r.get("val_macro_f1") or 0), r["id"]))
    for r in order:
        status = r["status"] if r["status"] == "done" else f"{r['status']}: {r.get('reason')}"
        lines.append(f"| {r['id']} | {describe(r['config'])} | {status} | {_num(r.get('val_macro_f1'))} | "
                     f"{_num(r.get('val_f1_S'))} | {_num(r.get('val_f1_V'))} | {_num(r.get('energy_uj'), '.3f')} | "
                     f"{_num(r.get('model_flash_bytes'), 'd')} | {_num(r.get('flash_bytes'), 'd')} | "
                     f"{_num(r.get('ram_bytes'), 'd')} | {_num(r.get('weight_bytes'), 'd')} | "
                     f"{_num(r.get('cycles'), ',')} | {_num(r.get('wall_seconds'), '.0f')} |")
    return lines


def markdown(state: SweepState, pareto: dict) -> str:
    s = state.settings
    rows = state.sorted_rows()
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] != "done"]
    seconds = [r["wall_seconds"] for r in done if r.get("wall_seconds") is not None]
    out = [f"# tinyqi sweep: {state.task}", "",
           f"- data: {'the bundled SAMPLE (a smoke test, not a result)' if s['sample'] else 'the full dataset'}"
           f"{'' if s.get('data_dir') is None else ' in ' + s['data_dir']}",
           f"- search space `{state.space['name']}`: {state.space.get('notes', '')}; searcher: Optuna (TPE, "
           "multi-objective) through Ray Tune",
           f"- objectives: int8 macro-F1 on the {VALIDATION_SET[state.task]} (max), µJ per inference on "
           f"{OBJECTIVE_BOARD} (min), model + runtime flash (min); boards measured: {', '.join(s['boards'])}",
           f"- trials: {len(rows)} of {state.target} ({len(done)} done, {len(failed)} failed); "
           + (f"wall time per done trial {min(seconds):.0f} to {max(seconds):.0f} s, mean "
              f"{sum(seconds) / len(seconds):.0f} s" if seconds else "no trial done"),
           "", f"Selection uses validation figures only ({VALIDATION_SET[state.task]}); the {TEST_SET[state.task]} "
           "set is read once for the selected points, below, and never for selection.", ""]
    out += ["## Pareto points", ""]
    if pareto["points"]:
        out += [f"![Pareto]({PARETO_PNG})", "",
                "| trial | configuration | val macro-F1 | val F1 S | val F1 V | µJ | model flash B | RAM B | "
                "run directory |", "|---|---|---|---|---|---|---|---|---|"]
        by_id = {r["id"]: r for r in rows}
        for p in pareto["points"]:
            out.append(f"| {p['id']} | {describe(by_id[p['id']]['config'])} | {_num(p['val_macro_f1'])} | "
                       f"{_num(p['val_f1_S'])} | {_num(p['val_f1_V'])} | {_num(p['energy_uj'], '.3f')} | "
                       f"{p['model_flash_bytes']} | {p['ram_bytes']} | `{p['model_dir']}` |")
        first = pareto["points"][0]
        out += ["", "Each point is an ordinary run directory (its model: the run's int8 model, or `variants/<method>/`"
                "), e.g.:", "", "```sh", *first["commands"], "```", ""]
    else:
        out += ["No trial finished, so there is no Pareto point.", ""]
    bench = pareto.get("bench")
    if bench:
        out += [f"`tinyqi bench` variants from {bench['path']}: "
                + (bench["skipped"] if bench.get("skipped") else
                   f"{len(bench['points'])} drawn on the same axes (their validation macro-F1 from each variant's "
                   "metrics.json)"), ""]
    out += ["## All trials", "", *trial_rows(rows), ""]
    test = pareto[TEST_SECTION]
    if test["points"]:
        out += ["## Pareto points on the test set: measured once, not used for selection", "", test["note"] + ".", "",
                "| trial | split | accuracy | macro-F1 | F1 S | F1 V | device macro-F1 |",
                "|---|---|---|---|---|---|---|"]
        for trial, f in test["points"].items():
            out.append(f"| {trial} | {f['split']} | {_num(f['accuracy'])} | {_num(f['macro_f1'])} | "
                       f"{_num(f['f1'].get('S'))} | {_num(f['f1'].get('V'))} | {_num(f.get('device_macro_f1'))} |")
        out.append("")
    return "\n".join(out)
