"""Which epoch's weights a training keeps (tinyqi.train.fit): the best on the validation records, or, for the ECG
task, the last of a fixed count, the procedure `tinyqi cv ecg` scores (docs/signal.md, "The epoch count")."""

import numpy as np

from tinyqi.cv import CV_EPOCHS
from tinyqi.tasks import get_task


def _tiny_ecg_dataset():
    from tinyqi.data.dataset import Dataset
    from tinyqi.data.ecg import decide

    rng = np.random.default_rng(0)
    xs = [rng.integers(-60, 60, (96, 128, 1)).astype(np.float32) / 32,
          rng.integers(0, 60, (96, 6)).astype(np.float32) / 32]
    y = rng.integers(0, 3, 96)
    val = [x[:16] for x in xs]
    return Dataset(["N", "S", "V", "F", "Q"], xs, y, val, y[:16], val, y[:16], decide=decide)


def test_without_selection_the_model_is_the_last_epochs():
    import keras

    from tinyqi.models.ecg import build_ecg_cnn
    from tinyqi.train import fit, set_determinism

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.weights = self.model.get_weights()  # after SwapEMAWeights: the moving average that is kept

    set_determinism(0)
    model, snapshot, seen = build_ecg_cnn([(128, 1), (6,)], 5), Snapshot(), []
    result = fit(model, _tiny_ecg_dataset(), epochs=3, seed=0, batch_size=32, weight_ema=True, select_epoch=False,
                 on_epoch=lambda epoch, logs, f1: seen.append((epoch, f1, "loss" in logs)), extra_callbacks=[snapshot])
    assert result == {"best_epoch": 2, "val_macro_f1": None, "epochs": 3, "select_epoch": False}
    assert seen == [(0, None, True), (1, None, True), (2, None, True)]
    for kept, last in zip(model.get_weights(), snapshot.weights):
        np.testing.assert_array_equal(kept, last)


def test_the_ecg_task_trains_what_cross_validation_scores():
    ecg, vibration = get_task("ecg"), get_task("vibration")
    assert (ecg.epochs, ecg.select_epoch, ecg.weight_ema) == (CV_EPOCHS, False, True)
    assert vibration.select_epoch  # unchanged: the vibration task keeps its epoch selection


def test_a_variant_is_fine_tuned_the_way_its_run_was_trained():
    from pathlib import Path

    from tinyqi.compress.pipeline import CompressOptions, Run, for_run

    def run(training):
        return Run(Path("run"), {"training": training}, ds=None)

    assert for_run(CompressOptions(), run({"epochs": 20, "select_epoch": False})).select_epoch is False
    assert for_run(CompressOptions(), run({"epochs": 30, "select_epoch": True})).select_epoch is True
    assert for_run(CompressOptions(), run({"epochs": 30})).select_epoch is True  # a run from before the policy
