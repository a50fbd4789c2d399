"""Low-rank factorisation of Dense / Conv1D kernels: plain truncated SVD and an annealed, data-aware refinement.

A kernel viewed as a matrix W (fan-in x outputs; a Conv1D kernel (k, cin, cout) as (k*cin, cout)) becomes
U (fan-in x r) V (r x outputs), i.e. a basis layer (Dense(r) / Conv1D(r, k), no bias) followed by a mixing layer
(Dense(outputs) / Conv1D(outputs, 1)) carrying the bias and activation: two FULLY_CONNECTED / CONV_2D ops, r *
(fan-in + outputs) weights. The singular values are split evenly (U = U_r sqrt(S), V = sqrt(S) V_r^T) so both
factors have similar ranges for int8.

Ranks per layer (`choose_ranks`): start every layer at rank 1, then repeatedly add one rank where it removes the most
relative reconstruction error (sigma_{r+1}^2 / ||W||^2) per added weight, until the weight budget is spent; a layer
whose chosen rank would not save weights stays dense.

Plain SVD is optimal for ||W - UV||_F (Eckart-Young) but blind to the data. `refine` minimises what the network sees,
the layer's output on calibration inputs X:  f(U, V) = ||phi(X U V + b) - phi(X W + b)||^2 / ||phi(X W + b)||^2,
with the ReLU replaced by softplus_tau(z) = tau log(1 + exp(z / tau)). Deterministic annealing: tau starts at the
pre-activation's standard deviation (a smooth, almost convex problem) and is lowered geometrically over `stages` to
1/100 of that (~ReLU); each stage is a scipy L-BFGS run warm-started from the previous one, the first from SVD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from tinyqi.errors import TinyqiError


def as_matrix(kernel: np.ndarray) -> np.ndarray:
    return kernel.reshape(-1, kernel.shape[-1])


def svd_factors(w: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    if not 1 <= rank <= s.size:
        raise TinyqiError(f"rank {rank}: must be between 1 and {s.size} for a {w.shape[0]}x{w.shape[1]} kernel")
    root = np.sqrt(s[:rank])
    return u[:, :rank] * root, root[:, None] * vt[:rank]


def relative_error(w: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    return float(np.linalg.norm(w - u @ v) ** 2 / max(np.linalg.norm(w) ** 2, 1e-30))


def factorised_size(w: np.ndarray, rank: int) -> int:
    return rank * (w.shape[0] + w.shape[1])


def choose_ranks(matrices: dict[str, np.ndarray], weight_fraction: float) -> dict[str, int]:
    """Rank per layer within `weight_fraction` of the layers' dense weights; layers left out stay dense."""
    if not 0 < weight_fraction < 1:
        raise TinyqiError(f"low-rank weight fraction {weight_fraction}: must be in (0, 1), e.g. 0.5")
    energy = {}
    for name, w in matrices.items():
        s2 = np.linalg.svd(w, compute_uv=False) ** 2
        energy[name] = s2 / max(s2.sum(), 1e-30)
    budget = weight_fraction * sum(w.size for w in matrices.values())
    ranks = {name: 1 for name in matrices}
    spent = sum(factorised_size(w, 1) for w in matrices.values())
    while True:
        gains = {n: energy[n][ranks[n]] / (matrices[n].shape[0] + matrices[n].shape[1])
                 for n in matrices if ranks[n] < energy[n].size}
        affordable = {n: g for n, g in gains.items()
                      if spent + sum(matrices[n].shape) <= budget
                      and factorised_size(matrices[n], ranks[n] + 1) < matrices[n].size}
        if not affordable:
            break
        best = max(sorted(affordable), key=lambda n: affordable[n])
        ranks[best] += 1
        spent += sum(matrices[best].shape)
    return {n: r for n, r in ranks.items() if factorised_size(matrices[n], r) < matrices[n].size}


# ---------------------------------------------------------------- annealed data-aware refinement

@dataclass(frozen=True)
class RefineOptions:
    stages: int = 4
    iterations: int = 60  # L-BFGS iterations per stage
    final_tau_ratio: float = 0.01


def _softplus(z: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """softplus_tau and its derivative (the logistic), overflow-safe."""
    t = z / tau
    value = tau * np.logaddexp(0.0, t)
    slope = 0.5 * (1 + np.tanh(t / 2))
    return value, slope


def output_error(x: np.ndarray, w: np.ndarray, b: np.ndarray, u: np.ndarray, v: np.ndarray, relu: bool,
                 tau: float | None = None) -> float:
    """The refinement objective at smoothing tau (None: the exact ReLU / linear output)."""
    return _objective(np.concatenate([u.ravel(), v.ravel()]), x, x @ w + b, b, u.shape, relu, tau)[0]


def _objective(theta, x, z_ref, b, u_shape, relu, tau):
    u = theta[: u_shape[0] * u_shape[1]].reshape(u_shape)
    v = theta[u.size :].reshape(u_shape[1], -1)
    xu = x @ u
    z = xu @ v + b
    if not relu:
        y, slope, y_ref = z, 1.0, z_ref
    elif tau is None:
        y, slope, y_ref = np.maximum(z, 0), (z > 0).astype(z.dtype), np.maximum(z_ref, 0)
    else:
        (y, slope), (y_ref, _) = _softplus(z, tau), _softplus(z_ref, tau)
    scale = 1.0 / max(float(np.sum(y_ref ** 2)), 1e-30)
    diff = y - y_ref
    dz = 2 * scale * diff * slope
    grad_v = xu.T @ dz
    grad_u = x.T @ (dz @ v.T)
    return float(scale * np.sum(diff ** 2)), np.concatenate([grad_u.ravel(), grad_v.ravel()])


def refine(x: np.ndarray, w: np.ndarray, b: np.ndarray, u: np.ndarray, v: np.ndarray, relu: bool,
           opts: RefineOptions = RefineOptions()) -> tuple[np.ndarray, np.ndarray]:
    """Anneal the softplus temperature, with an L-BFGS minimisation of the output error at each stage."""
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    z_ref = x @ w + b
    theta = np.concatenate([u.ravel(), v.ravel()]).astype(np.float64)
    tau0 = float(np.std(z_ref)) or 1.0
    stages = opts.stages if relu else 1  # a linear output has nothing to anneal
    for k in range(stages):
        tau = tau0 * opts.final_tau_ratio ** (k / max(stages - 1, 1)) if relu else None
        res = minimize(_objective, theta, args=(x, z_ref, b, u.shape, relu, tau), jac=True, method="L-BFGS-B",
                       options={"maxiter": opts.iterations})
        theta = res.x
    return theta[: u.size].reshape(u.shape), theta[u.size :].reshape(v.shape)


def im2col(x: np.ndarray, kernel_size: int, strides: int, padding: str) -> np.ndarray:
    """(n, T, cin) Conv1D inputs -> (n * T_out, k * cin) patches in the kernel's (k, cin) order."""
    if padding == "same":
        total = max((int(np.ceil(x.shape[1] / strides)) - 1) * strides + kernel_size - x.shape[1], 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    elif padding != "valid":
        raise TinyqiError(f"Conv1D padding '{padding}': low-rank supports 'valid' and 'same'")
    win = np.lib.stride_tricks.sliding_window_view(x, kernel_size, axis=1)[:, ::strides]  # (n, T_out, cin, k)
    return np.ascontiguousarray(win.transpose(0, 1, 3, 2)).reshape(-1, kernel_size * x.shape[2])


# ---------------------------------------------------------------- Keras model surgery

def factorise_model(model, factors: dict[str, tuple[np.ndarray, np.ndarray]]):
    """A copy of `model` where each named Dense / Conv1D layer is replaced by its basis -> mix pair of layers
    (`<name>_basis`, `<name>_mix`, wrapped in a Sequential named `<name>`) holding the given factors."""
    import keras

    def clone(layer):
        if layer.name not in factors:
            return layer.__class__.from_config(layer.get_config())
        return _factorised_block(layer, *factors[layer.name])

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name not in factors and layer.weights:
            new.get_layer(layer.name).set_weights(layer.get_weights())
    for name, (u, v) in factors.items():
        old = model.get_layer(name)
        block = new.get_layer(name)
        basis, mix = block.layers
        basis.set_weights([u.reshape(basis.kernel.shape).astype(np.float32)])
        mix.set_weights([v.reshape(mix.kernel.shape).astype(np.float32)] + ([old.bias.numpy()] if old.use_bias else []))
    return new


def _factorised_block(layer, u: np.ndarray, v: np.ndarray):
    import keras
    from keras import layers

    rank = u.shape[1]
    cfg = layer.get_config()
    if type(layer).__name__ == "Dense":
        basis = layers.Dense(rank, use_bias=False, name=f"{layer.name}_basis")
        mix = layers.Dense(cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"], name=f"{layer.name}_mix")
    elif type(layer).__name__ == "Conv1D":
        basis = layers.Conv1D(rank, cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
                              use_bias=False, name=f"{layer.name}_basis")
        mix = layers.Conv1D(cfg["filters"], 1, activation=cfg["activation"], use_bias=cfg["use_bias"],
                            name=f"{layer.name}_mix")
    else:
        raise TinyqiError(f"layer '{layer.name}': low-rank supports Dense and Conv1D, not {type(layer).__name__}")
    return keras.Sequential([basis, mix], name=layer.name)
