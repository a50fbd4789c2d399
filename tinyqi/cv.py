"""Patient-grouped cross-validation over DS1: how the ECG model's inputs and training options are chosen without
ever looking at DS2 (issue rule: DS2 is read once per reported model).

The 22 DS1 records form four folds of whole records (each fold holds S beats of more than one patient); the float
model is trained on three folds and their noisy copies (tinyqi.data.augment) for a fixed number of epochs (no
epoch selection: nothing outside the training folds is looked at) and predicts the fourth, clean; the four
folds' predictions are pooled and scored per class on the matched beats. One row per seed, then mean and std.
`tinyqi cv ecg` prints and writes it.
"""

from __future__ import annotations

import numpy as np

from tinyqi.data import mitdb
from tinyqi.data.dataset import Dataset
from tinyqi.errors import TinyqiError

# The two atrial-fibrillation records (201, 203) sit in different folds, so every training side has AF, as DS1
# has for DS2's AF records (202, 210, 219, 221, 222): without it the model never learns that irregular N is N.
DS1_FOLDS = (("209", "101", "106", "112", "122", "230"), ("201", "220", "108", "114", "119", "205"),
             ("207", "118", "109", "115", "203"), ("223", "124", "116", "208", "215"))
CV_EPOCHS = 20
SUMMARY_KEYS = ("macro_f1", "macro_f1_nsv", "sveb_f1", "sveb_se", "sveb_ppv", "veb_f1", "veb_se", "veb_ppv", "n_se")


def ds1_records(data_dir=None, *, sample: bool = False) -> dict[str, mitdb.Record]:
    """The DS1 records of the database, or of the bundled sample."""
    from tinyqi.data.ecg import load_records

    records, _ = load_records(data_dir, sample=sample, names=None if sample else mitdb.DS1)
    return {name: record for name, record in records.items() if name in mitdb.DS1}


def describe_records(data_dir=None, *, sample: bool = False, beats: str = "detected") -> dict[str, mitdb.Beats]:
    """The labelled beats of every DS1 record (false detections have no label and are left out)."""
    per_record = {}
    for name, record in ds1_records(data_dir, sample=sample).items():
        b = mitdb.extract_beats(record, beats)
        per_record[name] = mitdb.select(b, b.label >= 0)
    return per_record


def folds_present(per_record: dict, folds=DS1_FOLDS) -> list[list[str]]:
    """The folds restricted to the records at hand; at least two non-empty folds are needed."""
    present = [[n for n in fold if n in per_record] for fold in folds]
    present = [fold for fold in present if fold]
    if len(present) < 2:
        raise TinyqiError(f"cross-validation needs DS1 records in at least two folds; found "
                          f"{', '.join(sorted(per_record)) or 'none'}: use the full MIT-BIH (--data-dir)")
    return present


def describe_noisy(data_dir=None, *, sample: bool = False, beats: str = "detected") -> dict[str, mitdb.Beats]:
    """The labelled beats of every DS1 record's noisy training copies (tinyqi.data.augment), as `tinyqi train`
    adds them to its training side."""
    from tinyqi.data import augment

    return augment.noisy_beats(ds1_records(data_dir, sample=sample), beats)


def fold_dataset(per_record: dict, held_out: list[str], noisy: dict | None = None) -> Dataset:
    """Train on every record not held out, and on the noisy copies of those records (`noisy`, per record, from
    describe_noisy); the held-out records, clean, are the test side."""
    from tinyqi.data.ecg import decide, model_inputs

    noisy = noisy or {}
    train = mitdb.concat_beats([b for n, b in per_record.items() if n not in held_out]
                               + [b for n, b in noisy.items() if n not in held_out])
    test = mitdb.concat_beats([per_record[n] for n in held_out])
    x_train = model_inputs(train)
    empty = [np.zeros((0, *x.shape[1:]), np.float32) for x in x_train]
    return Dataset(mitdb.CLASSES, x_train, train.label, empty, np.zeros(0, np.int64),
                   model_inputs(test), test.label, {"held_out": held_out}, decide=decide, test_groups=test.record)


def cross_validate(per_record: dict, *, noisy: dict | None = None, seeds=(0, 1, 2), epochs: int = CV_EPOCHS,
                   model_options=None, weight_power: float = 0.5, learning_rate: float = 3e-3,
                   weight_ema: bool = True, members: int = 1, folds=DS1_FOLDS, curve: bool = False,
                   progress=None) -> dict:
    """Pooled out-of-fold scores per seed, and their mean and std. `noisy`: the records' noisy training copies
    (describe_noisy), used on the training side as `tinyqi train` uses them. `members` > 1: each fold's model is
    the average of that many models (tinyqi.models.ensemble), trained with the seed's member seeds. `curve`: also
    the pooled scores after every epoch ("curve": mean and std over seeds per epoch; the last is the result), the
    evidence for the fixed epoch count `tinyqi train ecg` uses (docs/signal.md, "The epoch count")."""
    from tinyqi.evaluate import classification_metrics, per_record as per_record_hits
    from tinyqi.models.ensemble import check_members
    from tinyqi.tasks import get_task
    from tinyqi.train import predict_labels, train_members

    check_members(members)
    check_curve(curve, members)
    task = get_task("ecg")
    folds = folds_present(per_record, folds)
    datasets = [fold_dataset(per_record, held_out, noisy) for held_out in folds]  # the same for every seed
    rows, epoch_rows = [], []
    for seed in seeds:
        y, pred, names, per_epoch = [], [], [], []
        for i, (held_out, ds) in enumerate(zip(folds, datasets)):
            watch = [_EpochPredictions(ds)] if curve else []
            model, _ = train_members(lambda: task.build_model(ds.input_shapes, ds.n_classes, **(model_options or {})),
                                     ds, members=members, seed=seed, epochs=epochs, batch_size=task.batch_size,
                                     learning_rate=learning_rate, weight_power=weight_power, weight_ema=weight_ema,
                                     select_epoch=False, extra_callbacks=watch)
            per_epoch += [w.predictions for w in watch]
            y.append(ds.y_test)
            pred.append(predict_labels(model, ds.x_test, ds.decide, ds.test_groups))
            names.append(np.concatenate([per_record[n].record for n in held_out]))
            if progress:
                progress(seed, i + 1, len(folds))
        y, pred, names = np.concatenate(y), np.concatenate(pred), np.concatenate(names)
        if curve:  # per epoch, the folds' predictions pooled as below
            epoch_rows.append([summary(classification_metrics(y, np.concatenate(fold_preds), mitdb.CLASSES))
                               for fold_preds in zip(*per_epoch)])
        metrics = classification_metrics(y, pred, mitdb.CLASSES)
        rows.append({"seed": seed, **summary(metrics), "per_class": metrics["per_class"],
                     "per_record": per_record_hits(y, pred, names, mitdb.CLASSES, classes=("S", "V"))})
    result = {"folds": folds, "epochs": epochs, "members": members, "seeds": rows, **_spread(rows)}
    if curve:
        result["curve"] = [{"epoch": e + 1, **_spread([seed_rows[e] for seed_rows in epoch_rows])}
                           for e in range(epochs)]
    return result


def check_curve(curve: bool, members: int) -> None:
    if curve and members > 1:
        raise TinyqiError(f"--curve with --members {members}: the per-epoch curve is for single models; drop one")


def _spread(rows: list[dict]) -> dict:
    """Mean and std over seeds of each summary figure."""
    return {"mean": {k: round(float(np.mean([r[k] for r in rows])), 4) for k in SUMMARY_KEYS},
            "std": {k: round(float(np.std([r[k] for r in rows])), 4) for k in SUMMARY_KEYS}}


class _EpochPredictions:
    """A Keras callback (resolved lazily, as in tinyqi.train) keeping the decided classes of the held-out records
    after every epoch, with the weights the model would keep then (the moving average, after SwapEMAWeights)."""

    def __new__(cls, ds: Dataset):
        import keras

        from tinyqi.train import predict_labels

        class EpochPredictions(keras.callbacks.Callback):
            predictions: list

            def on_train_begin(self, logs=None):
                self.predictions = []

            def on_epoch_end(self, epoch, logs=None):
                self.predictions.append(predict_labels(self.model, ds.x_test, ds.decide, ds.test_groups))

        return EpochPredictions()


def summary(metrics: dict) -> dict:
    pc = metrics["per_class"]
    nsv = [pc[c]["f1"] for c in ("N", "S", "V")]
    return {"macro_f1": metrics["macro_f1"], "macro_f1_nsv": round(float(np.mean(nsv)), 4),
            "sveb_f1": pc["S"]["f1"], "sveb_se": pc["S"]["se"], "sveb_ppv": pc["S"]["ppv"],
            "veb_f1": pc["V"]["f1"], "veb_se": pc["V"]["se"], "veb_ppv": pc["V"]["ppv"], "n_se": pc["N"]["se"]}
