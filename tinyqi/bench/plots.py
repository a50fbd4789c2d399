"""bench plots: accuracy and macro-F1 against energy per inference with the Pareto front, and where each variant
spends its cycles, layer by layer. PNGs carry no version or time stamp (same bench, same bytes)."""

from __future__ import annotations

from pathlib import Path

from tinyqi.bench.rows import pareto_front

PARETO_PNG = "bench_pareto.png"
LAYERS_PNG = "bench_layers.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return path


def plot_pareto(rows: list[dict], title: str, path: Path) -> Path | None:
    """Both panels: every variant, and the front of variants nothing beats on quality and energy together."""
    points = [row for row in rows if row.get("energy_uj") is not None]
    if not points:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "accuracy", "accuracy"), (axes[1], "macro_f1", "macro-F1")):
        front = set(pareto_front(points, key))
        for row in points:
            on_front = row["variant"] in front
            ax.scatter(row["energy_uj"], row[key], s=36 if on_front else 18,
                       color="tab:red" if on_front else "tab:gray", zorder=3)
            ax.annotate(row["variant"], (row["energy_uj"], row[key]), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        ordered = sorted((row for row in points if row["variant"] in front), key=lambda row: row["energy_uj"])
        ax.step([row["energy_uj"] for row in ordered], [row[key] for row in ordered], where="post",
                color="tab:red", alpha=0.6, label="Pareto front")
        ax.set_xscale("log")
        ax.margins(x=0.2, y=0.1)  # room for the labels of the outermost points
        ax.set_xlabel("energy per inference (µJ, modelled)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _layer_kind(name: str) -> str:
    """'3:conv_2d_csr' -> 'conv_2d_csr': the kernel, without the op index."""
    return name.split(":", 1)[-1]


def plot_layers(rows: list[dict], title: str, path: Path) -> Path | None:
    """One horizontal bar per variant, split into its layers' cycles (vector 0, profile build)."""
    profiled = [row for row in rows if row.get("layer_cycles")]
    if not profiled:
        return None
    plt = _pyplot()
    kinds = sorted({_layer_kind(layer["layer"]) for row in profiled for layer in row["layer_cycles"]})
    colours = {kind: plt.get_cmap("tab20")(i % 20) for i, kind in enumerate(kinds)}
    fig, ax = plt.subplots(figsize=(10, 1.4 + 0.45 * len(profiled)))
    for y, row in enumerate(profiled):
        left = 0
        for layer in row["layer_cycles"]:
            ax.barh(y, layer["cycles"], left=left, color=colours[_layer_kind(layer["layer"])], edgecolor="white",
                    linewidth=0.5)
            left += layer["cycles"]
    ax.set_yticks(range(len(profiled)), [row["variant"] for row in profiled], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("cycles per inference, by layer (vector 0, -DTQ_PROFILE build)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[kind]) for kind in kinds]
    ax.legend(handles, kinds, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)
