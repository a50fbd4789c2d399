"""Tasks: what `tinyqi train <task>` means. Each task names its dataset loader, model builder and defaults;
every stage after data loading is shared code (pipeline.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tinyqi.errors import TinyqiError


@dataclass(frozen=True)
class Task:
    name: str
    dataset: str  # the store name of its data (data fetch, TINYQI_DATA/<dataset>)
    load: Callable  # (data_dir, sample=bool, split=str) -> Dataset
    build_model: Callable  # (input_shapes, n_classes) -> keras.Model
    build_qinn: Callable  # the hybrid QINN model (`tinyqi compress --method qinn/combined`), same signature
    epochs: int
    quick_epochs: int
    default_split: str
    sample_kind: str  # what the bundled sample is, for the loud notice
    batch_size: int = 256
    label_sets: tuple[str, ...] = ()  # choices of `--labels` (the loader's `labels=`); empty: one fixed set
    beat_sources: tuple[str, ...] = ()  # choices of `--beats` (the loader's `beats=`); empty: not a beat task
    weight_ema: bool = False  # train.fit: keep the moving average of the weights
    select_epoch: bool = True  # train.fit: restore the epoch best on the validation records; False: the last

    def load_options(self, labels: str | None, beats: str | None = None) -> dict:
        """Keyword arguments for `load` beyond data_dir/sample/split."""
        options = {}
        if labels is not None:
            if labels not in self.label_sets:
                choices = ", ".join(self.label_sets) or "none: it has one fixed label set"
                raise TinyqiError(f"--labels {labels}: not a label set of the {self.name} task ({choices})")
            options["labels"] = labels
        if beats is not None:
            if beats not in self.beat_sources:
                choices = ", ".join(self.beat_sources) or "none: it is not a beat task"
                raise TinyqiError(f"--beats {beats}: not a beat source of the {self.name} task ({choices})")
            options["beats"] = beats
        return options


def _build_ecg_qinn(input_shapes, n_classes: int, **model_options):
    from tinyqi.models.qinn import build_ecg_qinn  # imports Keras: only when a model is built

    return build_ecg_qinn(input_shapes, n_classes, **model_options)


def _ecg() -> Task:
    from tinyqi.cv import CV_EPOCHS
    from tinyqi.data.ecg import load_ecg_dataset
    from tinyqi.models.ecg import build_ecg_cnn

    # A fixed epoch count, the last epoch's (moving-average) weights: the procedure `tinyqi cv ecg` scores. On DS1,
    # choosing the epoch on two held-out records did worse than any fixed count from 10 to 30 and varied more from
    # seed to seed (docs/signal.md, "The epoch count").
    return Task("ecg", "mitdb", load_ecg_dataset, build_ecg_cnn, _build_ecg_qinn, epochs=CV_EPOCHS, quick_epochs=4,
                default_split="inter-patient",
                sample_kind="12 six-minute MIT-BIH excerpts (6 DS1 records train, 6 DS2 records test)",
                beat_sources=("detected", "annotated"), weight_ema=True, select_epoch=False)


def _vibration() -> Task:
    from tinyqi.data.cwru import load_vibration_dataset
    from tinyqi.models.vibration import build_vibration_qinn

    # The QINN hybrid is the vibration model itself (it closes the baseline's float -> int8 gap, models/vibration.py).
    return Task("vibration", "cwru", load_vibration_dataset, build_vibration_qinn, build_vibration_qinn, epochs=30,
                quick_epochs=8, default_split="load3",
                sample_kind="all of 97.mat and the first 2 s of every 12 kHz drive-end fault recording",
                batch_size=32, label_sets=("10", "4"))


TASKS = {"ecg": _ecg, "vibration": _vibration}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise TinyqiError(f"unknown task '{name}'; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name]()
