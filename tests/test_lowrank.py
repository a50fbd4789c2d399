"""Low-rank factorisation: error falls with rank, ranks respect the budget, annealed L-BFGS beats its SVD start,
and the rebuilt Keras model is the same function and converts to TFLM ops."""

import numpy as np
import pytest

from tinyqi.compress import lowrank
from tinyqi.errors import TinyqiError


@pytest.fixture(scope="module")
def layer_problem():
    """A ReLU layer with a decaying spectrum and correlated inputs, like a trained conv layer's."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(40, 24)) @ np.diag(0.8 ** np.arange(24)) @ rng.normal(size=(24, 24)) / 5
    x = rng.normal(size=(600, 40)) @ rng.normal(size=(40, 40)) * 0.3
    return x, w, rng.normal(size=24) * 0.3


def test_reconstruction_error_decreases_with_rank(layer_problem):
    _, w, _ = layer_problem
    errors = [lowrank.relative_error(w, *lowrank.svd_factors(w, r)) for r in range(1, 25)]
    assert all(b < a for a, b in zip(errors, errors[1:-1]))
    assert errors[-1] < 1e-20


def test_svd_factors_split_singular_values_evenly(layer_problem):
    _, w, _ = layer_problem
    u, v = lowrank.svd_factors(w, 5)
    np.testing.assert_allclose(np.linalg.norm(u, axis=0), np.linalg.norm(v, axis=1), rtol=1e-10)
    with pytest.raises(TinyqiError, match="rank"):
        lowrank.svd_factors(w, 30)


def test_chosen_ranks_fit_the_budget_and_save_weights():
    rng = np.random.default_rng(1)
    mats = {"a": rng.normal(size=(48, 24)), "b": rng.normal(size=(40, 16)) @ np.diag(0.5 ** np.arange(16)),
            "tiny": rng.normal(size=(7, 8))}
    ranks = lowrank.choose_ranks(mats, 0.5)
    spent = sum(lowrank.factorised_size(mats[n], r) for n, r in ranks.items())
    assert spent <= 0.5 * sum(m.size for m in mats.values())
    assert all(lowrank.factorised_size(mats[n], r) < mats[n].size for n, r in ranks.items())
    assert ranks["a"] > ranks["b"]  # the flat spectrum needs more rank than the fast-decaying one


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("rank", [2, 6])
def test_annealed_lbfgs_improves_on_the_svd_start(layer_problem, relu, rank):
    x, w, b = layer_problem
    u, v = lowrank.svd_factors(w, rank)
    before = lowrank.output_error(x, w, b, u, v, relu)
    u2, v2 = lowrank.refine(x, w, b, u, v, relu)
    after = lowrank.output_error(x, w, b, u2, v2, relu)
    assert after < 0.95 * before
    if not relu:  # a linear output has a closed-form optimum (best rank-r fit of R W, X = QR): L-BFGS reaches it
        r = np.linalg.qr(x, mode="r")
        best = np.linalg.solve(r, (lambda a: a[0] @ a[1])(lowrank.svd_factors(r @ w, rank)))
        optimum = np.sum((x @ (w - best)) ** 2) / np.sum((x @ w + b) ** 2)
        assert after == pytest.approx(optimum, rel=0.02)


def test_objective_gradient_matches_finite_differences(layer_problem):
    x, w, b = layer_problem
    u, v = lowrank.svd_factors(w, 3)
    theta = np.concatenate([u.ravel(), v.ravel()])
    _, grad = lowrank._objective(theta, x, x @ w + b, b, u.shape, True, 0.5)
    rng = np.random.default_rng(0)
    for k in rng.choice(theta.size, 5, replace=False):
        step = np.zeros_like(theta)
        step[k] = 1e-6
        hi = lowrank._objective(theta + step, x, x @ w + b, b, u.shape, True, 0.5)[0]
        lo = lowrank._objective(theta - step, x, x @ w + b, b, u.shape, True, 0.5)[0]
        assert grad[k] == pytest.approx((hi - lo) / 2e-6, rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("padding,strides", [("valid", 1), ("valid", 2), ("same", 1)])
def test_im2col_reproduces_conv1d(padding, strides):
    import keras

    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 17, 4)).astype(np.float32)
    conv = keras.layers.Conv1D(5, 3, strides=strides, padding=padding, use_bias=False)
    y = np.asarray(conv(x))
    patches = lowrank.im2col(x, 3, strides, padding)
    np.testing.assert_allclose(patches @ lowrank.as_matrix(conv.kernel.numpy()), y.reshape(-1, 5), atol=1e-5)


def test_factorised_model_is_the_same_function_and_converts():
    import keras

    from tinyqi import convert
    from tinyqi.compress.prune import prunable_layers
    from tinyqi.models.ecg import build_ecg_cnn
    from tinyqi.tflite_model import parse_tflite

    keras.utils.set_random_seed(0)
    model = build_ecg_cnn([(128, 1), (5,)], 5)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(16, 128, 1)).astype(np.float32), rng.normal(size=(16, 5)).astype(np.float32)]
    full = {}
    for name in ("conv3", "fc_wave", "fc_rr"):
        m = lowrank.as_matrix(model.get_layer(name).kernel.numpy())
        full[name] = lowrank.svd_factors(m, min(m.shape))  # full rank: exactly the same function
    new = lowrank.factorise_model(model, full)
    np.testing.assert_allclose(new.predict(xs, verbose=0), model.predict(xs, verbose=0), atol=1e-5)
    assert {"conv3_basis", "conv3_mix", "fc_rr_basis"} <= {l.name for l in prunable_layers(new)}
    ops = parse_tflite(convert.to_int8_tflite(new, xs)).op_names()
    # conv3 as two convs; fc_wave and fc_rr as two FCs each, plus fc_rr_hidden and the classifier
    assert ops.count("CONV_2D") == 4 and ops.count("FULLY_CONNECTED") == 6
