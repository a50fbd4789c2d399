"""The sweep's selection: the trials no other trial beats on every objective (tinyqi.sweep.trial.OBJECTIVES: DS1
validation macro-F1, µJ per inference, model + runtime flash), from sweep.json's rows only (validation figures,
never the test set). Each selected trial's run directory is copied whole to pareto/<id>/: an ordinary run directory
(`tinyqi verify`, `build`, `bench`, `flash` take it as it is; the measured model is its int8 model or
variants/<method>/). pareto.json lists them, pareto.png draws every trial.

The test-set (DS2) figures of the selected points are read once, after the selection, from their metrics.json and
kept apart in pareto.json / report.md ("measured once, not used for selection").
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import atomic_path, read_json, sha256_file, staged_dir
from tinyqi.manifest import check_model_dir
from tinyqi.sweep.trial import ENGINE, OBJECTIVE_BOARD, OBJECTIVES, TEST_SET, VALIDATION_SET

PARETO_DIR = "pareto"
PARETO_JSON = "pareto.json"
PARETO_PNG = "pareto.png"
TEST_SECTION = "test_measured_once_not_used_for_selection"
TEST_NOTE = ("{test} int8 figures of the selected points, read from their metrics.json after the selection: "
             "measured once, not used for selection")


def _goodness(row: dict) -> tuple:
    """Larger is better in every place."""
    return tuple(row[name] if goal == "max" else -row[name] for name, goal in OBJECTIVES)


def select(rows: list[dict]) -> list[dict]:
    """The non-dominated done trials, cheapest (µJ) first; of trials with identical objectives the first id."""
    candidates = [row for row in rows if row["status"] == "done" and all(row.get(n) is not None for n, _ in OBJECTIVES)]
    candidates.sort(key=lambda row: row["id"])
    front = []
    for i, row in enumerate(candidates):
        mine = _goodness(row)
        beaten = any(all(o >= m for o, m in zip(other, mine)) and (other != mine or j < i)
                     for j, other in enumerate(map(_goodness, candidates)) if j != i)
        if not beaten:
            front.append(row)
    return sorted(front, key=lambda row: (row["energy_uj"], -row["val_macro_f1"], row["id"]))


def point_paths(row: dict) -> tuple[str, str]:
    """(run directory, model directory) of a selected trial inside the sweep directory."""
    run_dir = f"{PARETO_DIR}/{row['id']}"
    return run_dir, run_dir + (f"/variants/{row['variant']}" if row["variant"] else "")


def materialise(sweep_dir: Path, points: list[dict]) -> None:
    """pareto/ rebuilt as a whole (aside, then swapped in): each point's trial run directory copied unchanged, its
    manifest checked and its int8 model the very file the sweep measured (sha256 from the trial's row)."""
    with staged_dir(sweep_dir / PARETO_DIR, lambda path: True, "Pareto directory") as stage:
        for row in points:
            target = stage / row["id"]
            shutil.copytree(sweep_dir / row["run_dir"], target, symlinks=True)
            model_dir = target / Path(point_paths(row)[1]).relative_to(point_paths(row)[0])
            check_model_dir(model_dir)
            if sha256_file(model_dir / "model_int8.tflite") != row["tflite_sha256"]:
                raise TinyqiError(f"{sweep_dir / row['run_dir']}: its model is not the one trial {row['id']} "
                                  "measured (sha256 differs); the trial directory was changed after the trial")


def commands(task: str, root: Path, row: dict) -> list[str]:
    run_dir = root / point_paths(row)[0]
    variant = f" --variant {row['variant']}" if row["variant"] else ""
    bench_variant = f" --variant {row['variant'] or 'int8-dense'}"
    return [f"tinyqi verify {run_dir}", f"tinyqi build --board {OBJECTIVE_BOARD} {run_dir}{variant}",
            f"tinyqi bench {task} --run {run_dir}{bench_variant}",
            f"tinyqi flash --board {OBJECTIVE_BOARD} {run_dir}{variant}"]


def heldout_figures(sweep_dir: Path, row: dict) -> dict:
    """The held-out test figures of one selected point (its metrics.json `int8`, and for ECG `int8_device`)."""
    metrics = read_json(sweep_dir / point_paths(row)[1] / "metrics.json", "re-run the sweep")
    int8 = metrics["int8"]
    figures = {"split": metrics["dataset"].get("split"), "accuracy": int8["accuracy"], "macro_f1": int8["macro_f1"],
               "f1": {name: pc["f1"] for name, pc in int8["per_class"].items()}}
    if "int8_device" in metrics:
        figures["device_macro_f1"] = metrics["int8_device"]["macro_f1"]
    return figures


def pareto_data(task: str, sweep_dir: Path, root: Path, points: list[dict], bench: dict | None) -> dict:
    selected = []
    for row in points:
        run_dir, model_dir = point_paths(row)
        selected.append({key: row[key] for key in ("id", "config", "val_macro_f1", "val_f1_S", "val_f1_V",
                                                   "validation", "weight_bytes", "flash_bytes", "ram_bytes",
                                                   "model_flash_bytes", "cycles", "latency_ms", "energy_uj",
                                                   "boards", "tflite_sha256", "variant")}
                        | {"run_dir": run_dir, "model_dir": model_dir, "trial_dir": row["run_dir"],
                           "commands": commands(task, root, row)})
    return {
        "task": task,
        "objectives": [{"name": name, "goal": goal} for name, goal in OBJECTIVES],
        "objective_board": OBJECTIVE_BOARD,
        "selection": "trials no other done trial beats on every objective; accuracy figures: int8 (generated C) "
                     f"on the {VALIDATION_SET[task]} only",
        "points": selected,
        TEST_SECTION: {"note": TEST_NOTE.format(test=TEST_SET[task]),
                       "points": {row["id"]: heldout_figures(sweep_dir, row) for row in points}},
        "bench": bench,
    }


# ---------------------------------------------------------------- `tinyqi bench` variants on the same axes

def bench_points(path: Path, sample: bool) -> dict:
    """A bench.json's variants with their DS1-validation macro-F1 (from each variant's metrics.json, not the bench
    row's test figures) and µJ, when the bench is comparable (same board and engine, same data); else why not."""
    bench = read_json(path, "run `tinyqi bench` again, or give another --bench")
    where = {"path": str(path), "points": []}
    if bench.get("board") != OBJECTIVE_BOARD or bench.get("engine") != ENGINE:
        return where | {"skipped": f"measured on {bench.get('board')} with {bench.get('engine')}, the sweep on "
                                   f"{OBJECTIVE_BOARD} with {ENGINE}"}
    if (bench.get("dataset") or {}).get("sample") != sample:
        return where | {"skipped": "the bench's run and the sweep used different data (bundled sample vs full)"}
    run_dir = Path(bench["run"]) if Path(bench.get("run", "")).is_dir() else path.parent.parent
    for row in bench.get("rows", []):
        if row.get("energy_uj") is None or row["variant"] == "float32-dense":  # validation figures are int8's
            continue
        model_dir = run_dir if row["variant"] == "int8-dense" else run_dir / "variants" / row["variant"]
        try:
            validation = read_json(model_dir / "metrics.json", "").get("validation")
        except TinyqiError:
            validation = None
        if not isinstance(validation, dict):
            continue  # a run written before runs recorded validation metrics
        where["points"].append({"variant": row["variant"], "val_macro_f1": validation["macro_f1"],
                                "energy_uj": row["energy_uj"], "model_flash_bytes": row.get("model_flash_bytes")})
    if not where["points"]:
        where["skipped"] = "no variant of that bench has validation metrics and an energy figure"
    return where


# ---------------------------------------------------------------- the plot

def plot(rows: list[dict], points: list[dict], bench: dict | None, title: str, path: Path,
         validation: str = VALIDATION_SET["ecg"]) -> Path | None:
    """Validation macro-F1 against µJ per inference (log), colour: model + runtime flash; the selected trials
    ringed and named, the two-objective front as a step line, bench variants as crosses. No file without trials."""
    from matplotlib.ticker import ScalarFormatter

    from tinyqi.bench.plots import _pyplot, _save
    from tinyqi.bench.rows import pareto_front

    done = [row for row in rows if row["status"] == "done" and row.get("energy_uj") is not None]
    with atomic_path(path) as tmp:
        if not done:
            return None
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(8.5, 5))
        dots = ax.scatter([r["energy_uj"] for r in done], [r["val_macro_f1"] for r in done],
                          c=[r["model_flash_bytes"] for r in done], cmap="viridis", s=30, zorder=3)
        fig.colorbar(dots, ax=ax, label="model + runtime flash (bytes)")
        for row in points:
            ax.scatter(row["energy_uj"], row["val_macro_f1"], s=110, facecolors="none", edgecolors="tab:red",
                       linewidths=1.5, zorder=4)
            ax.annotate(row["id"], (row["energy_uj"], row["val_macro_f1"]), fontsize=7, xytext=(5, 4),
                        textcoords="offset points")
        as_variants = [{"variant": r["id"], "energy_uj": r["energy_uj"], "val_macro_f1": r["val_macro_f1"]}
                       for r in done]
        front = set(pareto_front(as_variants, "val_macro_f1"))
        line = sorted((r for r in done if r["id"] in front), key=lambda r: r["energy_uj"])
        ax.step([r["energy_uj"] for r in line], [r["val_macro_f1"] for r in line], where="post", color="tab:red",
                alpha=0.5, label="front (macro-F1 vs µJ)")
        ax.scatter([], [], s=110, facecolors="none", edgecolors="tab:red", label="Pareto points (with flash)")
        for point in (bench or {}).get("points", []):
            ax.scatter(point["energy_uj"], point["val_macro_f1"], marker="x", color="black", s=40, zorder=5)
            ax.annotate(point["variant"], (point["energy_uj"], point["val_macro_f1"]), fontsize=7, xytext=(4, -9),
                        textcoords="offset points")
        if (bench or {}).get("points"):
            ax.scatter([], [], marker="x", color="black", label="tinyqi bench variants")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(ScalarFormatter())
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.margins(x=0.15, y=0.1)
        ax.set_xlabel(f"energy per inference on {OBJECTIVE_BOARD} (µJ, modelled)")
        ax.set_ylabel(f"int8 macro-F1, {validation}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        _save(fig, tmp)
    return path
