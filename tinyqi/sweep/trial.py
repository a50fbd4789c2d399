"""One sweep trial: a configuration (tinyqi.sweep.space) run through the ordinary stages, in its own directory.

    trials/<id>/run/            `tinyqi train` (tinyqi.pipeline.train_task) with the configuration's model options,
                                epochs, class weighting and learning rate; for a compression method also
                                run/variants/<method>/ (`tinyqi compress`: tinyqi.compress.pipeline.compress)
    trials/<id>/firmware/       the harness firmware of the trial's model per board, as `tinyqi bench` builds and
                                measures it (tinyqi.bench.measure.measure_variant, tinyqi.bench.rows.bench_row)
    trials/<id>/trial.json      the trial's row (below), written last; trial.log: what the stages said

The row holds the configuration, the model's int8 metrics on the DS1 validation records (metrics.json
`validation`), its size and each board's flash, RAM, cycles and µJ per inference; never a test-set (DS2) figure.
A TinyqiError (codegen refuses the model, the firmware does not fit the board, ...) makes a "failed" row with its
one-line reason: the sweep goes on.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import read_json, write_json, write_text

TRIAL_FILE = "trial.json"
RUN = "run"
# What Ray Tune and Optuna optimise (tinyqi.sweep.pareto selects with the same): DS1-validation macro-F1 up, µJ per
# inference on the objective board down, model + runtime flash down.
OBJECTIVES = (("val_macro_f1", "max"), ("energy_uj", "min"), ("model_flash_bytes", "min"))
OBJECTIVE_BOARD = "nrf52840"
HARDWARE_KEYS = ("flash_bytes", "ram_bytes", "model_flash_bytes", "arena_bytes", "cycles", "latency_ms", "energy_uj",
                 "battery_days", "bit_exact")
ENGINE = "unicorn"  # the emulator with a cycle model
# What the selection looks at, and what it never looks at, per task (for reports).
VALIDATION_SET = {"ecg": "DS1 validation records", "vibration": "validation windows (end of each training recording)"}
TEST_SET = {"ecg": "DS2 (held-out test)", "vibration": "held-out test"}


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a sweep shares (the configuration is what differs)."""

    task: str
    sweep_dir: Path               # absolute: trials write trials/<id>/ under it (a shared path on a cluster)
    sample: bool
    data_dir: str | None = None   # absolute, or None: each machine's TINYQI_DATA / ~/.cache/tinyqi/data
    boards: tuple[str, ...] = (OBJECTIVE_BOARD,)
    threads: int = 1              # TensorFlow intra- and inter-op threads of the trial's process

    def trial_dir(self, trial_id: str) -> Path:
        return self.sweep_dir / "trials" / trial_id


def trainable(config: dict, settings: TrialSettings) -> None:
    """The Ray Tune function trainable: one trial, reported once (objectives flat, the whole row under "row")."""
    from ray import tune

    limit_threads(settings.threads)
    row = run_trial(config, settings)
    tune.report({**objective_values(row), "status": row["status"], "row": row})


def objective_values(row: dict) -> dict:
    """The objectives of a row (None for a trial that did not finish: every key must be in every report)."""
    return {name: row.get(name) for name, _ in OBJECTIVES}


def limit_threads(threads: int) -> None:
    """TensorFlow's thread pools sized to the trial's CPUs (else every trial starts one thread per core and two
    concurrent trials on two cores oversubscribe them). Must run before TensorFlow executes anything."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)
    from tinyqi.train import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already ran in this process: its pools stay as they are


def run_trial(config: dict, settings: TrialSettings) -> dict:
    """Train, compress, build and measure one configuration; returns its row (also written to trial.json)."""
    trial_id = config["trial"]
    trial_dir = settings.trial_dir(trial_id)
    if trial_dir.exists():
        shutil.rmtree(trial_dir)  # an interrupted attempt at this trial: nothing of it is kept
    trial_dir.mkdir(parents=True)
    start = time.monotonic()
    log: list[str] = []
    row = {"id": trial_id, "status": "done", "reason": None, "config": config, "node": socket.gethostname()}
    try:
        row.update(_stages(config, settings, trial_dir, log))
    except TinyqiError as exc:
        row.update(status="failed", reason=one_line(str(exc)))
    except Exception as exc:  # a tinyqi bug in one trial: recorded, the sweep goes on
        row.update(status="failed", reason=one_line(f"internal error {type(exc).__name__}: {exc}"))
    row["wall_seconds"] = round(time.monotonic() - start, 1)
    write_text(trial_dir / "trial.log", "".join(f"{line}\n" for line in log))
    write_json(trial_dir / TRIAL_FILE, row)
    return row


def read_trial(trial_dir: Path) -> dict | None:
    """The row a trial wrote when it finished; None when it did not finish (or its file is unreadable)."""
    try:
        row = read_json(trial_dir / TRIAL_FILE, "")
    except TinyqiError:
        return None
    return row if row.get("status") in ("done", "failed") else None


def one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed without a message"


def _stages(config: dict, settings: TrialSettings, trial_dir: Path, log: list[str]) -> dict:
    from tinyqi.bench.variants import INT8_VARIANT
    from tinyqi.compress.pipeline import CompressOptions, compress, load_run, validate
    from tinyqi.firmware.boards import get_board
    from tinyqi.pipeline import TrainOptions, train_task
    from tinyqi.sweep.space import NO_COMPRESSION, model_options
    from tinyqi.ui import Ui

    method = config["method"]
    compress_opts = None
    if method != NO_COMPRESSION:
        defaults = CompressOptions()
        compress_opts = CompressOptions(
            method=method, seed=config["seed"], steps=config["compress_steps"],
            finetune_epochs=config["finetune_epochs"],
            **{name: config.get(name, getattr(defaults, name))
               for name in ("target_sparsity", "channel_sparsity", "weight_fraction")})
        validate(compress_opts)  # a bad option fails the trial before any training
    boards = [get_board(name) for name in settings.boards]
    run_dir = trial_dir / RUN
    seconds = {}

    clock = time.monotonic()
    train_task(TrainOptions(settings.task, run_dir, seed=config["seed"], epochs=config["epochs"],
                            data_dir=settings.data_dir, sample=settings.sample,
                            model_options=model_options(settings.task, config),
                            weight_power=config["weight_power"], learning_rate=config["learning_rate"]),
               Ui(quiet=True))
    seconds["train"] = round(time.monotonic() - clock, 1)
    log.append(f"trained {run_dir} in {seconds['train']} s")

    model_dir, variant = run_dir, None
    if compress_opts is not None:
        clock = time.monotonic()
        variant = method
        model_dir = run_dir / "variants" / variant
        compress(load_run(run_dir), compress_opts, model_dir, log=log.append)
        seconds["compress"] = round(time.monotonic() - clock, 1)

    clock = time.monotonic()
    hardware = {board.name: measure(model_dir, variant or INT8_VARIANT, board, settings.task, trial_dir)
                for board in boards}
    seconds["measure"] = round(time.monotonic() - clock, 1)
    log.append(f"measured on {', '.join(hardware)} in {seconds['measure']} s")
    objective = hardware[OBJECTIVE_BOARD]
    if not objective["bit_exact"]:
        raise TinyqiError(f"{model_dir}: the firmware's outputs differ from TFLM's on {OBJECTIVE_BOARD}; a tinyqi "
                          "bug, please report it with this model directory")
    return {"seconds": seconds, **validation_figures(model_dir), **model_figures(model_dir, variant),
            **{key: objective[key] for key in HARDWARE_KEYS}, "boards": hardware,
            "run_dir": str(run_dir.relative_to(settings.sweep_dir)), "variant": variant,
            "model_dir": str(model_dir.relative_to(settings.sweep_dir))}


def validation_figures(model_dir: Path) -> dict:
    """The int8 (generated C) metrics on the DS1 validation records: the only accuracy figures a trial reports."""
    metrics = read_json(model_dir / "metrics.json", "re-run the trial")
    validation = metrics.get("validation")
    if not isinstance(validation, dict) or "macro_f1" not in validation:
        raise TinyqiError(f"{model_dir / 'metrics.json'}: no 'validation' metrics; this tinyqi writes them with "
                          "every run and variant")
    f1 = {name: pc["f1"] for name, pc in validation["per_class"].items()}
    return {"validation": {"accuracy": validation["accuracy"], "macro_f1": validation["macro_f1"], "f1": f1,
                           "support": {name: pc["support"] for name, pc in validation["per_class"].items()}},
            "val_macro_f1": validation["macro_f1"], "val_f1_S": f1.get("S"), "val_f1_V": f1.get("V")}


def model_figures(model_dir: Path, variant: str | None) -> dict:
    """The int8 model's size: weight bytes as stored (CSR tables where they are smaller), .tflite bytes, sha256."""
    from tinyqi.compress import storage
    from tinyqi.files import sha256_file
    from tinyqi.tflite_model import parse_tflite

    metrics = read_json(model_dir / "metrics.json", "re-run the trial")
    if variant is not None:
        weight_bytes = metrics["ablation_row"]["weight_bytes"]
    else:  # the run root has no CSR tables: every weight dense
        model = parse_tflite((model_dir / "model_int8.tflite").read_bytes())
        weight_bytes = storage.storage(model, [])["weight_bytes"]
    return {"weight_bytes": weight_bytes, "tflite_bytes": metrics["tflite_bytes"], "params": metrics["params"],
            "macs": metrics["macs"], "tflite_sha256": sha256_file(model_dir / "model_int8.tflite")}


def measure(model_dir: Path, variant: str, board, task: str, trial_dir: Path) -> dict:
    """The trial's model on one board exactly as `tinyqi bench` measures a variant: its harness firmware built and
    run in the emulator; flash, RAM, cycles, µJ per inference (bench.json's row keys)."""
    from tinyqi.bench.measure import BenchSettings, measure_variant
    from tinyqi.bench.rows import bench_row
    from tinyqi.bench.run import energy_model
    from tinyqi.bench.variants import Variant
    from tinyqi.energy import CR2032, TASK_INFERENCES_PER_MINUTE

    figures, _ = energy_model(board)
    with firmware_lock():
        measurement = measure_variant(Variant(variant, model_dir, False, "int8"),
                                      BenchSettings(board, ENGINE, trial_dir))
    row = bench_row(measurement, figures, TASK_INFERENCES_PER_MINUTE[task], CR2032)
    return {key: row[key] for key in HARDWARE_KEYS}  # not its accuracy: bench rows carry test-set figures


@contextmanager
def firmware_lock():
    """One firmware build at a time on this machine: concurrent trials share the offline PlatformIO core, which
    every build refreshes (tinyqi.firmware.pio_core.prepare_core) and PlatformIO itself writes to."""
    path = Path(tempfile.gettempdir()) / f"tinyqi-sweep-firmware-{os.getuid()}.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
