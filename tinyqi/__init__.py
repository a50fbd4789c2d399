"""tinyqi: quantum-inspired tiny neural networks compiled to bit-exact sparse int8 C for Cortex-M."""

__version__ = "0.1.0"
