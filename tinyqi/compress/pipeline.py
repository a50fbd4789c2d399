"""`tinyqi compress`: a trained run directory -> one compressed variant in `RUN_DIR/variants/<name>/`.

Methods (each ends with masked / plain fine-tuning on the training split and a full-int8 conversion):
  magnitude-global, magnitude-layer  gradual magnitude pruning (one threshold overall / the same sparsity per layer)
  anneal-prune                       gradual pruning with the annealed QUBO mask search (prune.anneal_masks)
  svd                                per-layer-rank truncated SVD (lowrank.choose_ranks + svd_factors)
  anneal-factorise                   the same ranks, factors refined by annealed L-BFGS on layer outputs
  qinn                               the task's hybrid QINN model (Task.build_qinn) trained from scratch
  combined                           qinn -> anneal-factorise -> anneal-prune
  magnitude-channels, anneal-channels
                                     structured: the same share of output channels removed from every Conv1D, chosen
                                     by filter L1 norm / by the annealed channel QUBO (channels.py), then fine-tuning
  combined-channels                  qinn -> anneal-channels -> anneal-prune: fewer outputs and sparse weights
  finetune                           control, no compression: the baseline trained as many extra epochs as combined
                                     gets (2 * steps * finetune_epochs), to separate compression from extra training
Gradual pruning reaches the target in `steps` steps on a cubic ramp s_k = S (1 - (1 - k/steps)^3), with masked
fine-tuning after every step (pruned weights are held at exactly 0 by a kernel constraint).

Every variant directory has the run-root shape (docs/architecture.md): model_int8.tflite, csr.json + csr.npz for
the tensors CSR makes smaller, golden.npz and metrics.json (via tinyqi.modeldir, as the run root), plus model.keras
and manifest.json (tinyqi.manifest: the sha256 of each, and of the run model it was made from). The directory is
written aside and swapped in whole (tinyqi.files.staged_dir): an interrupted compress leaves the previous variant
or none, never a variant without its golden vectors.
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from tinyqi import convert, csr, modeldir
from tinyqi.compress import channels, lowrank, prune, storage
from tinyqi.data.dataset import Dataset
from tinyqi.data.ecg import check_rr_features
from tinyqi.errors import TinyqiError
from tinyqi.files import check_replaceable, read_json, require, staged_dir, write_bytes, write_json
from tinyqi.manifest import MODEL, check_model_dir, is_model_dir_output, write_manifest
from tinyqi.tflite_model import parse_tflite

METHODS = ("magnitude-global", "magnitude-layer", "anneal-prune", "svd", "anneal-factorise", "qinn", "combined",
           "finetune", "magnitude-channels", "anneal-channels", "combined-channels")
PRUNING_METHODS = ("magnitude-global", "magnitude-layer", "anneal-prune", "combined", "combined-channels")
CALIBRATION_SAMPLES = 512
METRICS_TODO = "compress needs the metrics.json `tinyqi train` writes; re-run it"
KERAS_TODO = "re-run `tinyqi train` (or `tinyqi compress` for a variant) to write it again"
KERAS_MEMBERS = {"config.json", "model.weights.h5"}
VARIANT_DIR = "variant directory"


@dataclass(frozen=True)
class CompressOptions:
    method: str = "anneal-prune"
    target_sparsity: float = 0.8
    channel_sparsity: float = 0.5  # structured methods: share of each Conv1D's output channels removed
    weight_fraction: float = 0.5  # low-rank: factorised weights / dense weights of the factorised layers
    row_balanced: bool = False
    steps: int = 3
    finetune_epochs: int = 4
    learning_rate: float = 1e-3
    seed: int = 0
    sweeps: int = 80
    replicas: int = 4
    tempering: bool = False
    saliency_samples: int = 512
    # Fine-tuning keeps the epoch best on the validation records, or (False) the last: the run's own training
    # policy (tasks.Task.select_epoch), which compress() takes from the run (for_run).
    select_epoch: bool = True


@dataclass
class Run:
    """A trained run directory and everything a variant needs from it."""

    path: Path
    metrics: dict
    ds: Dataset
    model_sha256: str | None = None  # of the run's model_int8.tflite, as its manifest lists it: a variant's base

    def load_model(self):
        return load_keras(self.path / "model.keras")


def load_keras(path: Path):
    """A saved Keras model (QINN layers included); a damaged file is one line naming it, not Keras' "File not
    found"."""
    import keras

    import tinyqi.models.qinn  # noqa: F401  registers the QINN layers for deserialisation

    check_keras_archive(path)
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, KeyError, OSError) as exc:
        raise TinyqiError(f"{path}: Keras cannot load it ({str(exc).strip().splitlines()[0]}); {KERAS_TODO}") from None


def check_keras_archive(path: Path) -> None:
    """A .keras file is a zip holding config.json and the weights, each with a CRC: checked in a moment, before any
    data is loaded or TensorFlow imported."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged, names = archive.testzip(), set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise TinyqiError(f"{path}: not a readable Keras archive ({exc}); {KERAS_TODO}") from None
    missing = sorted(KERAS_MEMBERS - names)
    if damaged or missing:
        raise TinyqiError(f"{path}: {f'{damaged} is damaged' if damaged else f'no {missing[0]}'} in the Keras "
                          f"archive; {KERAS_TODO}")


def load_run(run_dir: str | Path, data_dir: str | None = None) -> Run:
    from tinyqi.tasks import get_task

    run_dir = Path(run_dir)
    for name in ("model.keras", "metrics.json", "model_int8.tflite"):
        if not (run_dir / name).is_file():
            raise TinyqiError(f"{run_dir / name}: missing; compress needs a run directory written by `tinyqi train`")
    manifest = check_model_dir(run_dir, stage="train")
    check_keras_archive(run_dir / "model.keras")
    metrics = read_run_metrics(run_dir / "metrics.json")
    info = metrics["dataset"]
    if info.get("name") == "mitdb":
        check_rr_features(info, run_dir / "metrics.json")
    if data_dir is not None:
        check_data_dir(data_dir, info["sample"])
    elif not info["sample"]:
        data_dir = str(Path(info["source"]).parent)  # the data the run was trained on
    task = get_task(metrics["task"])
    options = task.load_options(info.get("labels"), info.get("beats"))
    ds = task.load(data_dir, sample=info["sample"], split=info["split"], **options)
    return Run(run_dir, metrics, ds, manifest["files"][MODEL])


def read_run_metrics(path: Path) -> dict:
    """metrics.json of a trained run, with the keys compress relies on."""
    metrics = read_json(path, METRICS_TODO)
    require(metrics, path, {"task": str, "dataset.sample": bool, "dataset.split": str, "training.epochs": int},
            METRICS_TODO)
    if not metrics["dataset"]["sample"]:
        require(metrics, path, {"dataset.source": str}, METRICS_TODO)
    return metrics


def check_data_dir(data_dir: str, sample: bool) -> None:
    """--data-dir names the data to compress with: refused rather than ignored when the run used the sample."""
    if sample:
        raise TinyqiError(f"--data-dir {data_dir}: the run was trained on the bundled sample, and its variants use the "
                          "same data; drop --data-dir, or train a run on the full data first")
    if not Path(data_dir).is_dir():
        raise TinyqiError(f"--data-dir {data_dir}: no such directory; give the data root the run was trained on")


def variant_name(opts: CompressOptions) -> str:
    name = opts.method + ("-rb" if opts.row_balanced else "")
    return name if opts.seed == 0 else f"{name}-s{opts.seed}"


def for_run(opts: CompressOptions, run: Run) -> CompressOptions:
    """`opts` with the run's training policy: a variant is fine-tuned the way the run's model was trained (a run
    written before the policy was recorded selected its epochs)."""
    return replace(opts, select_epoch=run.metrics["training"].get("select_epoch", True))


def compress(run: Run, opts: CompressOptions, out: Path | None = None, log=print) -> dict:
    """Build, fine-tune, convert, check and write one variant; returns its ablation row."""
    validate(opts)
    opts = for_run(opts, run)
    out = check_variant_out(run.path, Path(out) if out else run.path / "variants" / variant_name(opts))
    start = time.process_time()
    model, masks = _build(run, opts, log)
    seconds = time.process_time() - start
    return export_variant(model, masks, run, out, opts, seconds, log)


def check_variant_out(run_dir: Path, out: Path) -> Path:
    """`out` may take a variant directory (written whole, tinyqi.files.staged_dir): checked before any work."""
    target = check_replaceable(out, is_model_dir_output, VARIANT_DIR)
    run = Path(run_dir).resolve()
    if target == run or target in run.parents:
        raise TinyqiError(f"--out {out}: is the run directory {run_dir} or holds it, and a variant directory "
                          "replaces its place as a whole; choose another place (default: RUN_DIR/variants/<name>)")
    return out


def validate(opts: CompressOptions) -> None:
    """Reject bad options before any data loading or training."""
    if opts.method not in METHODS:
        raise TinyqiError(f"--method {opts.method}: unknown; choose one of {', '.join(METHODS)}")
    if not 0.0 <= opts.target_sparsity < 1.0:
        raise TinyqiError(f"--target-sparsity {opts.target_sparsity}: must be in [0, 1); e.g. 0.8 keeps 20 % of "
                          "the weights")
    if not 0.0 <= opts.channel_sparsity < 1.0:
        raise TinyqiError(f"--channel-sparsity {opts.channel_sparsity}: must be in [0, 1); e.g. 0.5 removes half "
                          "of each convolution's output channels")
    if not 0.0 < opts.weight_fraction < 1.0:
        raise TinyqiError(f"--weight-fraction {opts.weight_fraction}: must be in (0, 1), e.g. 0.5")
    if opts.row_balanced and opts.method not in PRUNING_METHODS:
        raise TinyqiError(f"--row-balanced: applies to pruning ({', '.join(PRUNING_METHODS)}), not {opts.method}")


def _build(run: Run, opts: CompressOptions, log):
    from tinyqi.train import set_determinism

    set_determinism(opts.seed)
    m = opts.method
    if m in ("magnitude-global", "magnitude-layer", "anneal-prune"):
        model = run.load_model()
        return model, prune_gradually(model, run.ds, opts, log)
    if m == "finetune":
        model = run.load_model()
        finetune(model, run.ds, opts, 2 * opts.steps * opts.finetune_epochs, opts.seed)
        return model, {}
    if m in ("svd", "anneal-factorise"):
        model = factorise(run.load_model(), run.ds, opts, refined=m == "anneal-factorise", log=log)
        return model, {}
    if m in ("magnitude-channels", "anneal-channels"):
        return prune_channels(run.load_model(), run.ds, opts, log), {}
    qinn = train_qinn(run, opts, log)
    if m == "qinn":
        return qinn, {}
    if m == "combined-channels":
        model = prune_channels(qinn, run.ds, replace(opts, method="anneal-channels"), log)
        return model, prune_gradually(model, run.ds, replace(opts, method="anneal-prune"), log)
    model = factorise(qinn, run.ds, opts, refined=True, log=log)
    return model, prune_gradually(model, run.ds, replace(opts, method="anneal-prune"), log)


# ---------------------------------------------------------------- the building steps

def finetune(model, ds: Dataset, opts: CompressOptions, epochs: int, seed: int) -> dict:
    from tinyqi.train import fit

    return fit(model, ds, epochs=epochs, seed=seed, learning_rate=opts.learning_rate, select_epoch=opts.select_epoch)


def _judged(result: dict) -> str:
    """The validation macro-F1 the fine-tuning chose by, when it chose an epoch."""
    return "" if result["val_macro_f1"] is None else f", val macro-F1 {result['val_macro_f1']:.4f}"


def prune_gradually(model, ds: Dataset, opts: CompressOptions, log) -> dict[str, np.ndarray]:
    from tinyqi.train import class_weights

    layers_ = prune.prunable_layers(model)
    masks = {}
    for k in range(1, opts.steps + 1):
        sparsity = opts.target_sparsity * (1 - (1 - k / opts.steps) ** 3)
        weights = prune.kernels(layers_)
        if opts.method == "anneal-prune":
            sal = prune.compute_saliency(model, layers_, ds.x_train, ds.y_train,
                                         class_weights(ds.y_train, ds.n_classes), opts.saliency_samples,
                                         seed=opts.seed + k)
            aopts = prune.AnnealOptions(opts.sweeps, opts.replicas, opts.tempering, "anneal", opts.row_balanced,
                                        opts.seed + k)
            masks = prune.anneal_masks(sal, sparsity, aopts)
        else:
            scope = "global" if opts.method == "magnitude-global" else "layer"
            masks = prune.magnitude_masks(weights, sparsity, scope, opts.row_balanced)
        prune.apply_masks(model, masks)
        result = finetune(model, ds, opts, opts.finetune_epochs, opts.seed + k)
        log(f"step {k}/{opts.steps}: sparsity {1 - prune.density(masks):.3f}{_judged(result)}")
    prune.clear_constraints(model, masks)
    if opts.row_balanced:
        log(f"row balance: {prune.make_int8_visible(model, masks)} kept weights raised to one int8 step")
    return masks


def prune_channels(model, ds: Dataset, opts: CompressOptions, log):
    """A copy of `model` with `opts.channel_sparsity` of every prunable Conv1D's channels removed, fine-tuned."""
    from tinyqi.train import class_weights

    if opts.method == "anneal-channels":
        sal = channels.gate_saliency(model, ds.x_train, ds.y_train, class_weights(ds.y_train, ds.n_classes),
                                     opts.saliency_samples, seed=opts.seed)
        aopts = prune.AnnealOptions(opts.sweeps, opts.replicas, opts.tempering, seed=opts.seed)
        keep = channels.anneal_channels(sal, opts.channel_sparsity, aopts)
    else:
        keep = channels.magnitude_channels(model, opts.channel_sparsity)
    new = channels.remove_channels(model, keep)
    result = finetune(new, ds, opts, opts.finetune_epochs * opts.steps, opts.seed)
    kept = ", ".join(f"{name} {int(k.sum())}/{k.size}" for name, k in keep.items())
    log(f"channels kept ({opts.method}): {kept}; fine-tuned{_judged(result)}")
    return new


def factorise(model, ds: Dataset, opts: CompressOptions, refined: bool, log):
    layers_ = [l for l in model.layers if type(l).__name__ in prune.PRUNABLE]
    mats = {l.name: lowrank.as_matrix(l.kernel.numpy()) for l in layers_}
    ranks = lowrank.choose_ranks(mats, opts.weight_fraction)
    factors = {}
    calib = [x[:CALIBRATION_SAMPLES] for x in ds.x_train]
    for layer in layers_:
        if layer.name not in ranks:
            continue
        u, v = lowrank.svd_factors(mats[layer.name], ranks[layer.name])
        if refined:
            x = _layer_inputs(model, layer, calib)
            bias = layer.bias.numpy() if layer.use_bias else np.zeros(mats[layer.name].shape[1], np.float32)
            relu = layer.get_config()["activation"] == "relu"
            before = lowrank.output_error(x, mats[layer.name], bias, u, v, relu)
            u, v = lowrank.refine(x, mats[layer.name], bias, u, v, relu)
            log(f"{layer.name}: rank {ranks[layer.name]}, output error {before:.4f} (SVD) -> "
                f"{lowrank.output_error(x, mats[layer.name], bias, u, v, relu):.4f} (annealed L-BFGS)")
        factors[layer.name] = (u, v)
    new = lowrank.factorise_model(model, factors)
    result = finetune(new, ds, opts, opts.finetune_epochs * opts.steps, opts.seed)
    log(f"factorised {sorted(ranks.items())}; fine-tuned{_judged(result)}")
    return new


def _layer_inputs(model, layer, xs: list[np.ndarray]) -> np.ndarray:
    import keras

    feed = keras.Model(model.inputs, layer.input)
    x = np.asarray(feed.predict(xs, batch_size=1024, verbose=0), dtype=np.float64)
    if type(layer).__name__ == "Conv1D":
        cfg = layer.get_config()
        return lowrank.im2col(x, cfg["kernel_size"][0], cfg["strides"][0], cfg["padding"])
    return x


def train_qinn(run: Run, opts: CompressOptions, log):
    """The QINN hybrid, trained like the run's baseline (its epochs, model widths, class weighting and learning
    rate, as its metrics.json records them); reused from variants/qinn when present."""
    from tinyqi.tasks import get_task
    from tinyqi.train import fit, set_determinism

    task = get_task(run.metrics["task"])
    saved = run.path / "variants" / variant_name(replace(opts, method="qinn", row_balanced=False)) / "model.keras"
    if opts.method != "qinn" and saved.is_file():
        try:
            check_model_dir(saved.parent)
        except TinyqiError as exc:
            log(f"not reusing {saved.parent}: {exc}")
        else:
            log(f"reusing the trained QINN model {saved}")
            return load_keras(saved)
    set_determinism(opts.seed)
    training = run.metrics["training"]
    model = task.build_qinn(run.ds.input_shapes, run.ds.n_classes, **training.get("model_options", {}))
    epochs = training["epochs"]
    # Trained the way the run's model was: its epoch count, and its epoch selection or none (for_run).
    result = fit(model, run.ds, epochs=epochs, seed=opts.seed, batch_size=task.batch_size, weight_ema=task.weight_ema,
                 select_epoch=opts.select_epoch,
                 **{k: training[k] for k in ("weight_power", "learning_rate") if k in training})
    log(f"QINN trained {epochs} epochs{_judged(result)}")
    return model


# ---------------------------------------------------------------- export

def export_variant(model, masks: dict[str, np.ndarray], run: Run, out: Path, opts: CompressOptions, seconds: float,
                   log) -> dict:
    """Convert, check and write the variant directory `out` as a whole (aside, then swapped in)."""
    tflite = convert.to_int8_tflite(model, run.ds.x_train, input_scale=run.ds.input_scale)
    tm = parse_tflite(tflite)
    check_masks_survive(tm, model, masks)
    with staged_dir(out, is_model_dir_output, VARIANT_DIR) as stage:
        row = _write_variant(model, tflite, tm, run, stage, opts, seconds)
        write_manifest(stage, "compress", base_sha256=run.model_sha256)
    log(f"{row['variant']}: macro-F1 {row['macro_f1']:.4f}, {row['weight_bytes']} weight bytes, "
        f"{row['effective_macs']} effective MACs -> {out}")
    return row


def _write_variant(model, tflite: bytes, tm, run: Run, out: Path, opts: CompressOptions, seconds: float) -> dict:
    ds = run.ds
    write_bytes(out / "model_int8.tflite", tflite)
    tables = storage.worthwhile_tables(tm)
    if tables:
        csr.write_tables(out / "model_int8.tflite", tables)
    model.save(out / "model.keras")
    evaluation = modeldir.evaluate_int8(out, ds)
    modeldir.write_golden(out, tflite, ds.x_test, ds.y_test, ds.n_classes)
    row = ablation_row(variant_name(opts), evaluation["metrics"], tm, tables, seconds)
    metrics = {
        "task": run.metrics["task"], "dataset": run.metrics["dataset"], "variant": row["variant"],
        "options": asdict(opts), "base_tflite_sha256": run.metrics.get("tflite_sha256"), "int8": evaluation["metrics"],
        "int8_evaluation": modeldir.INT8_EVALUATION, "int8_tflm_mismatches": evaluation["tflm_mismatches"],
        "int8_litert_ref": evaluation["litert_ref"], "int8_outputs": evaluation["outputs"],
        **modeldir.model_summary(tflite), "ablation_row": row,
    }
    device = modeldir.device_metrics(ds, evaluation["predictions"], evaluation["false_predictions"])
    if device is not None:
        metrics["int8_device"] = device
    metrics["validation"] = modeldir.validation_metrics(out, ds)
    write_json(out / "metrics.json", metrics)
    return row


def ablation_row(variant: str, int8_metrics: dict, tm, tables, seconds: float) -> dict:
    pc = int8_metrics["per_class"]
    return {
        "variant": variant,
        "accuracy": int8_metrics["accuracy"],
        "macro_f1": int8_metrics["macro_f1"],
        "se_V": pc["V"]["se"] if "V" in pc else None,
        "se_S": pc["S"]["se"] if "S" in pc else None,
        **storage.storage(tm, tables),
        "compress_seconds": round(seconds, 1),
    }


def check_masks_survive(tm, model, masks: dict[str, np.ndarray]) -> None:
    """Every pruned Keras weight is exactly 0 in some int8 weight tensor of the .tflite laid out like it."""
    candidates = [tm.tensor(i).data for i in csr.sparse_weight_tensors(tm)]
    for name, mask in sorted(masks.items()):
        layout = mask.T if mask.ndim == 2 else mask.transpose(2, 0, 1)[:, None]  # Dense / Conv1D -> TFLite
        pruned = ~layout
        if not any(w.shape == layout.shape and not np.any(w[pruned]) for w in candidates):
            raise TinyqiError(f"layer '{name}': pruned weights are not all zero in the int8 .tflite; "
                              "this is a tinyqi bug, please report it")
