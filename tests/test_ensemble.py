"""An average of a few models (tinyqi.models.ensemble): one graph whose output is the mean of its members', which
the int8 converter, the generated C and TFLM treat like any model; `tinyqi train --members K` end to end."""

import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi.models.ensemble import member_seeds


def test_member_seeds_are_disjoint_per_ensemble_seed():
    assert member_seeds(0, 1) == [0] and member_seeds(5, 1) == [5]  # one member: the single model's own seed
    seen = [member_seeds(seed, 3) for seed in range(4)]
    assert seen[1] == [3, 4, 5] and len({s for group in seen for s in group}) == 12


@pytest.fixture(scope="module")
def members_and_ensemble():
    from tinyqi.models.ecg import build_ecg_cnn
    from tinyqi.models.ensemble import assemble
    from tinyqi.train import set_determinism

    members = []
    for seed in (1, 2):
        set_determinism(seed)
        members.append(build_ecg_cnn([(128, 1), (6,)], 5))
    rng = np.random.default_rng(0)
    xs = [rng.integers(-60, 60, (64, 128, 1)).astype(np.float32) / 32,
          rng.integers(0, 60, (64, 6)).astype(np.float32) / 32]
    return members, assemble(members, "ecg_cnn_x2"), xs


def test_the_ensemble_predicts_the_mean_of_its_members(members_and_ensemble):
    members, ensemble, xs = members_and_ensemble
    expected = np.mean([m.predict(xs, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(xs, verbose=0), expected, atol=1e-6)
    names = [layer.name for layer in ensemble.layers]
    assert "m0_conv1" in names and "m1_classifier" in names and len(names) == len(set(names))
    assert [t.name.split(":")[0] for t in ensemble.inputs] == ["in0_beat", "in1_rr"]  # convert matches by name


def test_the_int8_ensemble_runs_bit_exact_in_the_generated_c(members_and_ensemble, tmp_path):
    from tinyqi import convert, modeldir
    from tinyqi.data.dataset import Dataset
    from tinyqi.data.ecg import decide

    _, ensemble, xs = members_and_ensemble
    tflite = convert.to_int8_tflite(ensemble, xs, input_scale=1 / 32)
    (tmp_path / "model_int8.tflite").write_bytes(tflite)
    none = [x[:0] for x in xs]
    ds = Dataset(["N", "S", "V", "F", "Q"], none, np.zeros(0, np.int64), none, np.zeros(0, np.int64), xs,
                 np.zeros(len(xs[0]), np.int64), decide=decide)
    result = modeldir.evaluate_int8(tmp_path, ds)
    assert result["tflm_mismatches"] == 0 and result["outputs"] == 5 * len(xs[0])
    assert modeldir.model_summary(tflite)["ops"].count("SOFTMAX") == 2


def test_train_with_members_on_the_sample(tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", "ecg", "--quick", "--sample", "--members", "2", "--seed", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    assert [member["seed"] for member in m["training"]["members"]] == [2, 3]
    assert m["int8_tflm_mismatches"] == 0 and m["params"] > 2 * 2800
    assert "the average of 2 models" in (out / "report.md").read_text()


def test_zero_members_is_one_line():
    assert_one_line_error(run_cli("train", "ecg", "--quick", "--sample", "--members", "0"), "--members 0")
