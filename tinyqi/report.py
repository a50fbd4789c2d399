"""Human-readable run report (report.md) and the int8 confusion-matrix figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.files import atomic_path, write_text


def confusion_png(path: Path, cm: list[list[int]], class_names: list[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(4.6, 4.0), dpi=120)
    ax.imshow(cm / np.maximum(cm.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(cm):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, metadata={"Software": None})  # no version/time stamp: same run, same bytes
    plt.close(fig)


# CWRU (vibration): what a split by motor load can and cannot show. One text for report.md, lolo.md/lolo.json and
# the docs (docs/vibration.md, datasets/cwru/README.md say the same).
LOAD_SPLIT_CAVEAT = (
    "**What the load-wise split shows, and what it does not.** CWRU seeded every fault once: each fault class is "
    "one bearing with one EDM defect (one place, one diameter), reinstalled in the same test motor and recorded "
    "at 0, 1, 2 and 3 HP (1797 down to about 1720 rpm, the files' RPM values), one recording per load (file "
    "numbers: the 0 HP file + 1 per HP; datasets/cwru/README.md). So the same physical bearings and defects are "
    "on the training side and on the test side, at different loads. Held-out-load accuracy measures robustness to "
    "a change of load and speed on the same fault instances; it is not generalisation to new bearings, new fault "
    "instances (another defect of the same kind and size), other sensor mountings or other machines, which this "
    "data cannot test. The normal class is a single recording at 0 HP, split by time.")


def load_split_section(ds: dict) -> list[str]:
    """The caveat of the load-wise split, for runs on CWRU (every vibration split is by load)."""
    if ds.get("name") != "cwru":
        return []
    return ["## What the held-out load shows", "", LOAD_SPLIT_CAVEAT, ""]


def metrics_table(metrics: dict, class_names: list[str]) -> list[str]:
    lines = ["| model | accuracy | macro-F1 | " + " | ".join(f"Se {c} | +P {c}" for c in class_names) + " |",
             "|---|---|---|" + "---|---|" * len(class_names)]
    for kind in ("float", "int8"):
        m = metrics[kind]
        cells = [f"{m['per_class'][c]['se']:.3f} | {m['per_class'][c]['ppv']:.3f}" for c in class_names]
        lines.append(f"| {kind} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | " + " | ".join(cells) + " |")
    return lines


def device_section(metrics: dict, class_names: list[str]) -> list[str]:
    """ECG: what the device does end to end, beats it missed and false detections included."""
    device, ds = metrics.get("int8_device"), metrics["dataset"]
    if device is None:
        return []
    det = ds["test_detection"]
    cells = [f"{device['per_class'][c]['se']:.3f} | {device['per_class'][c]['ppv']:.3f}" for c in class_names]
    return ["## The device job (beats found by the device's own detector)", "",
            f"Beats source: {ds['beats']} ({ds['chain']}). Class per beat: "
            f"{ds.get('decision', 'the largest score (a run from before the decision)')}.", "",
            f"QRS detection on the test records: Se {det['se']:.4f}, +P {det['ppv']:.4f} "
            f"({det['tp']} found, {det['fn']} missed, {det['fp']} false).", "",
            "| int8, EC57 beat by beat | macro-F1 | macro-F1 N/S/V | "
            + " | ".join(f"Se {c} | +P {c}" for c in class_names) + " |",
            "|---|---|---|" + "---|---|" * len(class_names),
            f"| missed beats count against their class, false detections as positives | {device['macro_f1']:.4f} | "
            f"{device['macro_f1_nsv']:.4f} | " + " | ".join(cells) + " |", ""]


def write_report(run_dir: Path, metrics: dict, class_names: list[str]) -> Path:
    ds = metrics["dataset"]
    lr = metrics["int8_litert_ref"]
    banner = []
    if ds["sample"]:
        banner = ["> **Ran on the bundled SAMPLE, not the full dataset.** These figures are a smoke test, not a",
                  "> result: fetch the data (`tinyqi data fetch " + ds["name"] + "`) for real numbers.", ""]
    lines = [
        f"# tinyqi run: {metrics['task']}", "", *banner,
        f"- dataset: {ds['name']} ({ds['split']}; {ds['notes']})",
        f"- source: {ds.get('source', 'see the dataset card')}",
        f"- train / validation / test: {ds['train_count']} / {ds['val_count']} / {ds['test_count']}",
        f"- model: {metrics['params']} parameters, {metrics['macs']} MACs per inference, int8 .tflite "
        f"{metrics['tflite_bytes']} bytes, ops: {', '.join(sorted(set(metrics['ops'])))}",
        training_line(metrics),
        "", "## Test set", "", *metrics_table(metrics, class_names), "",
        f"int8 metrics come from {metrics['int8_evaluation']}: the code that runs on the device. "
        f"{metrics['int8_tflm_mismatches']} of {metrics['int8_outputs']} int8 output values differ from TFLM "
        f"(the microcontroller reference). LiteRT's reference kernels differ from TFLM in "
        f"{lr['mismatches_vs_tflm']} values ({lr['argmax_mismatches_vs_tflm']} predicted classes; LiteRT accuracy "
        f"{lr['accuracy']:.4f}, macro-F1 {lr['macro_f1']:.4f}): they round FULLY_CONNECTED once in double precision "
        f"where TFLM rounds twice in fixed point.", "",
        "![int8 confusion matrix](confusion_int8.png)", "",
        *load_split_section(ds),
        *device_section(metrics, class_names),
    ]
    return write_text(run_dir / "report.md", "\n".join(lines))


def training_line(metrics: dict) -> str:
    training = metrics["training"]
    head = f"- seed {metrics['seed']}, {training['epochs']} epochs, "
    if not training.get("select_epoch", True):
        kept = "the last epoch's weights (a fixed count, no epoch selection)"
        if "members" in training:
            seeds = ", ".join(str(m["seed"]) for m in training["members"])
            return head + f"the average of {len(training['members'])} models (seeds {seeds}), each {kept}"
        return head + kept
    if "members" in training:
        return head + f"the average of {len(training['members'])} models: " + "; ".join(
            f"seed {m['seed']} best validation epoch {m['best_epoch'] + 1} (macro-F1 {m['val_macro_f1']:.4f})"
            for m in training["members"])
    return head + (f"best validation epoch {training['best_epoch'] + 1} "
                   f"(validation macro-F1 {training['val_macro_f1']:.4f})")
