"""`tinyqi train ecg` end to end on the bundled sample: the run-directory contract, determinism, honesty flags."""

import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi.data.ecg import DECISION_NOTE
from tinyqi.errors import TinyqiError
from tinyqi.tflite_model import load_tflite

CONTRACT_FILES = ["model.keras", "model_int8.tflite", "metrics.json", "report.md", "confusion_int8.png", "manifest.json"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    runs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(name) / "run"
        result = run_cli("train", "ecg", "--quick", "--sample", "--seed", "3", "--out", str(out))
        assert result.returncode == 0, result.stderr[-2000:]
        runs.append((out, result))
    return runs


def test_run_directory_contract(two_runs):
    out, _ = two_runs[0]
    for f in CONTRACT_FILES:
        assert (out / f).is_file(), f
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "ecg" and m["seed"] == 3
    assert {"name", "split", "sample", "train_beats", "test_beats"} <= set(m["dataset"])
    assert m["dataset"]["sample"] is True and m["dataset"]["split"] == "inter-patient"
    for kind in ("float", "int8"):
        assert {"accuracy", "macro_f1", "per_class"} <= set(m[kind])
        assert set(m[kind]["per_class"]) == {"N", "S", "V", "F", "Q"}
        assert {"se", "ppv", "f1", "support"} <= set(m[kind]["per_class"]["V"])
    assert sum(v["support"] for v in m["int8"]["per_class"].values()) == m["dataset"]["test_beats"]
    for key in ("int8_tflm_mismatches", "tflite_bytes", "params", "macs"):
        assert isinstance(m[key], int)
    assert m["tflite_bytes"] == (out / "model_int8.tflite").stat().st_size
    # a fixed epoch count, no selection: the last epoch's weights (tinyqi.tasks, "The epoch count")
    assert m["training"]["select_epoch"] is False and m["training"]["best_epoch"] == m["training"]["epochs"] - 1
    assert "no epoch selection" in (out / "report.md").read_text()


def test_int8_metrics_come_from_the_generated_c_and_match_tflm(two_runs):
    """metrics.json's int8 figures are TFLM's outputs through the device's decision, which runs over each record's
    beats and false detections in the order the device met them."""
    from tinyqi import convert
    from tinyqi.data.ecg import load_ecg_dataset
    from tinyqi.evaluate import classification_metrics
    from tinyqi.modeldir import load_testset

    out = two_runs[0][0]
    m = json.loads((out / "metrics.json").read_text())
    assert "generated C" in m["int8_evaluation"] and m["int8_tflm_mismatches"] == 0
    xs, y, names = load_testset(out)
    ds = load_ecg_dataset(sample=True)
    for a, b in zip(xs, ds.x_test):
        np.testing.assert_array_equal(a, b)  # the run's test set is the dataset's
    tflite = (out / "model_int8.tflite").read_bytes()
    model = load_tflite(out / "model_int8.tflite")
    tflm, false = (convert.run_tflm(tflite, convert.quantize_inputs(model, inputs))
                   for inputs in (xs, ds.scoring["false_inputs"]))
    predictions, _ = ds.decide_device(tflm, false)
    assert classification_metrics(y, predictions, names)["macro_f1"] == m["int8"]["macro_f1"]
    assert np.any(predictions != np.argmax(tflm, 1))  # the decision is not the largest output alone
    assert {"mismatches_vs_tflm", "argmax_mismatches_vs_tflm", "accuracy"} <= set(m["int8_litert_ref"])


def test_int8_model_is_static_batch1_int8_io_without_sparsity(two_runs):
    model = load_tflite(two_runs[0][0] / "model_int8.tflite")
    for i in model.inputs + model.outputs:
        assert model.tensor(i).dtype == np.int8 and model.tensor(i).shape[0] == 1
    assert not any(t.is_sparse for t in model.tensors)


def test_same_seed_gives_byte_identical_artifacts(two_runs):
    (a, _), (b, _) = two_runs
    for f in ("model_int8.tflite", "model_float.tflite", "golden.npz", "testset.npz", "confusion_int8.png"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_sample_run_says_so_loudly(two_runs):
    out, result = two_runs[0]
    assert "training on the bundled sample" in result.stderr
    assert "SAMPLE" in (out / "report.md").read_text()
    assert "BUNDLED SAMPLE" in result.stdout


def test_the_run_says_how_a_beat_gets_its_class(two_runs):
    out, _ = two_runs[0]
    assert json.loads((out / "metrics.json").read_text())["dataset"]["decision"] == DECISION_NOTE
    assert f"Class per beat: {DECISION_NOTE}." in (out / "report.md").read_text()


def test_golden_vectors_are_tflm_outputs(two_runs):
    from tinyqi import convert

    out = two_runs[0][0]
    g = np.load(out / "golden.npz")
    tflite = (out / "model_int8.tflite").read_bytes()
    inputs = [g[f"input{k}"] for k in range(2)]
    assert len(set(g["label"].tolist())) >= 4
    np.testing.assert_array_equal(convert.run_tflm(tflite, inputs), g["output"])


def test_model_inputs_are_the_chains_int8(two_runs):
    from tinyqi.signal import ecg

    out = two_runs[0][0]
    model = load_tflite(out / "model_int8.tflite")
    for i in model.inputs:
        t = model.tensor(i)
        assert float(t.scale[0]) == pytest.approx(ecg.INPUT_SCALE, rel=1e-6) and int(t.zero_point[0]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"]["beats"] == "detected" and m["dataset"]["test_detection"]["se"] > 0.99
    assert {"N", "S", "V"} <= set(m["int8_device"]["per_class"]) and "232" in m["int8_device"]["per_record"]


def test_fiducial_shifts_are_scored(two_runs):
    out = two_runs[0][0]
    result = run_cli("robust", str(out), "--shifts", "-2,0,2")
    assert result.returncode == 0, result.stderr
    shifts = json.loads((out / "robustness.json").read_text())["shifts"]
    m = json.loads((out / "metrics.json").read_text())
    assert set(shifts) == {"-2", "0", "2"} and shifts["0"]["macro_f1"] == m["int8"]["macro_f1"]


def test_a_run_of_other_rr_features_is_refused_where_the_chain_feeds_it(two_runs, tmp_path):
    """The run records what its model's x1 means; a run of another chain version (before the record: the long-term
    RR) is refused with one line by everything that pairs its model with this chain, never run silently."""
    import shutil

    from tinyqi.firmware.monitor import chain_inputs
    from tinyqi.manifest import write_manifest
    from tinyqi.signal import ecg

    out = two_runs[0][0]
    assert json.loads((out / "metrics.json").read_text())["dataset"]["rr_features"] == ecg.RR_FEATURES
    assert chain_inputs(out) in (["x0", "x1"], ["x1", "x0"])
    old = tmp_path / "old"
    shutil.copytree(out, old)
    m = json.loads((old / "metrics.json").read_text())
    del m["dataset"]["rr_features"]
    (old / "metrics.json").write_text(json.dumps(m))
    (old / "manifest.json").unlink()
    write_manifest(old, "train")  # a consistent run directory of the chain before 2026-12-07
    for args in (("robust", str(old), "--shifts", "0"), ("compress", str(old), "--method", "magnitude-global")):
        assert_one_line_error(run_cli(*args), "metrics.json", "long-term RR", "train the run again")
    with pytest.raises(TinyqiError, match="over_sinus"):
        chain_inputs(old)
