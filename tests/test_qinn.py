"""QINN blocks: the interference activation's math and serialisation, entangled blocks' weight counts, and the
hybrid model converting to int8 builtin ops that TFLM runs."""

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tinyqi.models.qinn import PHASE_SPREAD, Interference, build_ecg_qinn, entangled_conv1d, entangled_dense  # noqa: E402


def test_interference_is_tanh_of_a_phase_shifted_input():
    layer = Interference()
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    y = np.asarray(layer(x))
    phase = layer.phase.numpy()
    np.testing.assert_allclose(y, np.tanh(x + phase), atol=1e-6)
    np.testing.assert_allclose(phase, np.linspace(-PHASE_SPREAD, PHASE_SPREAD, 6), atol=1e-6)
    assert layer.phase.trainable


def test_interference_survives_save_and_load(tmp_path):
    inp = keras.Input((5,), name="in0_x")
    model = keras.Model(inp, Interference(spread=math.pi / 3, name="interference")(keras.layers.Dense(5)(inp)))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    x = np.ones((2, 5), np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert again.get_layer("interference").spread == pytest.approx(math.pi / 3)


def test_entangled_blocks_share_one_low_rank_basis():
    inp = keras.Input((10, 12))
    conv = keras.Model(inp, entangled_conv1d(inp, 16, 3, 4, "c"))
    assert conv.count_params() == 3 * 12 * 4 + (4 * 16 + 16)
    flat = keras.Input((24,))
    dense = keras.Model(flat, entangled_dense(flat, 24, 6, "d"))
    assert dense.count_params() == 24 * 6 + 6 * 24 + 24 < 24 * 24 + 24


@pytest.mark.parametrize("conv_ranks", [None, (6, 8)])
def test_hybrid_qinn_converts_to_int8_and_runs_in_tflm(conv_ranks):
    from tinyqi import convert
    from tinyqi.models.ecg import build_ecg_cnn
    from tinyqi.tflite_model import parse_tflite

    keras.utils.set_random_seed(0)
    model = build_ecg_qinn([(128, 1), (5,)], 5, conv_ranks=conv_ranks)
    baseline = build_ecg_cnn([(128, 1), (5,)], 5)
    assert model.count_params() < baseline.count_params()
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(40, 128, 1)).astype(np.float32), rng.normal(size=(40, 5)).astype(np.float32)]
    tflite = convert.to_int8_tflite(model, xs)  # raises on any op outside TFLM's builtins or sparsity metadata
    tm = parse_tflite(tflite)
    assert {"TANH", "ADD"} <= set(tm.op_names()) <= convert.SUPPORTED_OPS
    q = convert.quantize_inputs(tm, xs)
    micro = convert.run_tflm(tflite, q)
    ref = convert.run_litert_ref(tflite, q)
    assert micro.shape == (40, 5) and micro.dtype == np.int8
    # TFLM's reference kernels may round a requantisation 1 LSB differently from LiteRT's (seen on plain FC too)
    assert np.abs(micro.astype(int) - ref).max() <= 1
    floats = model.predict(xs, verbose=0)
    agree = np.mean(np.argmax(micro, 1) == np.argmax(floats, 1))
    assert agree >= 0.9


def test_conversion_folds_the_phase_into_the_bias_before_the_join():
    """The ECG QINN's interference follows the join (an Add of the wave projection and the RR projection): the
    converted model adds the phase in the wave projection's bias, so its int8 graph has one ADD (the join) and a
    TANH, and computes the same function."""
    from tinyqi import convert
    from tinyqi.tflite_model import parse_tflite

    keras.utils.set_random_seed(0)
    model = build_ecg_qinn([(128, 1), (5,)], 5)
    layer = model.get_layer("interference")
    layer.set_weights([np.linspace(-2.0, 2.0, layer.phase.shape[0]).astype(np.float32)])
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(40, 128, 1)).astype(np.float32), rng.normal(size=(40, 5)).astype(np.float32)]
    folded = convert.batch1_clone(model)
    assert "Interference" not in {type(x).__name__ for x in folded.layers}
    np.testing.assert_allclose(np.concatenate([folded([x[i : i + 1] for x in xs]) for i in range(40)]),
                               model.predict(xs, verbose=0), atol=1e-6)
    ops = parse_tflite(convert.to_int8_tflite(model, xs)).op_names()
    assert ops.count("ADD") == 1 and ops.count("TANH") == 1


def test_a_phase_stays_where_another_layer_reads_the_sum():
    """Moving the phase into the bias would change what a second reader of the same sum sees: not folded."""
    from tinyqi import convert

    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(4)(inp)
    out = keras.layers.Concatenate()([Interference(name="interference")(h), h])
    model = keras.Model(inp, out)
    model.get_layer("interference").set_weights([np.full(4, 0.7, np.float32)])
    clone = convert.batch1_clone(model)
    assert isinstance(clone.get_layer("interference"), Interference)
    x = np.random.default_rng(0).normal(size=(1, 6)).astype(np.float32)
    np.testing.assert_allclose(clone(x), model(x), atol=1e-6)


@pytest.mark.parametrize("conv_ranks", [None, (4, 4)])
def test_the_ecg_qinn_takes_the_baselines_model_options(conv_ranks):
    """compress trains the QINN with the run's model options (a sweep trial's widths), so the builder must honour
    the baseline's keywords: filters and hidden."""
    model = build_ecg_qinn([(128, 1), (6,)], 5, conv_ranks=conv_ranks, filters=[4, 8, 12], hidden=16)
    widths = [model.get_layer(name).output.shape[-1] for name in ("conv1", "gap", "join")]
    assert widths == [4, 12, 16]
