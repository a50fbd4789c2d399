"""The device's causal signal chains, as integer Python references (training and scoring use these) that the C in
firmware/lib/tinyqi (tq_ecg_*.c, tq_vibration_window.c) matches bit for bit. One vocabulary: every constant and
stage name here is the one the C uses. Specification: docs/signal.md."""
