"""Noise augmentation of the ECG training side: every training record is also run through the device chain with
synthetic noise added to its raw samples, at 12 and 6 dB SNR, and the beats the chain finds and describes there
join the training set with their reference labels.

Why: muscle noise makes the chain's inputs unlike anything a clean training set holds (false detections break
the RR features, the beat-minus-template window carries the noise), and the model read a noisy record as
fibrillation or ectopy. Chosen on DS1 only (patient-grouped CV, 3 seeds, held-out folds scored clean and with the
MIT-BIH Noise Stress Test's `ma` noise): N/S/V macro-F1 clean 0.800 -> 0.809, with `ma` at 12 dB 0.677 -> 0.726,
at 6 dB 0.417 -> 0.463, with the detector threshold at 3/8 (docs/signal.md, "Detector threshold and noise in
training").

The noise is white Gaussian noise from a fixed seed, not a recorded noise: the test noise (nstdb `ma`, `bw`) is
never trained on. It is scaled per record exactly as the test noise is (tinyqi.data.nstdb: nst's SNR definition,
a per-record offset, rounded and clipped to the 11-bit ADC range). Only the inter-patient training records get
copies: in the intra-patient split a noisy copy of a record would put its test beats into training."""

from __future__ import annotations

import numpy as np

from tinyqi.data import mitdb, nstdb

SNRS_DB = (12.0, 6.0)
SEED = 12345
SAMPLES = 650_000  # 30 minutes at 360 Hz, as long as the nstdb noise records
NOTE = (f"each training record also with white Gaussian noise (seed {SEED}) added to its raw samples at "
        f"{' and '.join(f'{s:g}' for s in SNRS_DB)} dB SNR (nst's definition, tinyqi.data.nstdb), described by the "
        "device chain; validation and test records are clean")


def synthetic_noise() -> np.ndarray:
    return np.random.default_rng(SEED).normal(0.0, 100.0, SAMPLES)


def noisy_beats(records: dict[str, mitdb.Record], beats: str = "detected", shift: int = 0) -> dict[str, mitdb.Beats]:
    """Per record: the labelled beats the chain describes on its noisy versions (one per SNR), concatenated."""
    noise = synthetic_noise()
    noise_rms = nstdb.noise_amplitude(noise)
    out = {}
    for name, record in records.items():
        versions = [nstdb.add_noise(record, noise, snr, noise_rms)[0] for snr in SNRS_DB]
        described = mitdb.concat_beats([mitdb.extract_beats(v, beats, shift) for v in versions])
        out[name] = mitdb.select(described, described.label >= 0)  # false detections have no label
    return out
