"""QUBO energies and a replica simulated annealer (optionally with parallel-tempering replica exchange).

A QUBO over bits x in {0,1}^n has energy E(x) = offset + sum_i h_i x_i + sum_ij Q_ij x_i x_j with Q symmetric, so
flipping bit i changes E by  s_i * (h_i + Q_ii + 2 * sum_{j != i} Q_ij x_j)  with s_i = +1 for 0->1, -1 for 1->0,
and flipping bits i and j together by  d_i + d_j + 2 s_i s_j Q_ij.

Two energies share one annealer through the same four methods (`energy`, `start`, `flip_delta`, `pair_coupling`,
`apply`): `DenseQubo` (any small QUBO, used by the tests against brute force) and `LowRankQubo`, the pruning
energy, whose couplings are a low-rank Gram matrix plus quadratic count penalties so that problems with tens of
thousands of bits never build an n x n matrix.

Annealing schedule (documented contract, see docs/compression.md):
  - R replicas evolve together (vectorised over the replica axis); a sweep is n proposed moves per replica;
  - each move is a single-bit flip or, with probability `swap_fraction`, an exchange of two bits with different
    values (a "swap": it keeps counts, so it can rearrange a mask at low temperature when a count penalty freezes
    single flips);
  - Metropolis acceptance at temperature T; T falls geometrically from t_start to t_end over the sweeps;
  - t_start defaults to median |flip delta| at the starting state / ln 2 (half of the typical uphill moves
    accepted), t_end to t_start * 1e-4;
  - with `tempering`, replica k runs at T * ladder**(k / (R - 1)) and neighbouring replicas exchange states after
    every sweep with probability min(1, exp((1/T_a - 1/T_b) (E_a - E_b))) (parallel tempering, the classical
    replica analogue of path-integral tunnelling);
  - the lowest-energy state ever visited is returned after a zero-temperature polish (best single flips, then a
    sweep of random swaps, repeated until a round improves nothing, at most 5 rounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinyqi.errors import TinyqiError


class _State:
    """Replica states (R, n) as int8 bits plus whatever cache the energy keeps."""

    def __init__(self, x: np.ndarray):
        self.x = x.astype(np.int8)
        self.rows = np.arange(x.shape[0])


class DenseQubo:
    """E(x) = offset + h.x + x^T Q x with an explicit symmetric Q (small problems)."""

    def __init__(self, q: np.ndarray, h: np.ndarray | None = None, offset: float = 0.0):
        q = np.asarray(q, dtype=np.float64)
        if q.ndim != 2 or q.shape[0] != q.shape[1]:
            raise TinyqiError(f"QUBO matrix: must be square, got shape {q.shape}; pass an n x n matrix")
        self.q = (q + q.T) / 2
        self.n = q.shape[0]
        self.h = np.zeros(self.n) if h is None else np.asarray(h, dtype=np.float64)
        self.offset = float(offset)
        self._diag = np.diag(self.q).copy()
        self._off = self.q - np.diag(self._diag)

    def energy(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x).astype(np.float64)
        return self.offset + x @ self.h + np.einsum("ri,ij,rj->r", x, self.q, x)

    def start(self, x: np.ndarray) -> _State:
        st = _State(x)
        st.field = self.h + self._diag + 2 * st.x @ self._off  # (R, n): delta of 0->1 for every bit
        return st

    def flip_delta(self, st: _State, idx: np.ndarray) -> np.ndarray:
        s = 1 - 2 * st.x[st.rows, idx]
        return s * st.field[st.rows, idx]

    def pair_coupling(self, st: _State, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return self._off[i, j]

    def partner(self, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.minimum((u * self.n).astype(np.int64), self.n - 1)

    def all_flip_deltas(self, st: _State) -> np.ndarray:
        return (1 - 2 * st.x[0]) * st.field[0]

    def apply(self, st: _State, rows: np.ndarray, idx: np.ndarray) -> None:
        s = 1 - 2 * st.x[rows, idx]
        st.x[rows, idx] += s
        st.field[rows] += 2 * s[:, None] * self._off[idx]  # rows are distinct replicas


class LowRankQubo:
    """E(x) = h.x + ||x @ A||^2 + sum_g lam_g (count_g(x) - target_g)^2, with bits grouped into layers.

    A is (n, k) with k << n; group 0 is every bit (the overall budget), group 1 + layer_of[i] is bit i's layer.
    Swap moves pair a bit with a random bit of its `swap_group` (default: any bit), e.g. the same output row when
    every row must keep its count.
    """

    def __init__(self, h, a, layer_of, lam_total: float, target_total: float, lam_layer, target_layer,
                 swap_group=None):
        self.h = np.asarray(h, dtype=np.float64)
        self.a = np.ascontiguousarray(a, dtype=np.float64)
        self.n = self.h.size
        self.layer_of = np.asarray(layer_of, dtype=np.int64)
        self.lam = np.concatenate([[lam_total], np.asarray(lam_layer, dtype=np.float64)])
        self.target = np.concatenate([[target_total], np.asarray(target_layer, dtype=np.float64)])
        if self.a.shape[0] != self.n or self.layer_of.shape != (self.n,):
            raise TinyqiError("pruning QUBO: saliency arrays disagree in length; this is a tinyqi bug")
        self._norm2 = np.einsum("ik,ik->i", self.a, self.a)
        self._const = self._norm2 + self.lam[0] + self.lam[1 + self.layer_of]  # flip-delta terms free of s
        group = np.zeros(self.n, np.int64) if swap_group is None else np.asarray(swap_group, dtype=np.int64)
        self._members = np.argsort(group, kind="stable")
        sizes = np.bincount(group)
        self._start = (np.cumsum(sizes) - sizes)[group]
        self._size = sizes[group]

    def partner(self, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A random bit of the same swap group as each bit in `idx` (u: uniforms in [0, 1))."""
        offset = np.minimum((u * self._size[idx]).astype(np.int64), self._size[idx] - 1)
        return self._members[self._start[idx] + offset]

    def all_flip_deltas(self, st: _State) -> np.ndarray:
        """Flip delta of every bit of replica 0 (used by exact budget repair)."""
        x = st.x[0]
        s = 1 - 2 * x.astype(np.float64)
        quad = 2 * s * (self.a @ st.r[0]) + self._norm2
        pen = self.lam[0] * (2 * s * (st.c[0, 0] - self.target[0]) + 1)
        g = 1 + self.layer_of
        pen = pen + self.lam[g] * (2 * s * (st.c[0, g] - self.target[g]) + 1)
        return s * self.h + quad + pen

    def counts(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        layers = np.stack([x[:, self.layer_of == g].sum(1) for g in range(self.lam.size - 1)], 1)
        return np.concatenate([x.sum(1, keepdims=True), layers], 1).astype(np.float64)

    def energy(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x).astype(np.float64)
        r = x @ self.a
        pen = (self.lam * (self.counts(x) - self.target) ** 2).sum(1)
        return x @ self.h + np.einsum("rk,rk->r", r, r) + pen

    def start(self, x: np.ndarray) -> _State:
        st = _State(x)
        st.r = st.x @ self.a
        st.c = self.counts(st.x)
        return st

    def flip_delta(self, st: _State, idx: np.ndarray) -> np.ndarray:
        s = 1.0 - 2.0 * st.x[st.rows, idx]
        g = 1 + self.layer_of[idx]
        # one pass over the terms linear in s: 2 a.r, the two count penalties, h
        lin = 2 * (self.a[idx] * st.r).sum(1) + self.h[idx]
        lin += 2 * self.lam[0] * (st.c[:, 0] - self.target[0]) + 2 * self.lam[g] * (st.c[st.rows, g] - self.target[g])
        return s * lin + self._const[idx]

    def pair_coupling(self, st: _State, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        same = self.layer_of[i] == self.layer_of[j]
        return (self.a[i] * self.a[j]).sum(1) + self.lam[0] + same * self.lam[1 + self.layer_of[i]]

    def apply(self, st: _State, rows: np.ndarray, idx: np.ndarray) -> None:
        s = 1 - 2 * st.x[rows, idx]
        st.x[rows, idx] += s
        st.r[rows] += s[:, None] * self.a[idx]  # rows are distinct replicas
        st.c[rows, 0] += s
        st.c[rows, 1 + self.layer_of[idx]] += s

    def to_dense(self) -> DenseQubo:
        """The same energy as an explicit DenseQubo (tests compare the two on small problems)."""
        q = self.a @ self.a.T
        h = self.h.copy()
        groups = [np.ones(self.n, bool)] + [self.layer_of == g for g in range(self.lam.size - 1)]
        offset = 0.0
        for lam, t, member in zip(self.lam, self.target, groups):
            m = member.astype(np.float64)
            q += lam * np.outer(m, m)
            h -= 2 * lam * t * m
            offset += lam * t * t
        return DenseQubo(q, h, offset)


@dataclass
class AnnealResult:
    x: np.ndarray  # (n,) int8 bits of the best state found
    energy: float
    energies: np.ndarray  # best energy after each sweep (for plots and tests of the schedule)
    t_start: float
    t_end: float


def brute_force(qubo: DenseQubo) -> tuple[np.ndarray, float]:
    """Exact minimum by enumeration (n <= 20): the reference the annealer is tested against."""
    if qubo.n > 20:
        raise TinyqiError(f"brute force: {qubo.n} bits is too many to enumerate; use at most 20")
    states = ((np.arange(2 ** qubo.n)[:, None] >> np.arange(qubo.n)) & 1).astype(np.int8)
    e = qubo.energy(states)
    best = int(np.argmin(e))
    return states[best], float(e[best])


def anneal(energy, *, sweeps: int = 100, replicas: int = 4, seed: int = 0, x0: np.ndarray | None = None,
           swap_fraction: float = 0.5, tempering: bool = False, ladder: float = 10.0,
           t_start: float | None = None, t_end: float | None = None) -> AnnealResult:
    """Minimise `energy` by replica simulated annealing; see the module docstring for the schedule."""
    rng = np.random.default_rng(seed)
    n = energy.n
    if x0 is None:
        x0 = rng.integers(0, 2, size=n)
    st = energy.start(np.tile(np.asarray(x0, dtype=np.int8), (replicas, 1)))
    if t_start is None:
        probe = np.abs(np.concatenate([energy.flip_delta(st, rng.integers(0, n, size=replicas)) for _ in range(64)]))
        t_start = float(np.median(probe[probe > 0])) / math.log(2) if np.any(probe > 0) else 1.0
    t_end = t_start * 1e-4 if t_end is None else t_end
    rungs = ladder ** (np.arange(replicas) / max(replicas - 1, 1)) if tempering else np.ones(replicas)
    e = energy.energy(st.x)
    best_e, best_x = float(e.min()), st.x[int(np.argmin(e))].copy()
    history = np.empty(sweeps)
    for k in range(sweeps):
        t = t_start * (t_end / t_start) ** (k / max(sweeps - 1, 1))
        e += _sweep(energy, st, rng, t * rungs, swap_fraction)
        if tempering:
            _exchange(st, energy, e, t * rungs, rng)
        if e.min() < best_e:
            best_e, best_x = float(e.min()), st.x[int(np.argmin(e))].copy()
        history[k] = best_e
    x, e_final = polish(energy, best_x, rng, swap_fraction)  # only ever lowers the energy of best_x
    return AnnealResult(x, e_final, history, t_start, t_end)


def polish(energy, x: np.ndarray, rng, swap_fraction: float = 0.5, max_sweeps: int = 5) -> tuple[np.ndarray, float]:
    """Zero-temperature descent until a sweep improves nothing: best single flips first (skipped when only swaps
    are allowed, swap_fraction == 1, because flips would break the counts swaps keep), then random swaps."""
    st = energy.start(np.asarray(x, dtype=np.int8)[None, :])
    zero = np.zeros(1)
    for _ in range(max_sweeps):
        improved = False
        while swap_fraction < 1:
            deltas = energy.all_flip_deltas(st)
            best = int(np.argmin(deltas))
            if deltas[best] >= -1e-12:
                break
            energy.apply(st, st.rows, np.array([best]))
            improved = True
        if swap_fraction > 0 and _sweep(energy, st, rng, zero, 1.0)[0] < -1e-12:
            improved = True
        if not improved:
            break
    return st.x[0].copy(), float(energy.energy(st.x)[0])


def _sweep(energy, st: _State, rng, temps: np.ndarray, swap_fraction: float) -> np.ndarray:
    """n Metropolis moves per replica at per-replica temperatures `temps` (0 = greedy); returns energy changes."""
    n, r = energy.n, st.x.shape[0]
    total = np.zeros(r)
    is_swap = rng.random(n) < swap_fraction
    first = rng.integers(0, n, size=(n, r))
    partner_u = rng.random((n, r))
    log_u = np.log(rng.random((n, r)))
    for step in range(n):
        i = first[step]
        delta = energy.flip_delta(st, i)
        if is_swap[step]:
            j = energy.partner(i, partner_u[step])
            valid = st.x[st.rows, i] != st.x[st.rows, j]
            # the bits differ, so s_j = -s_i and the pair term 2 s_i s_j Q_ij is -2 Q_ij
            delta = delta + energy.flip_delta(st, j) - 2 * energy.pair_coupling(st, i, j)
        accept = _metropolis(delta, temps, log_u[step])
        if is_swap[step]:
            accept &= valid
        rows = st.rows[accept]
        if rows.size:
            energy.apply(st, rows, i[accept])
            if is_swap[step]:
                energy.apply(st, rows, j[accept])
            total[accept] += delta[accept]
    return total


def _metropolis(delta: np.ndarray, temps: np.ndarray, log_u: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        uphill_ok = np.where(temps > 0, log_u * temps < -delta, False)
    return (delta < 0) | uphill_ok


def _exchange(st: _State, energy, e: np.ndarray, temps: np.ndarray, rng) -> None:
    """Replica exchange between neighbouring temperatures (states move, temperatures stay)."""
    for k in range(len(temps) - 1):
        arg = (1 / temps[k] - 1 / temps[k + 1]) * (e[k] - e[k + 1])
        if arg >= 0 or rng.random() < math.exp(arg):
            order = np.arange(len(temps))
            order[[k, k + 1]] = [k + 1, k]
            _permute(st, order)
            e[[k, k + 1]] = e[[k + 1, k]]


def _permute(st: _State, order: np.ndarray) -> None:
    for name, value in vars(st).items():
        if name != "rows" and isinstance(value, np.ndarray) and value.ndim == 2:
            setattr(st, name, value[order])
