"""MIT-BIH Noise Stress Test Database noise (`bw` baseline wander, `ma` muscle artifact) added to MIT-BIH records at
a chosen signal-to-noise ratio, scaled exactly as PhysioNet's `nst` scales it.

Scaling. The database's description (`nstdb.txt`, G. Moody 1992) gives the SNR of its records and defers the
definition of "signal-to-noise ratio, and nst" to the ECG Database Applications Guide, i.e. WFDB's `nst(1)`, which
measures S with `sigamp(1)`. Implemented here as written there: S = (peak-to-peak QRS amplitude)^2 / 8, the
amplitude being sigamp's trimmed mean over the first 300 normal QRS complexes (50 ms either side of each
annotation); N = (sigamp's trimmed-mean RMS of the noise over its first 300 one-second chunks)^2, times a^2 for a
noise gain a; SNR = 10 log10(S / (N a^2)), solved for a (nst.c: nsr = 10^(-SNR/20) sqrt(2)/4, a = nsr S_pp / N_rms).
Both in ADC counts, as nst runs sigamp without -p.

The noise goes into the raw ADC samples of the record (lead MLII, counts minus the ADC zero), so the device's whole
chain (filters, QRS detector, fiducial point, features) sees it, as on a device. Where the noise comes from, the
scaling and how to run it: docs/signal.md ("Noise robustness") and datasets/nstdb/README.md.

Differences from `nst` (stated so nobody mistakes these records for the database's own noisy records): the noise runs
through the whole record (nst's standard protocol keeps the first 5 minutes clean, then alternates 2 noisy and 2
clean minutes), and it starts at a per-record offset into the 30-minute noise record (nst starts every record at its
beginning), so that the 22 test records do not all get the same noise.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from tinyqi.data import mitdb, store
from tinyqi.errors import TinyqiError
from tinyqi.signal import ecg as chain

NAME = "nstdb"
PHYSIONET_URL = "https://physionet.org/files/nstdb/1.0.0/"
NOISES = {"ma": "muscle artifact (EMG)", "bw": "baseline wander"}  # the electrode-motion record `em` is not fetched
NOISE_SIGNAL = 0  # `noise1`: nst pairs clean signal 0 (MLII in MIT-BIH) with noise signal 0
# MIT-BIH records: 11-bit ADC, ADC zero 1024 (every record's header): counts minus the zero lie in [-1024, 1023].
ADC_MIN, ADC_MAX = -1024, 1023
# sigamp's defaults as nst runs it: the first 300 measurements, trimmed by 5 % at each end.
MEASUREMENTS = 300
QRS_HALF_WINDOW_S = 0.05  # peak-to-peak over 50 ms before to 50 ms after each QRS annotation
NOISE_CHUNK_S = 1.0  # RMS about the mean of consecutive one-second chunks
# Annotation symbols that WFDB's map1() maps to NORMAL (lib/ecgmap.h): the "normal QRS complexes" sigamp measures.
# Codes 1-4, 7-9, 11-13, 25, 34, 35, 38: N L R a J A S j / Q B e n f.
NST_NORMAL_SYMBOLS = frozenset("NLRaJASj/QBenf")


def noise_folder(data_dir=None) -> Path:
    """The folder holding the noise records, after checking they are there (`tinyqi data fetch nstdb`)."""
    folder = store.dataset_dir(NAME, data_dir)
    missing = [f for f in store.checksums(NAME) if not (folder / f).is_file()]
    if missing:
        raise TinyqiError(f"{folder}: no MIT-BIH Noise Stress Test noise records there ({', '.join(missing)} missing); "
                          "run `tinyqi data fetch nstdb` (or --from DIR), or pass --data-dir / set TINYQI_DATA")
    return folder


def read_noise(folder: Path, name: str) -> np.ndarray:
    """Signal `noise1` of the noise record `name` (bw, ma) in ADC counts (int64), read by mitdb's WFDB reader."""
    if name not in NOISES:
        raise TinyqiError(f"noise '{name}': unknown; use one of {', '.join(NOISES)}")
    base = Path(folder) / name
    for ext in ("hea", "dat"):
        if not base.with_suffix(f".{ext}").is_file():
            raise TinyqiError(f"{base}.{ext}: missing; run `tinyqi data fetch nstdb` (or --from a local copy)")
    rec, fmts = mitdb.read_wfdb_signals(base)
    if float(rec.fs) != chain.FS_IN or float(rec.adc_gain[NOISE_SIGNAL]) != chain.COUNTS_PER_MV:
        raise TinyqiError(f"{base}.hea: {rec.fs:g} Hz, {rec.adc_gain[NOISE_SIGNAL]:g} counts per mV; nst's scaling "
                          f"is in ADC counts of records at {chain.FS_IN} Hz, {chain.COUNTS_PER_MV} counts per mV: "
                          "fetch the PhysioNet noise record again")
    counts = mitdb.adc_counts(rec, fmts, NOISE_SIGNAL).astype(np.int64)
    if np.any(counts == chain.INVALID):
        raise TinyqiError(f"{base}.dat: invalid samples in {rec.sig_name[NOISE_SIGNAL]}; fetch the noise record again")
    return counts


def trimmed_mean(values) -> float:
    """sigamp's estimate: sort, drop the largest 5 % and the smallest 5 % (n // 20 each), average the rest."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    low = len(v) // 20
    if len(v) - 2 * low <= 0:
        raise TinyqiError("no measurements to average")
    return float(np.mean(v[low : len(v) - low]))


def qrs_amplitude(record: mitdb.Record, fs: int = chain.FS_IN) -> float:
    """sigamp -a atr: peak-to-peak amplitude (ADC counts) of the first 300 normal QRS complexes, each over the window
    50 ms before to 50 ms after its annotation, trimmed mean. Windows holding an invalid sample or running off the
    record are skipped."""
    half = int(round(QRS_HALF_WINDOW_S * fs))
    adc = np.asarray(record.adc, dtype=np.int64)
    amps = []
    for t, symbol in zip(np.asarray(record.ann_sample, dtype=np.int64), record.ann_symbol):
        if len(amps) == MEASUREMENTS:
            break
        if symbol not in NST_NORMAL_SYMBOLS or t - half < 0 or t + half >= len(adc):
            continue
        window = adc[t - half : t + half + 1]
        if np.any(window == chain.INVALID):
            continue
        amps.append(int(window.max() - window.min()))
    if not amps:
        raise TinyqiError(f"record {record.name}: no normal QRS annotation to measure the signal amplitude from "
                          "(nst's SNR is defined by it)")
    return trimmed_mean(amps)


def noise_amplitude(noise: np.ndarray, fs: int = chain.FS_IN) -> float:
    """sigamp -r: RMS amplitude (ADC counts) of the noise, from the first 300 one-second chunks of the record: per
    chunk the RMS of the samples about the chunk's mean (each difference truncated to an integer, as sigamp's C
    does), trimmed mean."""
    chunk = int(round(NOISE_CHUNK_S * fs))
    n = min(MEASUREMENTS, len(noise) // chunk)
    if n == 0:
        raise TinyqiError(f"noise shorter than one {NOISE_CHUNK_S:g} s chunk; nothing to measure")
    x = np.asarray(noise[: n * chunk], dtype=np.float64).reshape(n, chunk)
    dev = np.trunc(x - x.mean(axis=1, keepdims=True))
    return trimmed_mean(np.sqrt(np.mean(dev * dev, axis=1)))


def noise_gain(qrs_pp: float, noise_rms: float, snr_db: float) -> float:
    """nst's gain `a` for the noise: SNR = 10 log10(S / (N a^2)) with S = qrs_pp^2 / 8 (the power of a sinusoid of
    that peak-to-peak amplitude) and N = noise_rms^2, i.e. a = 10^(-SNR/20) * (sqrt(2)/4) * qrs_pp / noise_rms."""
    if noise_rms <= 0:
        raise TinyqiError("the noise amplitude is zero: nst cannot normalise it")
    return float(10.0 ** (-snr_db / 20.0) * np.sqrt(2.0) / 4.0 * qrs_pp / noise_rms)


def snr_db(qrs_pp: float, noise_rms: float) -> float:
    """nst's SNR (dB) of a QRS amplitude and a noise RMS amplitude: 10 log10((qrs_pp^2 / 8) / noise_rms^2)."""
    return float(10.0 * np.log10(qrs_pp**2 / 8.0 / noise_rms**2))


def noise_offset(record_name: str, noise_length: int) -> int:
    """Where in the noise record a record's noise starts: fixed per record name (CRC-32, not Python's salted hash),
    so runs repeat exactly and records do not all get the same stretch of noise."""
    return zlib.crc32(record_name.encode()) % noise_length


def noise_segment(noise: np.ndarray, offset: int, length: int) -> np.ndarray:
    """`length` noise samples from `offset` on (float64, unscaled), wrapping around to the record's start as nst
    `rewinds` it. As nst's offsets do, the segment starts at zero (no step where the noise begins) and continues
    without a step where it wraps (the wrapped part is shifted to start at the last value before the wrap)."""
    noise = np.asarray(noise, dtype=np.float64)
    idx = (offset + np.arange(length)) % len(noise)
    seg = noise[idx] - noise[idx[0]] if length else noise[:0]
    for w in np.flatnonzero(idx == 0):
        if w > 0:
            seg[w:] += seg[w - 1] - seg[w]
    return seg


def add_noise(record: mitdb.Record, noise: np.ndarray, snr: float, noise_rms: float | None = None,
              offset: int | None = None) -> tuple[mitdb.Record, dict]:
    """The record with the noise added at `snr` dB (nst's definition), rounded and clipped to the 11-bit ADC range;
    invalid samples stay invalid. `noise_rms`: noise_amplitude(noise), when the caller measured it already. Returns
    the noisy record and what was done (offset, gain, clipped samples)."""
    noise_rms = noise_amplitude(noise) if noise_rms is None else noise_rms
    gain = noise_gain(qrs_amplitude(record), noise_rms, snr)
    offset = noise_offset(record.name, len(noise)) if offset is None else offset
    clean = np.asarray(record.adc, dtype=np.int64)
    summed = np.rint(clean + gain * noise_segment(noise, offset, len(clean)))
    valid = clean != chain.INVALID
    clipped = int(np.count_nonzero(valid & ((summed < ADC_MIN) | (summed > ADC_MAX))))
    adc = np.where(valid, np.clip(summed, ADC_MIN, ADC_MAX), chain.INVALID).astype(np.int16)
    noisy = mitdb.Record(record.name, adc, record.ann_sample, record.ann_symbol)
    return noisy, {"offset": int(offset), "gain": round(gain, 5), "clipped_samples": clipped}


def fetch_nstdb(from_dir=None, data_dir=None, progress=None) -> Path:
    """The noise records bw and ma (header and signal file each), SHA-256 checked (datasets/nstdb/SHA256SUMS)."""
    return store.fetch(NAME, PHYSIONET_URL, from_dir=from_dir, data_dir=data_dir, progress=progress)
