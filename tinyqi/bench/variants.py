"""Which models a bench compares: the run's float32 model (FPU baseline), its int8 model, and every compressed
variant in RUN_DIR/variants/<name>/ (docs/architecture.md), each a model directory `tinyqi build` can build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import is_hidden, read_json, require
from tinyqi.firmware.build import FLOAT_MODEL_FILE, GOLDEN_FILE, MODEL_FILE
from tinyqi.manifest import check_model_dir

FLOAT_VARIANT = "float32-dense"
METRICS_TODO = "re-run `tinyqi train` (or `tinyqi compress` for a variant) to write it again"
INT8_VARIANT = "int8-dense"


@dataclass(frozen=True)
class Variant:
    name: str           # a row of the bench: FLOAT_VARIANT, INT8_VARIANT or the variants/<name> directory name
    model_dir: Path
    float_model: bool   # build model_float.tflite (FPU) instead of model_int8.tflite
    metrics_key: str    # where its accuracy lives in its metrics.json: "float" or "int8"

    @property
    def metrics(self) -> dict:
        path = self.model_dir / "metrics.json"
        metrics = read_json(path, METRICS_TODO)
        key = self.metrics_key
        require(metrics, path, {f"{key}.accuracy": (int, float), f"{key}.macro_f1": (int, float)}, METRICS_TODO)
        return metrics

    @property
    def has_csr(self) -> bool:
        return (self.model_dir / "csr.json").is_file()


def default_run_dir(task: str) -> Path:
    """Where `tinyqi train <task>` writes by default."""
    return Path("runs") / task


def load_run(task: str, run_dir: Path | None) -> tuple[Path, dict]:
    """The run directory and its metrics, after checking it is a run of `task`."""
    run_dir = run_dir or default_run_dir(task)
    if not run_dir.is_dir():
        raise TinyqiError(f"{run_dir}: no such run directory; train one with `tinyqi train {task}` "
                          "or pass --run RUN_DIR")
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise TinyqiError(f"{path}: missing; {run_dir} is not a run directory written by `tinyqi train`")
    metrics = read_json(path, METRICS_TODO)
    require(metrics, path, {"task": str, "dataset": dict}, METRICS_TODO)
    if metrics.get("task") != task:
        raise TinyqiError(f"{run_dir}: holds a '{metrics.get('task')}' run, not '{task}'; "
                          f"pass `tinyqi bench {metrics.get('task')}` or another --run")
    return run_dir, metrics


def _check_model_dir(variant: Variant) -> Variant:
    check_model_dir(variant.model_dir)  # what is there belongs together (tinyqi.manifest)
    needed = [FLOAT_MODEL_FILE if variant.float_model else MODEL_FILE, GOLDEN_FILE, "metrics.json"]
    missing = [name for name in needed if not (variant.model_dir / name).is_file()]
    if missing:
        raise TinyqiError(f"{variant.model_dir}: variant '{variant.name}' lacks {', '.join(missing)}; "
                          "it is not a complete model directory (docs/architecture.md)")
    return variant


def all_variants(run_dir: Path) -> list[Variant]:
    """Float32 (when the run has it), int8, then the compressed variants in name order."""
    found = []
    if (run_dir / FLOAT_MODEL_FILE).is_file():
        found.append(Variant(FLOAT_VARIANT, run_dir, True, "float"))
    found.append(Variant(INT8_VARIANT, run_dir, False, "int8"))
    variants_dir = run_dir / "variants"
    names = sorted(path.name for path in variants_dir.iterdir()
                   if path.is_dir() and not is_hidden(path)) if variants_dir.is_dir() else []  # hidden: under way
    found += [Variant(name, variants_dir / name, False, "int8") for name in names]
    return found


def select_variants(run_dir: Path, names: tuple[str, ...] = ()) -> list[Variant]:
    """All variants of the run, or the named ones in the order given; an unknown name is one clear error."""
    available = all_variants(run_dir)
    if not names:
        return [_check_model_dir(variant) for variant in available]
    by_name = {variant.name: variant for variant in available}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise TinyqiError(f"{run_dir}: no variant {', '.join(unknown)}; available: "
                          f"{', '.join(by_name)} (create compressed ones with `tinyqi compress`)")
    return [_check_model_dir(by_name[name]) for name in dict.fromkeys(names)]
