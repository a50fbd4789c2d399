"""Structured channel pruning: which convolutions can lose channels, the surgery being exact, the QUBO over channel
gates (exact counts, lower energy than the L1 baseline, its gradients), and the option's one-line error."""

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi.compress import channels, prune
from tinyqi.errors import TinyqiError


@pytest.fixture(scope="module")
def ecg_cnn():
    from tinyqi.models.ecg import build_ecg_cnn
    from tinyqi.train import set_determinism

    set_determinism(0)
    model = build_ecg_cnn([(128, 2), (5,)], 5)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(96, 128, 2)).astype(np.float32), rng.normal(size=(96, 5)).astype(np.float32)]
    return model, xs, rng.integers(0, 5, 96)


def test_every_conv_of_the_ecg_cnn_is_prunable_into_its_consumer(ecg_cnn):
    model, _, _ = ecg_cnn
    assert channels.prunable_convs(model) == {"conv1": "conv2", "conv2": "conv3", "conv3": "fc_wave"}


def test_qinn_convs_feed_the_entangled_basis():
    from tinyqi.models.qinn import build_ecg_qinn

    model = build_ecg_qinn([(128, 2), (5,)], 5, conv_ranks=(6, 8))
    # conv2_basis feeds a 1x1 mix conv, not through a pooling: still one weighted consumer
    assert channels.prunable_convs(model) == {"conv1": "conv2_basis", "conv2_basis": "conv2_mix",
                                              "conv2_mix": "conv3_basis", "conv3_basis": "conv3_mix",
                                              "conv3_mix": "fc_wave_basis"}


def test_removing_channels_equals_zeroing_their_filters(ecg_cnn):
    import keras

    model, xs, _ = ecg_cnn
    keep = channels.magnitude_channels(model, 0.5)
    assert {n: int(k.sum()) for n, k in keep.items()} == {"conv1": 4, "conv2": 8, "conv3": 12}
    smaller = channels.remove_channels(model, keep)
    zeroed = keras.models.clone_model(model)
    zeroed.set_weights(model.get_weights())
    for name, k in keep.items():
        kernel, bias = zeroed.get_layer(name).get_weights()
        kernel[..., ~k], bias[~k] = 0.0, 0.0  # relu(0) = 0: the channel contributes nothing downstream
        zeroed.get_layer(name).set_weights([kernel, bias])
    np.testing.assert_allclose(smaller.predict(xs, verbose=0), zeroed.predict(xs, verbose=0), rtol=1e-5, atol=1e-6)
    assert smaller.get_layer("conv2").kernel.shape == (5, 4, 8)
    assert smaller.get_layer("fc_wave").kernel.shape == (12, 24)
    assert smaller.count_params() < model.count_params()


def test_l1_baseline_keeps_the_largest_filters(ecg_cnn):
    model, _, _ = ecg_cnn
    l1 = np.abs(model.get_layer("conv3").kernel.numpy()).sum(axis=(0, 1))
    keep = channels.magnitude_channels(model, 0.75)["conv3"]
    assert keep.sum() == 6 and l1[keep].min() >= l1[~keep].max()


def test_gate_gradients_are_the_first_order_loss_change_of_removing_a_channel(ecg_cnn):
    model, xs, y = ecg_cnn
    sal = channels.gate_saliency(model, xs, y, {c: 1.0 for c in range(5)}, samples=96, chunk=32)
    assert sal.grads.shape == (96, 8 + 16 + 24)
    # scaling a channel by (1 + eps) changes every sample's loss by eps * its gate gradient, to first order
    kernel, bias = model.get_layer("conv3").get_weights()
    eps, c = 1e-2, 5

    def losses():  # all 96 rows were sampled, in order
        p = model.predict(xs, verbose=0).astype(np.float64)
        return -np.log(p[np.arange(len(y)), y])

    before = losses()
    scaled_k, scaled_b = kernel.copy(), bias.copy()
    scaled_k[..., c] *= 1 + eps  # relu(s z) = s relu(z) for s > 0: the channel's output scales by 1 + eps
    scaled_b[c] *= 1 + eps
    model.get_layer("conv3").set_weights([scaled_k, scaled_b])
    try:
        after = losses()
    finally:
        model.get_layer("conv3").set_weights([kernel, bias])
    assert np.abs(sal.grads[:, 8 + 16 + c]).max() > 1e-2  # a live channel, so the comparison means something
    np.testing.assert_allclose((after - before) / eps, sal.grads[:, 8 + 16 + c], rtol=0.1, atol=2e-3)


def test_annealed_channels_meet_the_counts_and_beat_the_l1_choice_on_the_qubo(ecg_cnn):
    model, xs, y = ecg_cnn
    sal = channels.gate_saliency(model, xs, y, {c: 1.0 for c in range(5)}, samples=96, chunk=32)
    keep = channels.anneal_channels(sal, 0.5, prune.AnnealOptions(sweeps=40))
    assert {n: int(k.sum()) for n, k in keep.items()} == {"conv1": 4, "conv2": 8, "conv3": 12}
    energy, _ = prune.pruning_qubo(sal, 0.5, "uniform")

    def e(masks):
        return float(energy.energy((~np.concatenate([masks[n] for n in sal.weights])).astype(np.int8)[None])[0])

    assert e(keep) <= e(channels.magnitude_channels(model, 0.5))


def test_a_sparsity_that_would_empty_a_layer_is_refused(ecg_cnn):
    model, xs, y = ecg_cnn
    sal = channels.gate_saliency(model, xs, y, {c: 1.0 for c in range(5)}, samples=32, chunk=32)
    with pytest.raises(TinyqiError, match="--channel-sparsity 0.95"):
        channels.anneal_channels(sal, 0.95, prune.AnnealOptions(sweeps=5))


def test_compress_rejects_a_bad_channel_sparsity_before_loading_anything(tmp_path):
    r = run_cli("compress", str(tmp_path), "--method", "anneal-channels", "--channel-sparsity", "1.0")
    assert_one_line_error(r, "--channel-sparsity")
