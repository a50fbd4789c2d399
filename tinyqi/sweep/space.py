"""The search space of `tinyqi sweep`: the one place that says what a trial may vary and over which values.

A trial configuration is a flat dict of plain values (what Optuna suggests, what sweep.json records):

  model        ECG (tinyqi.models.ecg.build_ecg_cnn): filters1, filters2, filters3 (the three Conv1D widths),
               hidden (the join width). Vibration (tinyqi.models.vibration.build_vibration_qinn): the same plus
               rank (the entangled projection's rank).
  training     epochs, weight_power (class weighting, tinyqi.train.class_weights), learning_rate
  compression  method: "none" (the dense int8 model of the run) or a `tinyqi compress` method
               (tinyqi.compress.pipeline.METHODS, docs/compression.md); then, only for the methods that use them,
               target_sparsity (pruning), channel_sparsity (whole channels), weight_fraction (low rank).
               qinn / combined / combined-channels train the task's QINN model (Task.build_qinn) with the same
               model options, epochs, class weighting and learning rate as the run's baseline.
  constants    seed (every trial's training and compression seed: `--seed`), compress_steps and finetune_epochs
               (the compression schedule, CompressOptions.steps / finetune_epochs), fixed per space.

Spaces (SPACES): "<task>" the default search, "<task>-quick" (`--quick`: few epochs, a one-step compression
schedule: a fast look, not a result) and "<task>-tiny" (the test suite's: one epoch, two methods). docs/sweep.md
lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tinyqi.errors import TinyqiError

NO_COMPRESSION = "none"
# Which compression methods read which option (tinyqi.compress.pipeline: pruning reaches target_sparsity, the
# *-channels methods remove channel_sparsity of each Conv1D's channels, the low-rank ones keep weight_fraction).
USES = {
    "target_sparsity": ("magnitude-global", "magnitude-layer", "anneal-prune", "combined", "combined-channels"),
    "channel_sparsity": ("magnitude-channels", "anneal-channels", "combined-channels"),
    "weight_fraction": ("svd", "anneal-factorise", "combined"),
}
METHODS = (NO_COMPRESSION, "magnitude-global", "magnitude-layer", "anneal-prune", "svd", "anneal-factorise", "qinn",
           "combined", "magnitude-channels", "anneal-channels", "combined-channels")


@dataclass(frozen=True)
class Choice:
    values: tuple

    def suggest(self, trial, name: str):
        return trial.suggest_categorical(name, list(self.values))

    def describe(self) -> str:
        return " | ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float
    log: bool = False

    def suggest(self, trial, name: str):
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def describe(self) -> str:
        return f"{self.low:g} .. {self.high:g}" + (" (log)" if self.log else "")


@dataclass(frozen=True)
class Fixed:
    value: object

    def suggest(self, trial, name: str):
        return self.value  # not a searched parameter: returned as a constant of the configuration

    def describe(self) -> str:
        return f"{self.value} (fixed)"


Param = Choice | Uniform | Fixed


@dataclass(frozen=True)
class Space:
    name: str
    task: str
    model: dict[str, Param]
    training: dict[str, Param]
    method: Param
    compression: dict[str, Param]
    compress_steps: int = 3
    finetune_epochs: int = 4
    notes: str = ""

    def suggest(self, trial, seed: int) -> dict:
        """Optuna define-by-run: draws one configuration (trial: an optuna Trial). The compression options are drawn
        only for the methods that use them, so the sampler never learns from options that did nothing."""
        config = {}
        for name, param in {**self.model, **self.training}.items():
            config[name] = param.suggest(trial, name)
        method = config["method"] = self.method.suggest(trial, "method")
        for name, param in self.compression.items():
            if method in USES[name]:
                config[name] = param.suggest(trial, name)
        config.update(seed=seed, compress_steps=self.compress_steps, finetune_epochs=self.finetune_epochs)
        return config

    def as_dict(self) -> dict:
        """The space as sweep.json and report.md record it."""
        return {"name": self.name, "task": self.task,
                **{group: {name: param.describe() for name, param in params.items()}
                   for group, params in (("model", self.model), ("training", self.training),
                                         ("compression", {"method": self.method, **self.compression}))},
                "compress_steps": self.compress_steps, "finetune_epochs": self.finetune_epochs, "notes": self.notes}


def model_options(task: str, config: dict) -> dict:
    """The task's model-builder keyword arguments (TrainOptions.model_options) from a configuration."""
    options = {"filters": (config["filters1"], config["filters2"], config["filters3"]), "hidden": config["hidden"]}
    if task == "vibration":
        options["rank"] = config["rank"]
    return options


_ECG_MODEL = {"filters1": Choice((4, 8, 12)), "filters2": Choice((8, 16, 24)), "filters3": Choice((16, 24, 32)),
              "hidden": Choice((12, 16, 24, 32))}
_TRAINING = {"epochs": Choice((10, 20, 30)), "weight_power": Uniform(0.25, 1.0),
             "learning_rate": Uniform(1e-3, 1e-2, log=True)}
_COMPRESSION = {"target_sparsity": Uniform(0.5, 0.95), "channel_sparsity": Uniform(0.25, 0.75),
                "weight_fraction": Uniform(0.25, 0.75)}
_QUICK = {"epochs": Choice((2, 4)), "weight_power": Uniform(0.25, 1.0), "learning_rate": Uniform(1e-3, 1e-2, log=True)}
_QUICK_METHODS = Choice((NO_COMPRESSION, "magnitude-global", "anneal-prune", "svd", "magnitude-channels",
                         "anneal-channels"))
_TINY_MODEL = {"filters1": Fixed(4), "filters2": Fixed(8), "filters3": Choice((8, 16)), "hidden": Fixed(8)}
_TINY_TRAINING = {"epochs": Fixed(1), "weight_power": Fixed(0.5), "learning_rate": Fixed(3e-3)}
_TINY = dict(method=Choice((NO_COMPRESSION, "magnitude-global")), compression={"target_sparsity": Fixed(0.5)},
             compress_steps=1, finetune_epochs=1, notes="the test suite's space: one epoch, two methods")

SPACES: dict[str, Space] = {space.name: space for space in (
    Space("ecg", "ecg", _ECG_MODEL, _TRAINING, Choice(METHODS), _COMPRESSION,
          notes="the default ECG search: the baseline CNN's widths, training, every compression method"),
    Space("ecg-quick", "ecg", _ECG_MODEL, _QUICK, _QUICK_METHODS, _COMPRESSION, compress_steps=1, finetune_epochs=1,
          notes="--quick: 2 or 4 epochs, one-step compression schedule, the cheaper methods; a look, not a result"),
    Space("ecg-tiny", "ecg", _TINY_MODEL, _TINY_TRAINING, **_TINY),
    Space("vibration", "vibration", {**_ECG_MODEL, "rank": Choice((2, 4, 6, 8))}, _TRAINING, Choice(METHODS),
          _COMPRESSION, notes="the default vibration search: the QINN model's widths and rank, training, every "
                              "compression method"),
    Space("vibration-quick", "vibration", {**_ECG_MODEL, "rank": Choice((2, 4, 6, 8))},
          {**_QUICK, "epochs": Choice((4, 8))}, _QUICK_METHODS, _COMPRESSION, compress_steps=1, finetune_epochs=1,
          notes="--quick: 4 or 8 epochs, one-step compression schedule, the cheaper methods"),
    Space("vibration-tiny", "vibration", {**_TINY_MODEL, "rank": Fixed(2)}, _TINY_TRAINING, **_TINY),
)}


def get_space(name: str) -> Space:
    if name not in SPACES:
        raise TinyqiError(f"search space '{name}': unknown; choose one of {', '.join(SPACES)}")
    return SPACES[name]


def default_space(task: str, quick: bool = False) -> Space:
    return get_space(f"{task}-quick" if quick else task)


def with_fixed(space: Space, **values) -> Space:
    """A copy of `space` with some parameters fixed (tests; a search narrowed by hand)."""
    groups = {"model": dict(space.model), "training": dict(space.training), "compression": dict(space.compression)}
    method = space.method
    for name, value in values.items():
        if name == "method":
            method = Fixed(value)
            continue
        group = next((g for g, params in groups.items() if name in params), "compression" if name in USES else None)
        if group is None:
            raise TinyqiError(f"search space {space.name}: no parameter '{name}'")
        groups[group][name] = Fixed(value)
    return replace(space, method=method, **groups)
