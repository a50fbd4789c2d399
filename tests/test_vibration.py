"""`tinyqi train vibration` (the QINN hybrid) on the bundled CWRU sample, and the leave-one-load-out table.

Trains two short runs (2 epochs each) so the same-seed byte-identity check is real; the LOLO table is built from
copies of one run relabelled as the four folds, so no extra training is needed to test its arithmetic.
"""

import json
import shutil

import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi import lolo
from tinyqi.compress import storage
from tinyqi.errors import TinyqiError
from tinyqi.manifest import write_manifest
from tinyqi.report import LOAD_SPLIT_CAVEAT
from tinyqi.tflite_model import load_tflite

WEIGHT_BYTES_TARGET = 8 * 1024  # issue 6: int8 weights of the vibration QINN under 8 KB


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    runs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(name) / "run"
        result = run_cli("train", "vibration", "--sample", "--epochs", "2", "--seed", "5", "--out", str(out))
        assert result.returncode == 0, result.stderr[-2000:]
        runs.append(out)
    return runs


def test_vibration_model_is_the_qinn_hybrid_within_budget(two_runs):
    m = json.loads((two_runs[0] / "metrics.json").read_text())
    assert m["task"] == "vibration" and m["dataset"]["split"] == "load3" and m["dataset"]["sample"] is True
    # conv front end, entangled head (two FULLY_CONNECTED: basis + mix, then the classifier), interference = TANH
    assert m["ops"].count("CONV_2D") == 3 and m["ops"].count("FULLY_CONNECTED") == 3 and "TANH" in m["ops"]
    model = load_tflite(two_runs[0] / "model_int8.tflite")
    assert 0 < storage.storage(model, [])["weight_bytes"] < WEIGHT_BYTES_TARGET
    assert m["int8_tflm_mismatches"] == 0


def test_same_seed_gives_a_byte_identical_tflite(two_runs):
    a, b = ((run / "model_int8.tflite").read_bytes() for run in two_runs)
    assert a == b


def _fake_folds(run, out):
    """The one sample run copied as the four folds, each metrics.json saying which load it held out."""
    for load in (0, 1, 2, 3):
        fold = lolo.fold_dir(out, load)
        fold.mkdir(parents=True)
        shutil.copy(run / "model_int8.tflite", fold)
        m = json.loads((run / "metrics.json").read_text())
        m["dataset"]["split"] = f"lolo:{load}"
        m["int8"]["accuracy"] = 0.9 + load / 100
        (fold / "metrics.json").write_text(json.dumps(m))
        write_manifest(fold, "train")
    return m


def test_lolo_table_from_fold_runs(two_runs, tmp_path):
    m = _fake_folds(two_runs[0], tmp_path)
    result = lolo.write_table(tmp_path)
    rows = result["rows"]
    assert [r["test_load_hp"] for r in rows] == [0, 1, 2, 3]
    assert rows[3]["train_loads_hp"] == [0, 1, 2]
    assert [r["int8_accuracy"] for r in rows] == [0.9, 0.91, 0.92, 0.93]
    assert result["int8_accuracy_mean"] == 0.915 and result["int8_accuracy_min"] == 0.9
    assert result["int8_macro_f1_min"] == m["int8"]["macro_f1"] and result["sample"] is True
    md = (tmp_path / "lolo.md").read_text()
    assert "BUNDLED SAMPLE" in md and "| 3 | 0, 1, 2 |" in md and "split by time" in md
    assert json.loads((tmp_path / "lolo.json").read_text()) == result
    # what the load-wise split does not show comes before the table it qualifies (issue 12)
    assert LOAD_SPLIT_CAVEAT in md and md.index(LOAD_SPLIT_CAVEAT) < md.index("| test_load_hp |")
    assert result["caveat"] == LOAD_SPLIT_CAVEAT.replace("**", "")


def test_lolo_table_without_folds_is_one_clear_error(tmp_path):
    with pytest.raises(TinyqiError, match=r"hp0/metrics\.json: missing \(4 of 4 folds\)"):
        lolo.write_table(tmp_path)
    assert_one_line_error(run_cli("lolo", "vibration", "--table-only", "--out", str(tmp_path)),
                          "metrics.json: missing", "tinyqi lolo vibration")


def test_qinn_and_baseline_share_the_conv_front_end():
    from tinyqi.models.vibration import build_vibration_cnn, build_vibration_qinn

    cnn, qinn = build_vibration_cnn([(1024, 1)], 10), build_vibration_qinn([(1024, 1)], 10)
    front = ["conv1", "pool1", "conv2", "pool2", "conv3", "gap"]
    assert [l.name for l in cnn.layers[1:7]] == front == [l.name for l in qinn.layers[1:7]]
    head = {l.name: l.count_params() for l in qinn.layers[7:]}
    # entangled head: 24 features -> rank-6 basis (no bias) -> 24 mixed outputs, one phase each, 10-way classifier
    assert head == {"fc_basis": 24 * 6, "fc_mix": 6 * 24 + 24, "interference": 24, "classifier": 24 * 10 + 10}


def test_four_class_label_set_from_the_cli(tmp_path):
    out = tmp_path / "run4"
    result = run_cli("train", "vibration", "--sample", "--epochs", "1", "--labels", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"]["labels"] == "4" and set(m["int8"]["per_class"]) == {"normal", "IR", "B", "OR"}
    assert m["int8_tflm_mismatches"] == 0


def test_labels_on_a_task_with_one_label_set_is_one_clear_error(tmp_path):
    assert_one_line_error(run_cli("train", "ecg", "--labels", "4", "--out", str(tmp_path)), "--labels 4")
