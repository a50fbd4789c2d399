"""The annealer against exact minima of small QUBOs, and the pruning energy's bookkeeping against its dense form."""

import numpy as np
import pytest

from tinyqi.compress.anneal import DenseQubo, LowRankQubo, anneal, brute_force
from tinyqi.errors import TinyqiError


def random_qubo(n: int, seed: int) -> DenseQubo:
    rng = np.random.default_rng(seed)
    return DenseQubo(rng.normal(size=(n, n)), 2 * rng.normal(size=n), offset=rng.normal())


def random_lowrank(n: int, seed: int, swap_group=None) -> LowRankQubo:
    rng = np.random.default_rng(seed)
    layer_of = rng.integers(0, 3, n)
    return LowRankQubo(rng.normal(size=n), rng.normal(size=(n, 4)), layer_of, 1.5, n // 2,
                       [0.7, 0.0, 0.3], [n // 6, n // 6, n // 6], swap_group)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [12, 16])
def test_anneal_reaches_the_brute_force_optimum(n, seed):
    qubo = random_qubo(n, seed)
    x_best, e_best = brute_force(qubo)
    result = anneal(qubo, sweeps=60, replicas=4, seed=seed)
    assert result.energy == pytest.approx(e_best, abs=1e-9)
    assert float(qubo.energy(result.x)[0]) == pytest.approx(e_best, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_parallel_tempering_reaches_the_optimum_of_the_pruning_energy(seed):
    energy = random_lowrank(14, seed)
    _, e_best = brute_force(energy.to_dense())
    result = anneal(energy, sweeps=60, replicas=4, seed=seed, tempering=True)
    assert result.energy == pytest.approx(e_best, abs=1e-9)


def test_lowrank_energy_matches_its_dense_qubo():
    energy = random_lowrank(15, 0)
    x = np.random.default_rng(1).integers(0, 2, (20, 15))
    np.testing.assert_allclose(energy.energy(x), energy.to_dense().energy(x), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("make", [lambda: random_qubo(10, 3), lambda: random_lowrank(10, 3)])
def test_flip_and_pair_deltas_are_exact_energy_differences(make):
    energy = make()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (3, energy.n)).astype(np.int8)
    st = energy.start(x)
    for i in range(energy.n):
        idx = np.full(3, i)
        flipped = x.copy()
        flipped[:, i] ^= 1
        np.testing.assert_allclose(energy.flip_delta(st, idx), energy.energy(flipped) - energy.energy(x), atol=1e-9)
    i, j = np.array([0, 1, 2]), np.array([5, 6, 7])
    both = x.copy()
    both[st.rows, i] ^= 1
    both[st.rows, j] ^= 1
    s_i, s_j = 1 - 2 * x[st.rows, i], 1 - 2 * x[st.rows, j]
    pair = energy.flip_delta(st, i) + energy.flip_delta(st, j) + 2 * s_i * s_j * energy.pair_coupling(st, i, j)
    np.testing.assert_allclose(pair, energy.energy(both) - energy.energy(x), atol=1e-9)
    energy.apply(st, st.rows, i)  # the cached state follows the flips
    x[st.rows, i] ^= 1
    np.testing.assert_allclose(energy.start(x).x, st.x)
    np.testing.assert_allclose(energy.flip_delta(st, j), energy.flip_delta(energy.start(x), j), atol=1e-9)


def test_swap_only_annealing_keeps_every_group_count():
    n = 16
    groups = np.arange(n) // 4
    energy = random_lowrank(n, 2, swap_group=groups)
    x0 = np.tile([1, 0, 0, 1], 4).astype(np.int8)
    result = anneal(energy, sweeps=30, replicas=3, seed=0, x0=x0, swap_fraction=1.0)
    assert np.bincount(groups, weights=result.x).tolist() == [2, 2, 2, 2]
    # and it is the best state with those counts
    states = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
    feasible = states[np.all(np.stack([states[:, groups == g].sum(1) == 2 for g in range(4)]), axis=0)]
    assert result.energy == pytest.approx(float(energy.energy(feasible).min()), abs=1e-9)


def test_best_energy_history_never_rises_and_the_schedule_cools():
    result = anneal(random_qubo(30, 7), sweeps=40, replicas=2, seed=1)
    assert np.all(np.diff(result.energies) <= 1e-12)
    assert result.t_end == pytest.approx(result.t_start * 1e-4)
    assert result.energy <= result.energies[-1] + 1e-12


def test_brute_force_refuses_large_problems():
    with pytest.raises(TinyqiError, match="too many"):
        brute_force(random_qubo(21, 0))
