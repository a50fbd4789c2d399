"""Pruning masks: exact budgets, row balance, the QUBO search beating its start, and zeros that survive masked
fine-tuning, int8 conversion and the CSR round trip."""

import numpy as np
import pytest

from tinyqi.compress import prune
from tinyqi.compress.prune import AnnealOptions, Saliency

SHAPES = {"conv": (5, 4, 6), "dense": (24, 8), "head": (8, 3)}


def synthetic_saliency(seed: int = 0, samples: int = 32) -> Saliency:
    rng = np.random.default_rng(seed)
    weights = {n: rng.normal(size=s) for n, s in SHAPES.items()}
    n = sum(w.size for w in weights.values())
    return Saliency(weights, rng.normal(size=(samples, n)), rng.uniform(0.5, 2.0, samples))


def kept(masks):
    return {n: int(m.sum()) for n, m in masks.items()}


def rows_kept(mask):
    return mask.reshape(-1, mask.shape[-1]).sum(0)


@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.9])
def test_magnitude_masks_hit_the_budget_and_keep_every_row(sparsity):
    weights = synthetic_saliency().weights
    total = sum(w.size for w in weights.values())
    g = prune.magnitude_masks(weights, sparsity, "global")
    assert sum(kept(g).values()) == prune.keep_count([total], sparsity)
    layer = prune.magnitude_masks(weights, sparsity, "layer")
    # the one-weight-per-row floor wins over a budget smaller than the row count (head at 90 %)
    assert kept(layer) == {n: max(prune.keep_count([w.size], sparsity), w.shape[-1]) for n, w in weights.items()}
    for masks in (g, layer):
        assert all(rows_kept(m).min() >= 1 for m in masks.values())
    # besides each row's reserved best weight, global magnitude keeps exactly the largest |w| overall
    reserved = np.concatenate([prune._row_topk(np.abs(w), 1).ravel() for w in weights.values()])
    flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
    keep = np.concatenate([m.ravel() for m in g.values()])
    assert flat[keep & ~reserved].min() >= flat[~keep].max()


def test_row_balanced_magnitude_has_equal_counts_per_row():
    masks = prune.magnitude_masks(synthetic_saliency().weights, 0.75, row_balanced=True)
    for m in masks.values():
        assert len(set(rows_kept(m).tolist())) == 1


@pytest.mark.parametrize("allocation", ["anneal", "uniform"])
def test_anneal_masks_keep_one_weight_per_row_when_the_budget_is_smaller(allocation):
    """99 % of 309 weights would leave 3, fewer than the 17 rows: the floor wins (it used to loop forever)."""
    masks = prune.anneal_masks(synthetic_saliency(), 0.99, AnnealOptions(sweeps=10, allocation=allocation))
    for m in masks.values():
        assert rows_kept(m).tolist() == [1] * m.shape[-1]


@pytest.mark.parametrize("seed", [0, 1])
def test_anneal_masks_meet_the_overall_budget_exactly(seed):
    sal = synthetic_saliency(seed)
    masks = prune.anneal_masks(sal, 0.8, AnnealOptions(sweeps=30, seed=seed))
    total = sum(w.size for w in sal.weights.values())
    assert sum(kept(masks).values()) == prune.keep_count([total], 0.8)
    assert all(rows_kept(m).min() >= 1 for m in masks.values())


def test_uniform_allocation_meets_every_layer_budget_exactly():
    sal = synthetic_saliency(3)
    masks = prune.anneal_masks(sal, 0.7, AnnealOptions(sweeps=30, allocation="uniform"))
    assert kept(masks) == {n: prune.keep_count([w.size], 0.7) for n, w in sal.weights.items()}


def test_row_balanced_anneal_has_equal_counts_per_row_within_the_budget():
    sal = synthetic_saliency(4)
    masks = prune.anneal_masks(sal, 0.8, AnnealOptions(sweeps=20, row_balanced=True))
    total = sum(w.size for w in sal.weights.values())
    for m in masks.values():
        assert len(set(rows_kept(m).tolist())) == 1 and rows_kept(m)[0] >= 1
    assert sum(kept(masks).values()) <= prune.keep_count([total], 0.8)


def mask_energy(sal, masks, sparsity):
    energy, _ = prune.pruning_qubo(sal, sparsity, "anneal")
    return float(energy.energy((~np.concatenate([m.ravel() for m in masks.values()])).astype(np.int8))[0])


def test_annealed_masks_have_lower_qubo_energy_than_magnitude_and_diagonal_greedy():
    sal = synthetic_saliency(5)
    annealed = prune.anneal_masks(sal, 0.8, AnnealOptions(sweeps=40))
    magnitude = prune.magnitude_masks(sal.weights, 0.8, "layer")
    diag = sal.diagonal()
    greedy = np.ones(diag.size, bool)
    greedy[np.argsort(diag)[: diag.size - prune.keep_count([diag.size], 0.8)]] = False
    greedy_masks = prune._unflatten(greedy, sal.weights)
    e = mask_energy(sal, annealed, 0.8)
    assert e < mask_energy(sal, magnitude, 0.8)
    assert e < mask_energy(sal, greedy_masks, 0.8)


def test_qubo_terms_are_the_second_order_taylor_loss_change():
    sal = synthetic_saliency(6, samples=8)
    h, a = sal.qubo_terms()
    w = np.concatenate([x.ravel() for x in sal.weights.values()])
    x = np.random.default_rng(0).integers(0, 2, w.size)
    c = sal.sample_weight / sal.sample_weight.sum()
    z = w * x  # removed weights: delta w = -z
    expected = -(c @ sal.grads) @ z + 0.5 * np.sum(c * (sal.grads @ z) ** 2)
    assert h @ x + np.sum((x @ a) ** 2) == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------- with TensorFlow: the real model path

@pytest.fixture(scope="module")
def toy():
    import keras
    from keras import layers

    from tinyqi.train import set_determinism

    set_determinism(0)
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(256, 32, 1)).astype(np.float32)
    x1 = rng.normal(size=(256, 3)).astype(np.float32)
    y = ((x0[:, :16, 0].mean(1) > 0).astype(int) + (x1[:, 0] > 0.5)).astype(np.int64)
    a = keras.Input((32, 1), name="in0_wave")
    b = keras.Input((3,), name="in1_feat")
    h = layers.Conv1D(8, 5, activation="relu", name="conv")(a)
    h = layers.GlobalAveragePooling1D(name="gap")(h)
    h = layers.Concatenate(name="cat")([h, b])
    h = layers.Dense(16, activation="relu", name="fc")(h)
    model = keras.Model([a, b], layers.Dense(3, activation="softmax", name="out")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit([x0, x1], y, epochs=3, batch_size=64, verbose=0)
    return model, [x0, x1], y


def test_saliency_gradients_match_a_per_sample_gradient(toy):
    import tensorflow as tf

    model, xs, y = toy
    layers_ = prune.prunable_layers(model)
    sal = prune.compute_saliency(model, layers_, xs, y, {0: 1.0, 1: 2.0, 2: 1.0}, samples=64, chunk=32)
    assert sal.grads.shape == (64, sum(l.kernel.numpy().size for l in layers_))
    first = int(np.sort(np.random.default_rng(0).choice(len(y), 64, replace=False))[0])
    with tf.GradientTape() as tape:
        loss = tf.keras.losses.sparse_categorical_crossentropy(y[first:first + 1],
                                                               model([x[first:first + 1] for x in xs]))
    g = tape.gradient(loss, [l.kernel for l in layers_])
    np.testing.assert_allclose(sal.grads[0], np.concatenate([t.numpy().ravel() for t in g]), rtol=1e-4, atol=1e-6)


def test_masked_finetuning_and_int8_keep_pruned_weights_exactly_zero(toy, tmp_path):
    import keras

    from tinyqi import convert, csr
    from tinyqi.compress import storage
    from tinyqi.compress.pipeline import check_masks_survive
    from tinyqi.tflite_model import load_tflite, parse_tflite

    base, xs, y = toy
    model = keras.models.clone_model(base)
    model.set_weights(base.get_weights())
    layers_ = prune.prunable_layers(model)
    masks = prune.magnitude_masks(prune.kernels(layers_), 0.7, "layer")
    prune.apply_masks(model, masks)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(xs, y, epochs=2, batch_size=32, verbose=0)
    for layer in layers_:
        assert np.all(layer.kernel.numpy()[~masks[layer.name]] == 0.0), layer.name
        assert np.any(layer.kernel.numpy()[masks[layer.name]] != 0.0)
    prune.clear_constraints(model, masks)

    tflite = convert.to_int8_tflite(model, xs)  # itself rejects non-TFLM ops and sparsity metadata
    tm = parse_tflite(tflite)
    check_masks_survive(tm, model, masks)
    assert all(not t.is_sparse for t in tm.tensors)
    path = tmp_path / "model_int8.tflite"
    path.write_bytes(tflite)
    tables = storage.worthwhile_tables(tm)
    assert tables, "a 70 % sparse model should have tensors CSR makes smaller"
    csr.write_tables(path, tables)
    for table in csr.read_tables(tmp_path, load_tflite(path)):
        np.testing.assert_array_equal(table.to_dense(), tm.tensor(table.tensor_index).data)
    cost = storage.storage(tm, tables)
    assert cost["weight_bytes"] < cost["dense_weight_bytes"] and cost["effective_macs"] < cost["dense_macs"]


def test_a_mask_the_int8_model_does_not_honour_is_reported(toy):
    from tinyqi import convert
    from tinyqi.compress.pipeline import check_masks_survive
    from tinyqi.errors import TinyqiError
    from tinyqi.tflite_model import parse_tflite

    model, xs, _ = toy
    tm = parse_tflite(convert.to_int8_tflite(model, xs))  # dense weights
    fake = {"fc": np.zeros(model.get_layer("fc").kernel.shape, bool)}
    fake["fc"][0] = True
    with pytest.raises(TinyqiError, match="not all zero"):
        check_masks_survive(tm, model, fake)


def test_row_balanced_masks_reach_the_int8_csr_tables(toy):
    import keras

    from tinyqi import convert, csr
    from tinyqi.tflite_model import parse_tflite

    base, xs, _ = toy
    model = keras.models.clone_model(base)
    model.set_weights(base.get_weights())
    layers_ = prune.prunable_layers(model)
    masks = prune.magnitude_masks(prune.kernels(layers_), 0.6, row_balanced=True)
    prune.apply_masks(model, masks)
    fc = model.get_layer("fc")
    w = fc.kernel.numpy()
    kept_rows = np.flatnonzero(masks["fc"][:, 0])
    w[kept_rows[0], 0] = 0.0  # a kept weight at exactly 0 and one far below an int8 step
    w[kept_rows[1], 0] = 1e-7
    fc.kernel.assign(w)
    assert prune.make_int8_visible(model, masks) >= 2
    tm = parse_tflite(convert.to_int8_tflite(model, xs))
    for table in csr.tables_from_tflite(tm):
        counts = np.diff(table.row_ptr.astype(int))
        assert len(set(counts.tolist())) == 1, (table.name, counts)


def test_a_convolution_gets_a_csr_table_only_while_the_csr_kernel_is_faster():
    """At 40 % density a convolution's table is smaller than its dense bytes, but the dense kernel is faster there
    (storage.CSR_CONV_MAX_DENSITY): no table; at 30 % one. A fully connected layer keeps the size rule alone."""
    from tflite_builder import TensorSpec, chain_model, conv_model
    from tinyqi import csr
    from tinyqi.compress import storage
    from tinyqi.tflite_model import parse_tflite

    def kept_row(width, count):
        row = np.zeros(width, np.int8)
        row[:count] = np.arange(1, count + 1)
        return row

    for nonzero, tabled in ((12, True), (16, False)):  # of 40 per filter row: 30 % and 40 %
        spec = conv_model()
        spec.add(TensorSpec("in0_x", (1, 1, 6, 8), np.int8, [0.03], [-1]),
                 TensorSpec("w", (8, 1, 5, 8), np.int8, [0.01] * 8, [0] * 8,
                            np.tile(kept_row(40, nonzero), (8, 1)).reshape(8, 1, 5, 8)),
                 TensorSpec("b", (8,), np.int32, [0.0003] * 8, [0] * 8, np.zeros(8, np.int32)),
                 TensorSpec("y", (1, 1, 2, 8), np.int8, [0.02], [-5]))
        tm = parse_tflite(spec.to_bytes())
        table = csr.dense_to_csr(tm.tensor(1).data, 1, "w")
        assert table.storage_bytes() < tm.tensor(1).data.nbytes  # the size rule alone would make it
        assert bool(storage.worthwhile_tables(tm)) == tabled, nonzero
    fc = chain_model()
    fc.tensors["w"].data = np.stack([kept_row(4, 1)] * 3)  # 25 % dense: smaller as a table
    assert [t.name for t in storage.worthwhile_tables(parse_tflite(fc.to_bytes()))] == ["w"]
