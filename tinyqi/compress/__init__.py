"""Quantum-inspired compression: QUBO mask search by annealing (anneal, prune), low rank (lowrank), costs
(storage) and the variant pipeline (pipeline). See docs/compression.md."""
