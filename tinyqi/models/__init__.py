"""Keras model builders: the ECG/vibration baselines (ecg.py) and quantum-inspired blocks (qinn.py)."""
