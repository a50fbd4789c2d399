"""Peer implementations built and run beside tinyqi's own kernels for the benchmark (same harness, toolchain,
flags and engine). Today: CMSIS-NN v4.0.0 (tinyqi.peers.cmsis_nn)."""
