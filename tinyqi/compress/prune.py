"""Pruning masks for the kernels of Dense / Conv1D layers: magnitude baselines and an annealed QUBO search.

A mask is a bool array shaped like the Keras kernel (True = keep). An output "row" is a channel of the kernel's
last axis (the row of the TFLite weight matrix and of its CSR table). Every mask keeps at least one weight per
row, so no channel's int8 scale is computed from an all-zero row.

QUBO mask search (the quantum-inspired method). Bits x_i = 1 prune weight i (delta w_i = -w_i). A second-order
Taylor expansion of the training loss with the empirical Fisher as Hessian gives the expected loss increase
  dL(x) ~= -sum_i gbar_i w_i x_i + 1/(2N) sum_n c_n (sum_i g_ni w_i x_i)^2
from per-sample gradients g_n (N samples, class-weighted by c_n, gbar their weighted mean). That is a QUBO whose
couplings (weights whose removals compound or cancel on the same samples) a per-weight score cannot see. Budget
penalties lam (sum_i x_i - P)^2 overall and lam_l (sum_{i in l} x_i - P_l)^2 per layer complete the energy; with
`allocation="anneal"` only the overall budget is enforced (lam_l = 0), so how many weights each layer keeps falls
out of the same minimisation. anneal.anneal minimises it; a greedy repair then makes the counts exact.
`row_balanced` first takes the per-layer counts from that search, rounds them to whole weights per row, and then
anneals with count-preserving swaps inside each row only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyqi.compress import anneal as annealing
from tinyqi.errors import TinyqiError

PRUNABLE = ("Dense", "Conv1D")


def all_layers(model) -> list:
    """Layers in model order, with the layers of nested models (factorised blocks) in place of the model."""
    found = []
    for layer in model.layers:
        found.extend(all_layers(layer) if hasattr(layer, "layers") else [layer])
    return found


def prunable_layers(model) -> list:
    """Layers with a kernel a CSR kernel can run, in model order."""
    return [l for l in all_layers(model) if type(l).__name__ in PRUNABLE]


def kernels(layers_) -> dict[str, np.ndarray]:
    return {l.name: np.asarray(l.kernel.numpy()) for l in layers_}


def row_ids(kernel: np.ndarray) -> np.ndarray:
    """Output channel (row) of every element of a kernel, flattened in C order."""
    return np.broadcast_to(np.arange(kernel.shape[-1]), kernel.shape).ravel()


def density(masks: dict[str, np.ndarray]) -> float:
    return sum(int(m.sum()) for m in masks.values()) / sum(m.size for m in masks.values())


def keep_count(sizes: list[int], sparsity: float) -> int:
    return int(round(sum(sizes) * (1 - sparsity)))


def _check_sparsity(sparsity: float) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise TinyqiError(f"--target-sparsity {sparsity}: must be in [0, 1); e.g. 0.8 keeps 20 % of the weights")


# ---------------------------------------------------------------- magnitude baselines

def magnitude_masks(weights: dict[str, np.ndarray], sparsity: float, scope: str = "global",
                    row_balanced: bool = False) -> dict[str, np.ndarray]:
    """Keep the largest |w|: one threshold over all layers (`global`) or the same sparsity in each (`layer`)."""
    _check_sparsity(sparsity)
    if row_balanced:
        counts = {n: keep_count([w.size], sparsity) for n, w in weights.items()}
        return {n: _row_topk(np.abs(w), _per_row(counts[n], w)) for n, w in weights.items()}
    if scope == "layer":
        return {n: _topk_with_rows(np.abs(w), keep_count([w.size], sparsity)) for n, w in weights.items()}
    if scope != "global":
        raise TinyqiError(f"magnitude scope '{scope}': use 'global' or 'layer'")
    flat, _, _ = _flatten(weights)
    keep = _global_topk_with_rows(np.abs(flat), weights, keep_count([flat.size], sparsity))
    return _unflatten(keep, weights)


def _per_row(keep: int, w: np.ndarray) -> int:
    rows = w.shape[-1]
    return int(np.clip(round(keep / rows), 1, w.size // rows))


def _row_topk(score: np.ndarray, k: int) -> np.ndarray:
    """Exactly k largest scores in every row (last axis)."""
    m = score.reshape(-1, score.shape[-1])
    order = np.argsort(-m, axis=0, kind="stable")[:k]
    keep = np.zeros_like(m, dtype=bool)
    np.put_along_axis(keep, order, True, axis=0)
    return keep.reshape(score.shape)


def _topk_with_rows(score: np.ndarray, k: int) -> np.ndarray:
    """The k largest scores, after reserving each row's best (so no row is empty)."""
    keep = _row_topk(score, 1)
    rest = np.where(keep, -np.inf, score).ravel()
    extra = max(k - int(keep.sum()), 0)
    if extra:
        keep.ravel()[np.argsort(-rest, kind="stable")[:extra]] = True
    return keep


def _global_topk_with_rows(score: np.ndarray, weights: dict[str, np.ndarray], k: int) -> np.ndarray:
    """The k largest of the flattened `score`, after reserving every row's largest |w|."""
    reserved = np.concatenate([_row_topk(np.abs(w), 1).ravel() for w in weights.values()])
    rest = np.where(reserved, -np.inf, score)
    keep = reserved.copy()
    extra = max(k - int(reserved.sum()), 0)
    keep[np.argsort(-rest, kind="stable")[:extra]] = True
    return keep


def _flatten(arrays: dict[str, np.ndarray]):
    flat = np.concatenate([a.ravel() for a in arrays.values()])
    layer_of = np.concatenate([np.full(a.size, i) for i, a in enumerate(arrays.values())])
    rows = np.concatenate([row_ids(a) for a in arrays.values()])
    return flat, layer_of, rows


def _unflatten(flat: np.ndarray, like: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out, start = {}, 0
    for name, a in like.items():
        out[name] = flat[start : start + a.size].reshape(a.shape)
        start += a.size
    return out


# ---------------------------------------------------------------- saliency (Taylor / empirical Fisher)

@dataclass
class Saliency:
    """Per-sample loss gradients of every prunable kernel, flattened in layer order."""

    weights: dict[str, np.ndarray]
    grads: np.ndarray  # (N, n_weights) per-sample gradients
    sample_weight: np.ndarray  # (N,) class weights of the samples, mean 1

    def qubo_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """(h, A): linear term -gbar*w and the factor with ||x @ A||^2 = 1/(2N) sum_n c_n (g_n . (w x))^2."""
        w, _, _ = _flatten(self.weights)
        c = self.sample_weight / self.sample_weight.sum()
        gbar = c @ self.grads
        a = (self.grads * w).T * np.sqrt(c / 2)
        return -gbar * w, a

    def diagonal(self) -> np.ndarray:
        """Loss increase of removing each weight alone (the OBD-style score)."""
        h, a = self.qubo_terms()
        return h + np.einsum("ik,ik->i", a, a)


def compute_saliency(model, layers_, xs: list[np.ndarray], y: np.ndarray, class_weight: dict[int, float],
                     samples: int = 512, seed: int = 0, chunk: int = 128) -> Saliency:
    """Per-sample gradients of the class-weighted cross-entropy on random training rows (a whole number of
    chunks, so the traced per-sample-gradient function is built once)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    count = max(chunk, min(samples, len(y)) // chunk * chunk) if len(y) >= chunk else len(y)
    pick = np.sort(rng.choice(len(y), size=count, replace=False))
    variables = [l.kernel for l in layers_]
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(reduction="none")

    @tf.function(reduce_retracing=True)
    def per_sample_grads(batch, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(batch if len(batch) > 1 else batch[0], training=False))
        return tape.jacobian(loss, variables, experimental_use_pfor=True)

    rows = []
    for lo in range(0, count, chunk):
        idx = pick[lo : lo + chunk]
        jac = per_sample_grads([tf.constant(x[idx]) for x in xs], tf.constant(y[idx]))
        rows.append(np.concatenate([np.reshape(j.numpy(), (len(idx), -1)) for j in jac], axis=1))
    weights = kernels(layers_)
    sample_weight = np.array([class_weight[int(c)] for c in y[pick]], dtype=np.float64)
    return Saliency(weights, np.concatenate(rows).astype(np.float64), sample_weight / sample_weight.mean())


# ---------------------------------------------------------------- annealed QUBO masks

@dataclass(frozen=True)
class AnnealOptions:
    sweeps: int = 80
    replicas: int = 4
    tempering: bool = False
    allocation: str = "anneal"  # "anneal": layer sizes from the search; "uniform": every layer at the target
    row_balanced: bool = False
    seed: int = 0


def anneal_masks(sal: Saliency, sparsity: float, opts: AnnealOptions = AnnealOptions()) -> dict[str, np.ndarray]:
    _check_sparsity(sparsity)
    if opts.allocation not in ("anneal", "uniform"):
        raise TinyqiError(f"allocation '{opts.allocation}': use 'anneal' or 'uniform'")
    masks = _anneal_free(sal, sparsity, opts.allocation, opts)
    if opts.row_balanced:
        masks = _anneal_row_balanced(sal, masks, opts)
    return masks


def pruning_qubo(sal: Saliency, sparsity: float, allocation: str, swap_group=None, lam_scale: float = 2.0):
    """The pruning energy over prune bits; lam = lam_scale * the diagonal saliency at the budget's cut."""
    h, a = sal.qubo_terms()
    _, layer_of, _ = _flatten(sal.weights)
    sizes = [w.size for w in sal.weights.values()]
    n_prune = sum(sizes) - keep_count(sizes, sparsity)
    diag = np.sort(np.abs(sal.diagonal()))
    cut = diag[min(max(n_prune - 1, 0), diag.size - 1)]
    lam = lam_scale * max(cut, float(np.median(diag)) * 1e-3, 1e-12)
    layer_targets = [s - keep_count([s], sparsity) for s in sizes]
    lam_layer = np.full(len(sizes), lam if allocation == "uniform" else 0.0)
    return annealing.LowRankQubo(h, a, layer_of, lam, n_prune, lam_layer, layer_targets, swap_group), n_prune


def _anneal_free(sal: Saliency, sparsity: float, allocation: str, opts: AnnealOptions) -> dict[str, np.ndarray]:
    energy, n_prune = pruning_qubo(sal, sparsity, allocation)
    start = ~np.concatenate([m.ravel() for m in magnitude_masks(sal.weights, sparsity, "layer").values()])
    result = annealing.anneal(energy, sweeps=opts.sweeps, replicas=opts.replicas, seed=opts.seed,
                              x0=start.astype(np.int8), tempering=opts.tempering)
    exact = _repair(energy, result.x, sal, allocation, sparsity)
    return _unflatten(exact == 0, sal.weights)


def _repair(energy, x: np.ndarray, sal: Saliency, allocation: str, sparsity: float) -> np.ndarray:
    """Make the counts exact with the cheapest single flips: at least one weight kept per row, then the overall
    budget (or each layer's, for uniform allocation)."""
    flat, layer_of, rows = _flatten(sal.weights)
    row_key = layer_of * (rows.max() + 1) + rows
    x = x.copy()
    st = energy.start(x[None, :])
    for key in np.unique(row_key):  # unprune the cheapest weight of an emptied row
        members = np.flatnonzero(row_key == key)
        if np.all(st.x[0, members] == 1):
            d = energy.all_flip_deltas(st)[members]
            energy.apply(st, st.rows, np.array([members[int(np.argmin(d))]]))
    sizes = [w.size for w in sal.weights.values()]
    groups = [np.arange(flat.size)] if allocation == "anneal" else [np.flatnonzero(layer_of == l)
                                                                      for l in range(len(sizes))]
    targets = ([sum(sizes) - keep_count(sizes, sparsity)] if allocation == "anneal"
               else [s - keep_count([s], sparsity) for s in sizes])
    for members, target in zip(groups, targets):
        while True:
            pruned = int(st.x[0, members].sum())
            if pruned == target:
                break
            d = energy.all_flip_deltas(st)[members]
            want = 0 if pruned < target else 1  # bits to flip: kept ones to prune, or pruned ones to restore
            ok = st.x[0, members] == want
            if want == 0:  # never empty a row when pruning more
                kept_per_row = np.bincount(row_key[members], weights=1 - st.x[0, members], minlength=row_key.max() + 1)
                ok &= kept_per_row[row_key[members]] > 1
            d = np.where(ok, d, np.inf)
            if not np.isfinite(d.min()):  # every row is down to its last weight: the floor wins over the budget,
                break                     # as in magnitude_masks (without this the loop flipped bits back forever)
            energy.apply(st, st.rows, np.array([members[int(np.argmin(d))]]))
    return st.x[0].copy()


def _anneal_row_balanced(sal: Saliency, masks: dict[str, np.ndarray], opts: AnnealOptions) -> dict[str, np.ndarray]:
    """Per-layer counts from the free search, rounded to k per row; then swaps within rows only."""
    k = _balanced_row_counts(masks)
    cost = _unflatten(sal.diagonal(), sal.weights)  # keep the k costliest-to-remove weights of each row
    start = {n: _row_topk(cost[n], k[n]) for n in masks}
    _, layer_of, rows = _flatten(sal.weights)
    row_key = layer_of * (rows.max() + 1) + rows
    energy, _ = pruning_qubo(sal, 0.0, "anneal", swap_group=row_key, lam_scale=0.0)
    x0 = (~np.concatenate([m.ravel() for m in start.values()])).astype(np.int8)
    result = annealing.anneal(energy, sweeps=opts.sweeps, replicas=opts.replicas, seed=opts.seed, x0=x0,
                              swap_fraction=1.0, tempering=opts.tempering)
    return _unflatten(result.x == 0, sal.weights)


def _balanced_row_counts(masks: dict[str, np.ndarray]) -> dict[str, int]:
    """Whole weights per row closest to each layer's count, keeping the total within the budget: floor every
    layer, then give +1 per row to the layers with the largest remainders while the total allows it."""
    budget = sum(int(m.sum()) for m in masks.values())
    rows = {n: m.shape[-1] for n, m in masks.items()}
    exact = {n: m.sum() / rows[n] for n, m in masks.items()}
    k = {n: max(1, int(np.floor(exact[n]))) for n in masks}
    for n in sorted(masks, key=lambda n: (exact[n] - np.floor(exact[n])), reverse=True):
        spent = sum(k[m] * rows[m] for m in masks)
        if spent + rows[n] <= budget and k[n] < masks[n].size // rows[n]:
            k[n] += 1
    return k


# ---------------------------------------------------------------- masked fine-tuning

def mask_constraint(mask: np.ndarray):
    """A Keras 3 constraint the optimizer applies after every update: pruned weights are reset to exactly 0."""
    import keras

    class KeepMask(keras.constraints.Constraint):
        def __init__(self):
            self.mask = keras.ops.convert_to_tensor(mask.astype(np.float32))

        def __call__(self, w):
            return w * self.mask

    return KeepMask()


def apply_masks(model, masks: dict[str, np.ndarray]) -> None:
    """Zero the pruned weights and keep them zero through training (constraint on each kernel)."""
    for layer in all_layers(model):
        if layer.name in masks:
            mask = masks[layer.name]
            layer.kernel.assign(layer.kernel.numpy() * mask)
            layer.kernel.constraint = mask_constraint(mask)


def make_int8_visible(model, masks: dict[str, np.ndarray]) -> int:
    """Row balance only reaches the CSR tables if every kept weight is non-zero in int8. TFLite quantises weights
    per output channel with scale max|w_row| / 127, so a kept weight below half a step would become 0: set it to
    one step (keeping its sign, + for an exact 0). Rows whose weights are all 0 (dead units) have no scale and are
    left alone. Returns how many weights moved (each by less than one int8 step)."""
    moved = 0
    for layer in all_layers(model):
        if layer.name not in masks:
            continue
        w = layer.kernel.numpy()
        flat, keep = w.reshape(-1, w.shape[-1]), masks[layer.name].reshape(-1, w.shape[-1])
        step = np.abs(flat).max(axis=0) / 127
        small = keep & (np.abs(flat) < step / 2) & (step > 0)
        flat[small] = np.where(flat[small] < 0, -1, 1) * np.broadcast_to(step, flat.shape)[small]
        layer.kernel.assign(w)
        moved += int(small.sum())
    return moved


def clear_constraints(model, names) -> None:
    for layer in all_layers(model):
        if layer.name in names:
            layer.kernel.constraint = None
