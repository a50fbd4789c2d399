"""The vibration device chain, integer reference: raw accelerometer counts in, one int8 model input per window out.

The device reads int16 samples from the accelerometer's FIFO at the model rate and cuts them into windows; for each
window it removes the window's own mean (the sensor offset, which differs by mounting and recording) and scales to
int8 with a fixed full scale (no per-window gain: the amplitude carries the fault severity). The C twin
(firmware/lib/tinyqi/src/tq_vibration_window.c, state struct in tq_vibration.h) takes the samples one at a time;
here the windows are computed vectorised (the same integers: a sum is the same whichever way it is added up).
Spec: docs/signal.md, section "Vibration".

Input: int16 counts at RATE_HZ, COUNTS_PER_G counts per g (a +-2 g, 16-bit accelerometer such as the LIS2DW12 or
LSM6DSO at +-2 g: 61 µg per count). Recordings in g become counts with `counts_from_g`, which saturates at the
sensor's range as the sensor would. Per window of WINDOW samples (one every `hop` samples, the first when WINDOW
samples have arrived):
  mean    = (sum + WINDOW / 2) >> WINDOW_SHIFT                      (rounded, floor shift)
  x8[i]   = sat8((x[i] - mean + 2^(INPUT_SHIFT-1)) >> INPUT_SHIFT)    (one int8 step = FULL_SCALE_G / 128 g)
The model is converted with input scale INPUT_SCALE = 1/128 and zero point 0, so these ints ARE its int8 inputs:
int8 * INPUT_SCALE = (x - mean) / FULL_SCALE_G in g, clipped to [-1, 1) (what the float path computed before).
"""

from __future__ import annotations

import numpy as np

from tinyqi.errors import TinyqiError

RATE_HZ = 12_000  # the model rate (every CWRU fault file is 12 kHz drive end)
COUNTS_PER_G = 16_384  # +-2 g in 16 bits: 2^14 counts per g, 61 µg per count
FULL_SCALE_G = 2  # int8 full scale: 2 g / 128 = 0.016 g per step
INPUT_ONE = 128  # int8 steps per full scale
INPUT_SCALE = 1.0 / INPUT_ONE  # the model's input scale (zero point 0): int8 * INPUT_SCALE = centred g / FULL_SCALE_G
INPUT_SHIFT = 8  # log2(COUNTS_PER_G * FULL_SCALE_G / INPUT_ONE): 256 counts per int8 step
WINDOW = 1024  # 85 ms at 12 kHz; a power of two, so the mean is a shift
WINDOW_SHIFT = 10  # log2(WINDOW)
HOP = WINDOW  # the device's default: back-to-back windows, as the test windows (training uses WINDOW // 4)
INT16_MIN, INT16_MAX = -32768, 32767

assert COUNTS_PER_G * FULL_SCALE_G == INPUT_ONE << INPUT_SHIFT and WINDOW == 1 << WINDOW_SHIFT


def counts_from_g(signal_g: np.ndarray) -> np.ndarray:
    """Acceleration in g -> the sensor's int16 counts: round(g * COUNTS_PER_G), saturated at the +-2 g range."""
    x = np.asarray(signal_g, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise TinyqiError("vibration chain input: the signal has NaN or infinite values; pass finite g values")
    return np.clip(np.round(x * COUNTS_PER_G), INT16_MIN, INT16_MAX).astype(np.int16)


def window_starts(n_samples: int, hop: int = HOP, window: int = WINDOW) -> np.ndarray:
    """First sample of every window the device emits from `n_samples` samples: 0, hop, 2 hop, ... while complete."""
    if int(hop) < 1:
        raise TinyqiError(f"vibration chain: hop {hop}: use at least 1 sample (default {HOP})")
    return np.arange(0, n_samples - window + 1, int(hop), dtype=np.int64)


def windows(counts: np.ndarray, hop: int = HOP, window: int = WINDOW) -> np.ndarray:
    """The chain over one stream of int16 counts: (n_windows, window) int8 model inputs, oldest sample first.

    `window` is the device's WINDOW; another power of two (the loader's `window` option) gives the same chain at
    that length (the mean's shift is log2(window)); the C is built for WINDOW only."""
    x = np.asarray(counts)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.integer) or x.size and (x.min() < INT16_MIN
                                                                          or x.max() > INT16_MAX):
        raise TinyqiError("vibration chain input: expected a 1-D array of int16 accelerometer counts; convert g "
                          "with counts_from_g first")
    if window < 2 or window & (window - 1) or window > 1 << 16:
        raise TinyqiError(f"vibration chain: window {window}: the device's mean is a shift; use a power of two "
                          f"(default {WINDOW})")
    shift = window.bit_length() - 1
    starts = window_starts(len(x), hop, window)
    w = x.astype(np.int32)[starts[:, None] + np.arange(window)[None, :]]  # |sum| <= 2^15 * window: int32 to 2^16
    mean = (w.sum(axis=1, keepdims=True) + (window >> 1)) >> shift
    centred = w - mean
    return np.clip((centred + (1 << (INPUT_SHIFT - 1))) >> INPUT_SHIFT, -128, 127).astype(np.int8)


def model_inputs(x8: np.ndarray) -> np.ndarray:
    """int8 windows -> the float32 model inputs (n, window, 1) the float model trains on: int8 * INPUT_SCALE, exact."""
    return (np.asarray(x8, np.float32) * np.float32(INPUT_SCALE))[..., None]
