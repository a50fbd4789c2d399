"""MIT-BIH Arrhythmia Database -> beats for inter-patient arrhythmia classification (AAMI EC57 classes).

Pipeline per record (lead MLII, 360 Hz):
  1. band-pass 0.5-40 Hz (2nd-order Butterworth, zero-phase): removes baseline wander and mains/EMG noise;
  2. decimate to 180 Hz (every 2nd sample; the signal is already band-limited to 40 Hz);
  3. one beat per annotated beat symbol: a window of BEFORE + AFTER samples around the R peak (0.25 s before,
     0.46 s after), mean removed, in mV;
  4. RR context from all beat annotations, as ratios to this patient's own rhythm (absolute intervals do not
     transfer between patients): pre-RR and post-RR over the local RR (mean of the last 10 pre-RRs), pre-RR,
     post-RR and local RR over the average RR of the previous 5 minutes (causal). Supraventricular beats are
     recognised by their timing far more than by their shape.
Beats without a previous and next beat (record edges) or whose window leaves the record are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from tinyqi.errors import TinyqiError

FS = 360
DECIMATION = 2
BEFORE, AFTER = 45, 83  # samples at 180 Hz around the R peak: 0.25 s + 0.46 s = 128 samples
WINDOW = BEFORE + AFTER
# Channel 1 is the beat minus the mean of the previous TEMPLATE_BEATS windows (causal, cheap on a device): it
# shows how a beat differs from this patient's usual beat, which transfers across patients better than raw shape.
TEMPLATE_BEATS = 16
CHANNELS = 2
RR_FEATURES = ["pre_over_local", "post_over_local", "pre_over_avg", "post_over_avg", "local_over_avg"]
CLASSES = ["N", "S", "V", "F", "Q"]
# AAMI EC57 mapping of MIT-BIH beat symbols; every other annotation (rhythm, noise, comments) is not a beat.
AAMI = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N", "B": "N",
    "A": "S", "a": "S", "J": "S", "S": "S", "n": "S",
    "V": "V", "E": "V", "r": "V",
    "F": "F",
    "/": "Q", "f": "Q", "Q": "Q", "?": "Q",
}
# de Chazal et al. 2004 inter-patient split; paced records 102, 104, 107, 217 are excluded (AAMI recommendation).
DS1 = ["101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203", "205",
       "207", "208", "209", "215", "220", "223", "230"]
DS2 = ["100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212", "213", "214", "219",
       "221", "222", "228", "231", "232", "233", "234"]
PACED = ["102", "104", "107", "217"]
ALL_RECORDS = sorted(DS1 + DS2 + PACED)
LOCAL_BEATS = 10
AVERAGE_SECONDS = 300.0


@dataclass
class Record:
    name: str
    signal_mv: np.ndarray  # lead MLII at FS
    ann_sample: np.ndarray  # annotation positions (samples at FS)
    ann_symbol: np.ndarray  # annotation symbols (str)


@dataclass
class Beats:
    waveform: np.ndarray  # (n, WINDOW, 1) float32, mV
    rr: np.ndarray  # (n, len(RR_FEATURES)) float32
    label: np.ndarray  # (n,) int index into CLASSES
    record: np.ndarray  # (n,) record name of each beat


def beat_class_counts(symbols) -> dict[str, int]:
    """AAMI class counts of a record's annotation symbols (non-beat annotations skipped)."""
    counts = dict.fromkeys(CLASSES, 0)
    for s in symbols:
        if s in AAMI:
            counts[AAMI[s]] += 1
    return counts


def read_wfdb_record(folder: Path, name: str) -> Record:
    import wfdb

    base = folder / name
    for ext in ("hea", "dat", "atr"):
        if not base.with_suffix(f".{ext}").is_file():
            raise TinyqiError(f"{base}.{ext}: missing; run `tinyqi data fetch mitdb` (or --from a local copy)")
    _check_dat_size(base)
    try:
        rec = wfdb.rdrecord(str(base))
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise TinyqiError(f"{base}: cannot read the WFDB record ({type(exc).__name__}: {exc}); the files are "
                          "damaged: fetch the record again") from None
    if "MLII" not in rec.sig_name:
        raise TinyqiError(f"{base}.hea: no MLII lead (leads {rec.sig_name}); tinyqi uses lead MLII")
    lead = rec.sig_name.index("MLII")
    return Record(name, rec.p_signal[:, lead].astype(np.float64), np.asarray(ann.sample), np.asarray(ann.symbol))


_BITS_PER_SAMPLE = {"212": 12, "16": 16, "80": 8}


def _check_dat_size(base: Path) -> None:
    """A short .dat makes wfdb fail obscurely (or read garbage); compare its size with what the header promises."""
    lines = [l for l in base.with_suffix(".hea").read_text().splitlines() if l.strip() and not l.startswith("#")]
    n_signals, n_samples = int(lines[0].split()[1]), int(lines[0].split()[3])
    fmts = [l.split()[1].split("x")[0].split(":")[0] for l in lines[1 : 1 + n_signals]]
    if any(f not in _BITS_PER_SAMPLE for f in fmts):
        raise TinyqiError(f"{base}.hea: signal format {fmts} is not one MIT-BIH uses (212); is this MIT-BIH?")
    expected = n_samples * sum(_BITS_PER_SAMPLE[f] for f in fmts) // 8
    actual = base.with_suffix(".dat").stat().st_size
    if actual != expected:
        raise TinyqiError(f"{base}.dat: {actual} bytes, the header promises {expected}; the file is truncated or "
                          "damaged: fetch the record again")


def preprocess(signal_mv: np.ndarray) -> np.ndarray:
    """Band-pass 0.5-40 Hz at FS, then decimate to FS / DECIMATION."""
    sos = signal.butter(2, [0.5, 40.0], btype="bandpass", fs=FS, output="sos")
    return signal.sosfiltfilt(sos, signal_mv)[::DECIMATION]


def rr_features(beat_samples: np.ndarray) -> np.ndarray:
    """(n, 5) RR_FEATURES for beats 1..n-2 of a record's beat positions (samples at FS); rows 0 and n-1 are NaN."""
    t = beat_samples / FS
    rr = np.diff(t)
    n = len(t)
    feats = np.full((n, len(RR_FEATURES)), np.nan)
    for i in range(1, n - 1):
        pre, post = rr[i - 1], rr[i]
        local = rr[max(0, i - LOCAL_BEATS) : i].mean()
        window = (t[1:i + 1] >= t[i] - AVERAGE_SECONDS)
        average = rr[: i][window].mean()
        feats[i] = (pre / local, post / local, pre / average, post / average, local / average)
    return feats


def extract_beats(record: Record) -> Beats:
    """Beats of one record: waveform channels (beat, beat minus the running template) and RR features."""
    x = preprocess(record.signal_mv)
    is_beat = np.array([s in AAMI for s in record.ann_symbol])
    samples, symbols = record.ann_sample[is_beat], record.ann_symbol[is_beat]
    rr = rr_features(samples)
    waves, feats, labels = [], [], []
    recent: list[np.ndarray] = []  # windows of the previous TEMPLATE_BEATS beats, any class (mostly normal)
    for i, (pos, sym) in enumerate(zip(samples, symbols)):
        centre = pos // DECIMATION
        lo, hi = centre - BEFORE, centre + AFTER
        if lo < 0 or hi > len(x):
            continue
        w = x[lo:hi] - x[lo:hi].mean()
        template = np.mean(recent, axis=0) if recent else w
        recent = (recent + [w])[-TEMPLATE_BEATS:]
        if np.isnan(rr[i, 0]):
            continue
        waves.append(np.stack([w, w - template], axis=-1))
        feats.append(rr[i])
        labels.append(CLASSES.index(AAMI[sym]))
    n = len(labels)
    return Beats(
        np.asarray(waves, dtype=np.float32).reshape(n, WINDOW, CHANNELS),
        np.asarray(feats, dtype=np.float32).reshape(n, len(RR_FEATURES)),
        np.asarray(labels, dtype=np.int64),
        np.full(n, record.name),
    )


def concat_beats(parts: list[Beats]) -> Beats:
    return Beats(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("waveform", "rr", "label", "record")))
