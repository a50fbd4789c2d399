"""MIT-BIH Arrhythmia Database -> beats as the device finds and describes them (AAMI EC57 classes).

Per record: the raw lead-MLII ADC samples (counts minus the ADC zero, 360 Hz, 200 counts/mV, all read from the
record's header and checked) go through the device's own causal integer chain (tinyqi.signal.ecg: filters, QRS
detector, fiducial point, beat window, running template, RR ratios). The model's inputs are exactly what that chain
computes. Annotations are used for labels and scoring only: each detected beat is matched to a reference beat
within 150 ms (EC57); unmatched detections are false detections, unmatched reference beats missed beats.

`beats="annotated"` runs the same chain stages on the reference R-peak positions instead of the detector's: the
labelled comparison with the annotated-beat figures of the literature, never the device's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi.errors import TinyqiError
from tinyqi.signal import ecg as chain
from tinyqi.signal import match

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
BEAT_SOURCES = ("detected", "annotated")
LEAD = "MLII"
# The WFDB "invalid sample" value of each storage format (lead off, ADC fault).
_INVALID_DIGITAL = {"212": -2048, "16": -32768, "80": -128}
_BITS_PER_SAMPLE = {"212": 12, "16": 16, "80": 8}


@dataclass
class Record:
    name: str
    adc: np.ndarray  # int16: lead MLII, counts minus the ADC zero, chain.INVALID where the record has no value
    ann_sample: np.ndarray  # annotation positions (input samples)
    ann_symbol: np.ndarray  # annotation symbols (str)

    def reference_beats(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and AAMI class indices of the annotated beats."""
        is_beat = np.array([s in AAMI for s in self.ann_symbol], dtype=bool)
        labels = np.array([CLASSES.index(AAMI[s]) for s in self.ann_symbol[is_beat]], dtype=np.int64)
        return np.asarray(self.ann_sample)[is_beat].astype(np.int64), labels


@dataclass
class Beats:
    """The described beats of one or more records, and what scoring needs about the rest."""
    x0: np.ndarray  # (n, WINDOW, len(WAVE_CHANNELS)) int8: beat minus template
    x1: np.ndarray  # (n, len(RR_FEATURES)) int8: RR features (ecg.RR_FEATURES: Q5 ratios, a Q7 fraction)
    label: np.ndarray  # (n,) AAMI class of the matched reference beat, -1 for a false detection
    record: np.ndarray  # (n,) record name
    sample: np.ndarray  # (n,) input sample index of the beat's fiducial point
    missed: np.ndarray  # (len(CLASSES),) scored reference beats of each class that got no described beat
    detection: dict  # QRS detection TP / FN / FP in the scored range (every detection, described or not)


def beat_class_counts(symbols) -> dict[str, int]:
    """AAMI class counts of a record's annotation symbols (non-beat annotations skipped)."""
    counts = dict.fromkeys(CLASSES, 0)
    for s in symbols:
        if s in AAMI:
            counts[AAMI[s]] += 1
    return counts


def read_wfdb_record(folder: Path, name: str, any_lead: bool = False) -> Record:
    """Lead MLII of a record. `any_lead`: the first signal when there is no MLII (102 and 104 have V5): for QRS
    detection over all 48 records, as detector papers do, never for classification."""
    import wfdb

    base = Path(folder) / name
    for ext in ("hea", "dat", "atr"):
        if not base.with_suffix(f".{ext}").is_file():
            raise TinyqiError(f"{base}.{ext}: missing; run `tinyqi data fetch mitdb` (or --from a local copy)")
    rec, fmts = read_wfdb_signals(base)
    try:
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise TinyqiError(_damaged(base, exc)) from None
    if LEAD not in rec.sig_name and not any_lead:
        raise TinyqiError(f"{base}.hea: no {LEAD} lead (leads {rec.sig_name}); tinyqi's ECG chain is tuned for lead "
                          f"{LEAD}: use a record that has it")
    lead = rec.sig_name.index(LEAD) if LEAD in rec.sig_name else 0
    _check_scale(base, float(rec.fs), float(rec.adc_gain[lead]))
    return Record(name, adc_counts(rec, fmts, lead), np.asarray(ann.sample), np.asarray(ann.symbol))


def read_wfdb_signals(base: Path):
    """The digital samples of the WFDB record `base` (a wfdb.Record read with physical=False) after the header
    checks, and each signal's storage format. Shared with the noise stress test's noise records (nstdb.py)."""
    import wfdb

    fmts = _check_header(base)
    try:
        return wfdb.rdrecord(str(base), physical=False), fmts
    except Exception as exc:
        raise TinyqiError(_damaged(base, exc)) from None


def adc_counts(rec, fmts: list[str], index: int) -> np.ndarray:
    """Signal `index` of a read_wfdb_signals record as int16 counts minus its baseline (the ADC zero), chain.INVALID
    where the record has no value."""
    digital = rec.d_signal[:, index].astype(np.int64)
    adc = np.where(digital == _INVALID_DIGITAL[fmts[index]], chain.INVALID,
                   np.clip(digital - int(rec.baseline[index]), -32767, 32767))
    return adc.astype(np.int16)


def _damaged(base: Path, exc: Exception) -> str:
    return (f"{base}: cannot read the WFDB record ({type(exc).__name__}: {exc}); the files are damaged: fetch the "
            "record again")


def _check_scale(base: Path, fs: float, gain: float) -> None:
    """The chain's filters and thresholds are integer designs for one rate and one amplitude scale: never run a
    record at the wrong ones silently."""
    if fs != chain.FS_IN:
        raise TinyqiError(f"{base}.hea: sampled at {fs:g} Hz, the ECG chain runs at {chain.FS_IN} Hz; resample the "
                          f"record to {chain.FS_IN} Hz first")
    if gain != chain.COUNTS_PER_MV:
        raise TinyqiError(f"{base}.hea: lead {LEAD} has {gain:g} ADC counts per mV, the ECG chain expects "
                          f"{chain.COUNTS_PER_MV}; rescale the samples first")


def _check_header(base: Path) -> list[str]:
    """Header sanity before wfdb reads it: text, formats MIT-BIH uses, and a .dat as long as the header promises
    (a short .dat makes wfdb fail obscurely or read garbage). Returns the signals' formats."""
    hea = base.with_suffix(".hea")
    try:
        lines = [l for l in hea.read_text(encoding="ascii").splitlines() if l.strip() and not l.startswith("#")]
        n_signals, n_samples = int(lines[0].split()[1]), int(lines[0].split()[3])
        fmts = [l.split()[1].split("x")[0].split(":")[0].split("+")[0] for l in lines[1 : 1 + n_signals]]
    except (UnicodeDecodeError, ValueError, IndexError):
        raise TinyqiError(f"{hea}: not a WFDB header (record line 'name signals rate samples', then one line per "
                          "signal); fetch the record again") from None
    if len(fmts) != n_signals or any(f not in _BITS_PER_SAMPLE for f in fmts):
        raise TinyqiError(f"{hea}: signal formats {fmts} are not ones MIT-BIH uses (212); is this MIT-BIH?")
    expected = -(-n_samples * sum(_BITS_PER_SAMPLE[f] for f in fmts) // 8)  # a last half byte is padded
    actual = base.with_suffix(".dat").stat().st_size
    if actual != expected:
        raise TinyqiError(f"{base}.dat: {actual} bytes, the header promises {expected}; the file is truncated or "
                          "damaged: fetch the record again")
    return fmts


def extract_beats(record: Record, beats: str = "detected", shift: int = 0) -> Beats:
    """Run the device chain over the record; `shift` moves every fiducial point by that many chain samples
    (180 Hz) before the beats are described: the robustness check for fiducial errors."""
    if beats not in BEAT_SOURCES:
        raise TinyqiError(f"--beats {beats}: unknown; use one of {', '.join(BEAT_SOURCES)}")
    b = chain.filtered(record.adc)
    ref, ref_label = record.reference_beats()
    if beats == "detected":
        fid, at = chain.detected_beats(b)
    else:
        fid = (ref + chain.CHAIN_DELAY + 1) // chain.DECIMATION
        keep = (fid >= chain.DETECT_START) & (fid + chain.AFTER <= len(b))
        fid = fid[keep]
        at = fid
    fid = np.clip(fid + shift, chain.BEFORE, len(b) - chain.AFTER) if len(fid) else fid
    described, x0, x1 = chain.describe(b, fid, at)
    sample = fid * chain.DECIMATION - chain.CHAIN_DELAY
    m = match.match_beats(sample, ref, chain.FS_IN, chain.scored_range(len(record.adc)))
    matched = m.ref_of_det[described]
    label = np.where(matched >= 0, ref_label[np.maximum(matched, 0)], -1)
    got_class = np.zeros(len(ref), bool)
    got_class[matched[matched >= 0]] = True
    missed = np.bincount(ref_label[m.scored_ref & ~got_class], minlength=len(CLASSES))
    return Beats(x0, x1, label, np.full(len(label), record.name), sample[described], missed,
                 match.detection_counts(m))


def concat_beats(parts: list[Beats]) -> Beats:
    """The beats of several records as one; no records: no beats (a split whose records are not loaded)."""
    if not parts:
        parts = [Beats(np.zeros((0, chain.WINDOW, len(chain.WAVE_CHANNELS)), np.int8),
                       np.zeros((0, len(chain.RR_FEATURES)), np.int8), np.zeros(0, np.int64), np.zeros(0, str),
                       np.zeros(0, np.int64), np.zeros(len(CLASSES), np.int64), {"tp": 0, "fn": 0, "fp": 0})]
    arrays = {f: np.concatenate([getattr(p, f) for p in parts]) for f in ("x0", "x1", "label", "record", "sample")}
    missed = np.sum([p.missed for p in parts], axis=0)
    detection = {k: sum(p.detection[k] for p in parts) for k in ("tp", "fn", "fp")}
    x0 = arrays["x0"].reshape(-1, chain.WINDOW, len(chain.WAVE_CHANNELS))
    return Beats(x0, arrays["x1"].reshape(-1, len(chain.RR_FEATURES)),
                 arrays["label"], arrays["record"], arrays["sample"], missed, detection)


def select(beats: Beats, keep: np.ndarray) -> Beats:
    """A subset of the described beats (scoring counts stay those of the records)."""
    return Beats(beats.x0[keep], beats.x1[keep], beats.label[keep], beats.record[keep], beats.sample[keep],
                 beats.missed, beats.detection)
