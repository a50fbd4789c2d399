"""Deterministic Keras training with class weighting and model selection on the (training-side) validation set."""

from __future__ import annotations

import numpy as np

from tinyqi.data.dataset import Dataset
from tinyqi.evaluate import classification_metrics


def import_tensorflow() -> None:
    """Loads TensorFlow and Keras with fds 1/2 silenced: their C++ libraries print absl log lines (oneDNN notices)
    straight to stderr while loading, whatever TF_CPP_MIN_LOG_LEVEL says. Later imports are free."""
    from tinyqi.convert import native_output_silenced

    with native_output_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def set_determinism(seed: int) -> None:
    """Same seed, same data -> same weights -> byte-identical .tflite (needs both calls, ml-stack notes).
    Every training path calls it first, so it is where TensorFlow gets loaded quietly."""
    import_tensorflow()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


EMA_MOMENTUM = 0.99


def class_weights(y: np.ndarray, n_classes: int, power: float = 0.5) -> dict[int, float]:
    """Imbalance handled on purpose: weight_c = (n / (k * n_c)) ** power, normalised so the mean sample weight
    is 1. power=1 is fully balanced; 0.5 keeps rare classes (S, F) visible without drowning N's precision."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = (counts.sum() / (present.sum() * counts[present])) ** power
    w /= (w * counts).sum() / counts.sum()
    return {c: float(w[c]) for c in range(n_classes)}


def fit(model, ds: Dataset, *, epochs: int, seed: int, batch_size: int = 256, learning_rate: float = 3e-3,
        weight_power: float = 0.5, weight_ema: bool = False, select_epoch: bool = True, on_epoch=None,
        extra_callbacks=()) -> dict:
    """Train `model` (softmax output) and restore the epoch with the best validation macro-F1; among epochs with
    the same macro-F1 (a small validation set can reach 1.0 early) the one with the lowest validation loss.
    `select_epoch=False`: no validation set is used; the model is the last epoch's (cross-validation, cv.py, and
    the ECG task: a fixed epoch count, docs/signal.md "The epoch count"). `on_epoch(epoch, logs, val_macro_f1)`
    follows the progress; val_macro_f1 is None without selection.
    `weight_ema`: the model kept (and judged each epoch) is the exponential moving average of the weights
    (momentum 0.99), which varies less from seed to seed and patient to patient than the last step's weights."""
    import keras

    set_determinism(seed)
    optimizer = keras.optimizers.Adam(learning_rate, use_ema=weight_ema, ema_momentum=EMA_MOMENTUM)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    selector = _BestMacroF1(ds, on_epoch) if select_epoch else _LastEpoch(on_epoch)
    # SwapEMAWeights first: it puts the averaged weights in the model before the selector judges the epoch.
    swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if weight_ema else []
    model.fit(model_feed(ds.x_train), ds.y_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
              class_weight=class_weights(ds.y_train, ds.n_classes, weight_power),
              callbacks=[*swap, selector, *extra_callbacks])
    model.set_weights(selector.best_weights)
    return {"best_epoch": selector.best_epoch, "val_macro_f1": selector.best_f1, "epochs": epochs,
            "select_epoch": select_epoch}


def train_members(build, ds: Dataset, *, members: int, seed: int, **fit_options) -> tuple[object, dict]:
    """`members` models from `build()`, each trained alone by `fit` with its own seed (models.ensemble.member_seeds)
    and its own epoch selection. One member is the single model itself; more are joined in one graph whose output
    is the mean of theirs (models.ensemble.assemble). Returns the model and what `fit` said (per member)."""
    from tinyqi.models.ensemble import assemble, check_members, member_seeds

    check_members(members)
    seeds, models, runs = member_seeds(seed, members), [], []
    for member_seed in seeds:
        set_determinism(member_seed)  # before building: the initial weights come from the member's seed too
        models.append(build())
        runs.append(fit(models[-1], ds, seed=member_seed, **fit_options))
    if members == 1:
        return models[0], runs[0]
    return assemble(models, f"{models[0].name}_x{members}"), {
        "epochs": runs[0]["epochs"], "select_epoch": runs[0]["select_epoch"],
        "members": [{"seed": s, **run} for s, run in zip(seeds, runs)]}


def model_feed(xs: list[np.ndarray]):
    """Keras wants a bare array for a single-input model and a list otherwise."""
    return xs[0] if len(xs) == 1 else xs


def predict_labels(model, xs: list[np.ndarray], decide, groups: np.ndarray | None = None) -> np.ndarray:
    """The classes the float model gives, through the task's decision (Dataset.decide; `groups`: each row's
    recording)."""
    return decide(model.predict(model_feed(xs), batch_size=1024, verbose=0), xs, groups)


class _LastEpoch:
    """Keeps the weights at the end of every epoch (the EMA ones when SwapEMAWeights put them in)."""

    def __new__(cls, on_epoch=None):
        import keras

        class LastEpoch(keras.callbacks.Callback):
            best_f1 = None

            def on_epoch_end(self, epoch, logs=None):
                self.best_epoch, self.best_weights = epoch, self.model.get_weights()
                if on_epoch:
                    on_epoch(epoch, logs or {}, None)

        return LastEpoch()


class _BestMacroF1:
    """A Keras callback (duck-typed base resolved lazily so importing tinyqi does not import TensorFlow)."""

    def __new__(cls, ds, on_epoch):
        import keras

        class BestMacroF1(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.best_f1, self.best_loss, self.best_epoch, self.best_weights = -1.0, np.inf, -1, None

            def on_epoch_end(self, epoch, logs=None):
                probs = self.model.predict(model_feed(ds.x_val), batch_size=1024, verbose=0)
                f1 = classification_metrics(ds.y_val, ds.decide(probs, ds.x_val, ds.val_groups),
                                           ds.class_names)["macro_f1"]
                picked = probs[np.arange(len(ds.y_val)), ds.y_val]
                loss = float(-np.mean(np.log(np.maximum(picked, 1e-12))))
                if f1 > self.best_f1 or (f1 == self.best_f1 and loss < self.best_loss):
                    self.best_f1, self.best_loss, self.best_epoch = f1, loss, epoch
                    self.best_weights = self.model.get_weights()
                if on_epoch:
                    on_epoch(epoch, logs or {}, f1)

        return BestMacroF1()
