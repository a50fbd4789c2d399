"""`tinyqi ablate`: every compression technique against plain baselines on one trained run, all measured in int8.

Rows (each a model directory under RUN_DIR/variants/ except the dense baseline, which is the run root):
dense int8; magnitude pruning (global and per-layer) and annealed QUBO pruning at the same sparsity; annealed
pruning row-balanced; plain truncated SVD; annealed factorisation; the QINN hybrid; all combined; structured
channel pruning by filter L1 norm and by the annealed channel QUBO; the QINN hybrid channel-pruned then pruned
(combined-channels); and a control, the baseline only fine-tuned as long as the combined variant. Pruning, channel
pruning, QINN, the combinations and the control run over every seed. Outputs: ablation.json {"rows": [...],
"pruning_vs_seeds": {...}}, ablation.md and ablation_accuracy_vs_bytes.png.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from tinyqi.compress import pipeline, storage
from tinyqi.errors import TinyqiError
from tinyqi.files import atomic_path, read_json, require, write_json, write_text
from tinyqi.manifest import check_model_dir
from tinyqi.tflite_model import load_tflite

PRUNING = ("magnitude-global", "magnitude-layer", "anneal-prune")
CHANNELS = ("magnitude-channels", "anneal-channels")
# Rows repeated over every seed (the others are deterministic enough).
SEEDED = PRUNING + ("qinn", "combined", "finetune") + CHANNELS + ("combined-channels",)
ROW_KEYS = ("variant", "accuracy", "macro_f1", "se_V", "se_S", "nonzero_weights", "weight_bytes", "effective_macs",
            "compress_seconds")


def plan(seeds: tuple[int, ...], base: pipeline.CompressOptions) -> list[pipeline.CompressOptions]:
    """The variants of the ablation, in table order."""
    runs = [replace(base, method=m, seed=s) for m in PRUNING for s in seeds]
    runs.append(replace(base, method="anneal-prune", row_balanced=True, seed=seeds[0]))
    runs += [replace(base, method=m, seed=seeds[0]) for m in ("svd", "anneal-factorise")]
    runs += [replace(base, method=m, seed=s) for m in ("qinn", "combined", "finetune") for s in seeds]
    runs += [replace(base, method=m, seed=s) for m in CHANNELS + ("combined-channels",) for s in seeds]
    return runs


def dense_row(run: pipeline.Run) -> dict:
    model = load_tflite(run.path / "model_int8.tflite")
    return pipeline.ablation_row("dense-int8", run.metrics["int8"], model, storage.worthwhile_tables(model), 0.0)


def run_ablation(run: pipeline.Run, out: Path, seeds=(0, 1, 2), base=pipeline.CompressOptions(), reuse=False,
                 log=print) -> dict:
    rows = [dense_row(run)]
    for opts in plan(tuple(seeds), base):
        name = pipeline.variant_name(opts)
        previous = _reusable(run, name, opts) if reuse else None
        if previous:
            log(f"{name}: reusing {run.path / 'variants' / name}")
            rows.append(previous)
            continue
        log(f"{name}: compressing ({opts.method}, seed {opts.seed})")
        rows.append(pipeline.compress(run, opts, log=log))
    result = {"run": str(run.path), "dataset": run.metrics["dataset"], "options": asdict(base),
              "seeds": list(seeds), "rows": rows, "pruning_vs_seeds": seed_summary(rows, seeds)}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "ablation.json", result)
    write_text(out / "ablation.md", markdown(result))
    plot(rows, out / "ablation_accuracy_vs_bytes.png")
    return result


def _reusable(run: pipeline.Run, name: str, opts: pipeline.CompressOptions) -> dict | None:
    """A variant already built from this run's model with the same options."""
    path = run.path / "variants" / name / "metrics.json"
    if not path.is_file():
        return None
    try:
        check_model_dir(path.parent)  # complete, and made from this run's model (tinyqi.manifest)
    except TinyqiError:
        return None  # built again, and replaced as a whole
    m = read_json(path, "delete that variant directory or run without --reuse")
    require(m, path, {"ablation_row": dict}, "delete that variant directory or run without --reuse")
    same_base = m.get("base_tflite_sha256") == run.metrics.get("tflite_sha256")
    # A variant written before an option existed was made with that option's default.
    recorded = {**asdict(pipeline.CompressOptions()), **m.get("options", {})}
    return m["ablation_row"] if same_base and recorded == asdict(pipeline.for_run(opts, run)) else None


def seed_summary(rows: list[dict], seeds) -> dict:
    """Mean and spread (sample std) over seeds of each seeded method, and anneal minus each magnitude baseline."""
    out = {}
    for method in SEEDED:
        names = [method if s == 0 else f"{method}-s{s}" for s in seeds]
        f1 = np.array([r["macro_f1"] for r in rows if r["variant"] in names])
        acc = np.array([r["accuracy"] for r in rows if r["variant"] in names])
        if f1.size:
            out[method] = {"macro_f1_mean": round(float(f1.mean()), 4),
                           "macro_f1_std": round(float(f1.std(ddof=1)), 4) if f1.size > 1 else None,
                           "accuracy_mean": round(float(acc.mean()), 4), "runs": int(f1.size)}
    if "anneal-prune" in out:
        for base in PRUNING[:2]:
            if base in out:
                out[f"anneal_minus_{base}_macro_f1"] = round(out["anneal-prune"]["macro_f1_mean"]
                                                             - out[base]["macro_f1_mean"], 4)
    if all(method in out for method in CHANNELS):
        out["anneal_channels_minus_magnitude_channels_macro_f1"] = round(
            out["anneal-channels"]["macro_f1_mean"] - out["magnitude-channels"]["macro_f1_mean"], 4)
    return out


def markdown(result: dict) -> str:
    ds = result["dataset"]
    lines = [
        "# Compression ablation (all figures from the int8 model: generated C, bit-exact with TFLM)",
        "",
        f"Run `{result['run']}`; test set: {ds['name']} {ds['split']}, {ds.get('test_count', '?')} samples"
        + (" — BUNDLED SAMPLE, smoke test only" if ds.get("sample") else "") + ".",
        f"Target sparsity {result['options']['target_sparsity']}, channel sparsity "
        f"{result['options'].get('channel_sparsity', '-')}, low-rank weight fraction "
        f"{result['options']['weight_fraction']}, seeds {result['seeds']}.",
        "",
        "| " + " | ".join(ROW_KEYS) + " |",
        "|" + "---|" * len(ROW_KEYS),
    ]
    for r in result["rows"]:
        lines.append("| " + " | ".join(str(r[k]) for k in ROW_KEYS) + " |")
    lines += ["", "## Over seeds (macro-F1 mean ± sample std)", ""]
    for k, v in result["pruning_vs_seeds"].items():
        if isinstance(v, dict):
            lines.append(f"- {k}: {v['macro_f1_mean']} ± {v['macro_f1_std']} over {v['runs']} seeds "
                         f"(accuracy {v['accuracy_mean']})")
        else:
            lines.append(f"- {k}: {v:+}")
    dense = result["rows"][0]
    lines += ["", "## Against dense int8", ""]
    for r in result["rows"][1:]:
        lines.append(f"- {r['variant']}: {dense['weight_bytes'] / max(r['weight_bytes'], 1):.2f}x fewer weight bytes, "
                     f"{dense['effective_macs'] / max(r['effective_macs'], 1):.2f}x fewer effective MACs, "
                     f"macro-F1 {100 * (r['macro_f1'] - dense['macro_f1']):+.2f} points")
    return "\n".join(lines) + "\n"


def method_of(variant: str) -> str:
    """The variant name without its seed suffix (anneal-prune-s2 -> anneal-prune)."""
    head, _, tail = variant.rpartition("-s")
    return head if head and tail.isdigit() else variant


def plot(rows: list[dict], path: Path) -> None:
    """Accuracy and macro-F1 against weight bytes, one colour per method (its seeds share it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(method_of(r["variant"]) for r in rows))
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(methods), 2)))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, key, label in ((axes[0], "accuracy", "accuracy"), (axes[1], "macro_f1", "macro-F1")):
        for method, colour in zip(methods, colours):
            mine = [r for r in rows if method_of(r["variant"]) == method]
            ax.scatter([r["weight_bytes"] for r in mine], [r[key] for r in mine], s=28, color=colour, label=method,
                       marker="*" if method == "dense-int8" else "o")
        ax.set_xscale("log")
        ax.set_xlabel("weight bytes (CSR incl. indices)")
        ax.set_ylabel(f"int8 {label}")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle("tinyqi compression ablation (int8 test set; one point per variant and seed)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, metadata={"Software": None})
    plt.close(fig)
