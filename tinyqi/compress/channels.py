"""Structured pruning: whole output channels of Conv1D layers, removed from the model (not masked).

Unstructured pruning leaves every output in place, and on a Cortex-M a small int8 model pays per output (the
requantisation and the loop around each one, docs/bench.md), so it cannot make these models several times faster.
Removing a channel removes its outputs, its weights and the next layer's input slice.

Channel QUBO (the quantum-inspired method): the same energy as the weight QUBO of prune.py, over one "gate" per
channel instead of one weight. A gate g_c = 1 multiplies the channel's output a_c; removing the channel sets it to
0, and the per-sample first-order change of the loss is z_nc = sum_t a_nct dL_n/da_nct (the Taylor criterion).
With the empirical Fisher the expected loss increase of removing the set x is
  dL(x) ~= -sum_c zbar_c x_c + 1/(2N) sum_n c_n (sum_c z_nc x_c)^2,
whose couplings say which channels are redundant together (removing both hurts less, or more, than the sum).
prune.anneal_masks minimises it with an exact count per layer. The baseline keeps the channels with the largest
filter L1 norm in each layer (Li et al., "Pruning Filters for Efficient ConvNets", 2017), the same counts.

A channel is prunable when its layer's output reaches exactly one weighted layer (Conv1D or Dense) through
channel-wise layers only (pooling, global average pooling, activations), so the consumer's input slice can go too.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinyqi.compress import prune
from tinyqi.errors import TinyqiError

CHANNELWISE = ("MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Activation",
               "Dropout", "ReLU")
CONSUMERS = ("Conv1D", "Dense")


def _producers(layer) -> list:
    """The layers whose outputs feed `layer` (Keras 3 functional graph)."""
    tensors = layer._inbound_nodes[0].input_tensors if layer._inbound_nodes else []
    return [t._keras_history.operation for t in tensors]


def _consumers(model) -> dict[str, list]:
    found: dict[str, list] = {l.name: [] for l in model.layers}
    for layer in model.layers:
        for producer in _producers(layer):
            if producer.name in found:
                found[producer.name].append(layer)
    return found


def prunable_convs(model) -> dict[str, str]:
    """Conv1D layer name -> the weighted layer that consumes its channels, for every channel-prunable Conv1D."""
    consumers = _consumers(model)
    result = {}
    for layer in model.layers:
        if type(layer).__name__ != "Conv1D":
            continue
        nxt = consumers[layer.name]
        while len(nxt) == 1 and type(nxt[0]).__name__ in CHANNELWISE:
            nxt = consumers[nxt[0].name]
        if len(nxt) == 1 and type(nxt[0]).__name__ in CONSUMERS:
            result[layer.name] = nxt[0].name
    return result


def kept_channels(filters: dict[str, int], sparsity: float) -> dict[str, int]:
    """Channels each layer keeps (its filter count given): the same rounding as weight budgets (prune.keep_count);
    a sparsity that would remove every channel of a layer is refused."""
    prune._check_sparsity(sparsity)
    kept = {name: prune.keep_count([count], sparsity) for name, count in filters.items()}
    if min(kept.values(), default=1) < 1:
        raise TinyqiError(f"--channel-sparsity {sparsity}: it would empty a layer; keep at least one channel each")
    return kept


def magnitude_channels(model, sparsity: float) -> dict[str, np.ndarray]:
    """Keep masks (bool per channel): the largest filter L1 norms of each layer."""
    keep = {}
    filters = {name: model.get_layer(name).filters for name in prunable_convs(model)}
    for name, count in kept_channels(filters, sparsity).items():
        l1 = np.abs(model.get_layer(name).kernel.numpy()).sum(axis=(0, 1))
        mask = np.zeros(l1.size, dtype=bool)
        mask[np.argsort(-l1, kind="stable")[:count]] = True
        keep[name] = mask
    return keep


def gate_saliency(model, xs: list[np.ndarray], y: np.ndarray, class_weight: dict[int, float], samples: int = 512,
                  seed: int = 0, chunk: int = 128) -> prune.Saliency:
    """Per-sample loss gradients of the channel gates, as a prune.Saliency over gates of value 1 shaped
    (channels, 1): one CSR "row" per layer, so the mask search keeps at least one channel per layer."""
    import keras
    import tensorflow as tf

    names = list(prunable_convs(model))
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names] + [model.output])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(reduction="none")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(y), size=min(samples, len(y)), replace=False))
    rows = []
    for lo in range(0, len(pick), chunk):
        idx = pick[lo : lo + chunk]
        batch = [tf.constant(x[idx]) for x in xs]
        with tf.GradientTape() as tape:
            outs = probe(batch if len(batch) > 1 else batch[0], training=False)
            loss = tf.reduce_sum(loss_fn(tf.constant(y[idx]), outs[-1]))
        grads = tape.gradient(loss, outs[:-1])  # samples are independent: row n is d loss_n / d a_n
        rows.append(np.concatenate([tf.reduce_sum(a * g, axis=1).numpy() for a, g in zip(outs[:-1], grads)], axis=1))
    gates = {n: np.ones((model.get_layer(n).filters, 1)) for n in names}
    sample_weight = np.array([class_weight[int(c)] for c in y[pick]], dtype=np.float64)
    return prune.Saliency(gates, np.concatenate(rows).astype(np.float64), sample_weight / sample_weight.mean())


def anneal_channels(sal: prune.Saliency, sparsity: float, opts: prune.AnnealOptions) -> dict[str, np.ndarray]:
    """Keep masks from the annealed channel QUBO, the same per-layer counts as the magnitude baseline."""
    kept_channels({n: g.shape[0] for n, g in sal.weights.items()}, sparsity)  # refuses emptying a layer
    masks = prune.anneal_masks(sal, sparsity, replace(opts, allocation="uniform", row_balanced=False))
    return {n: m[:, 0] for n, m in masks.items()}


def remove_channels(model, keep: dict[str, np.ndarray]):
    """A copy of `model` without the dropped channels: fewer filters in each pruned Conv1D, and the matching
    input slice of the weighted layer that consumes them."""
    import keras

    consumer_of = prunable_convs(model)
    unknown = sorted(set(keep) - set(consumer_of))
    if unknown:
        raise TinyqiError(f"layer '{unknown[0]}': not a channel-prunable Conv1D of model '{model.name}'")
    inputs_of = {consumer_of[n]: keep[n] for n in keep}

    def clone(layer):
        cfg = layer.get_config()
        if layer.name in keep:
            cfg["filters"] = int(keep[layer.name].sum())
        return layer.__class__.from_config(cfg)

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if not layer.weights:
            continue
        weights = layer.get_weights()
        if layer.name in inputs_of:  # kernel (k, in, out) or (in, out): the input axis is second to last
            weights[0] = np.take(weights[0], np.flatnonzero(inputs_of[layer.name]), axis=-2)
        if layer.name in keep:
            weights = [np.take(w, np.flatnonzero(keep[layer.name]), axis=-1) for w in weights]
        new.get_layer(layer.name).set_weights(weights)
    return new
