"""CWRU bearing-fault data (12 kHz drive end): reading `.mat` files, windowing, labels and honest load splits.

Dataset card, condition table and the measurements behind every choice here: datasets/cwru/README.md.

- Model input: what the device computes (tinyqi.signal.vibration, the integer reference of the C chain): each
  recording in g becomes the counts of a +-2 g 16-bit accelerometer (saturated at its range), every window loses
  its own mean and is scaled to int8 with a fixed full scale of 2 g; the float model trains on int8 * INPUT_SCALE
  (exact), one float32 array `(N, window, 1)`, and the int8 model's input quantisation is exactly that scale with
  zero point 0, so the device's ints are its inputs. No per-window gain: amplitude is part of the fault signature.
- Splits by motor load: every fault recording lies wholly on the train side or wholly on the test side. The only
  normal recording (97.mat, 0 HP) is split by time instead: train block first, test block last.
- Validation comes from the train side only: the tail of every train-side segment. Windows never cross a cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import scipy.signal

from tinyqi.data import store
from tinyqi.data.dataset import Dataset
from tinyqi.errors import TinyqiError
from tinyqi.files import write_npz
from tinyqi.signal import vibration as chain

NAME = "cwru"
BASE_URL = "https://engineering.case.edu/sites/default/files/"
SAMPLE_PATH = store.REPO_DATASETS / NAME / "sample.npz"

RATE_HZ = chain.RATE_HZ  # the model rate: every fault file is 12 kHz drive end
WINDOW = chain.WINDOW  # 85 ms: ~2.5 shaft turns, ~9 outer-race impacts; a power of two, so the mean is a shift
VAL_FRACTION = 0.10  # tail of each train-side segment
NORMAL_TEST_FRACTION = 0.25  # last quarter of 97.mat, as one load in four is held out for the fault classes
SAMPLE_SECONDS = 2.0  # kept from the start of every fault recording in the bundled sample

LOADS_HP = (0, 1, 2, 3)
NORMAL_FILE = 97
# 97.mat is 48 kHz, not 12 kHz: its shaft line (29.93 Hz) and rig lines (161.7, 191.6, 360.0 Hz) coincide with
# those of the 12 kHz fault files only when it is read at 48 kHz (measurements in datasets/cwru/README.md).
NORMAL_RATE_HZ = 48_000
# Anti-alias low-pass for 48 -> 12 kHz with the roll-off of the 12 kHz recorder itself (measured, see README): the
# normal class then ends near Nyquist like the fault recordings instead of carrying a signature of its own.
ANTI_ALIAS_TAPS = 255
ANTI_ALIAS_CUTOFF_HZ = 5_500
ANTI_ALIAS_KAISER_BETA = 8.0

# First file number (0 HP) per fault and diameter; each extra HP of load adds 1. OR is the outer race at 6:00.
FAULT_FIRST_FILE = {
    ("IR", "007"): 105, ("IR", "014"): 169, ("IR", "021"): 209,
    ("B", "007"): 118, ("B", "014"): 185, ("B", "021"): 222,
    ("OR", "007"): 130, ("OR", "014"): 197, ("OR", "021"): 234,
}
FAULTS = ("IR", "B", "OR")
DIAMETERS = ("007", "014", "021")  # thousandths of an inch
CLASS_NAMES = {
    "10": ["normal"] + [f"{fault}{size}" for fault in FAULTS for size in DIAMETERS],
    "4": ["normal", *FAULTS],
}
ROLES = ("train", "val", "test")
SPLIT_HELP = "use 'load3' (train 0-2 HP, test 3 HP) or 'lolo:<hp>' (leave one load out, hp 0-3)"


@dataclass(frozen=True)
class Recording:
    number: int
    fault: str  # "normal", "IR", "B" or "OR"
    size: str  # fault diameter in thousandths of an inch, "" for normal
    load_hp: int
    rate_hz: int

    @property
    def file(self) -> str:
        return f"{self.number}.mat"

    @property
    def channel(self) -> str:
        return f"X{self.number:03d}_DE_time"

    def label(self, labels: str) -> int:
        name = self.fault if labels == "4" or self.fault == "normal" else f"{self.fault}{self.size}"
        return CLASS_NAMES[labels].index(name)


def _recordings() -> tuple[Recording, ...]:
    normal = Recording(NORMAL_FILE, "normal", "", 0, NORMAL_RATE_HZ)
    faults = [Recording(first + load, fault, size, load, RATE_HZ)
              for (fault, size), first in FAULT_FIRST_FILE.items() for load in LOADS_HP]
    return tuple(sorted([normal, *faults], key=lambda r: r.number))


RECORDINGS = _recordings()


@dataclass(frozen=True)
class Segment:
    """A contiguous stretch [start, stop) of one recording, in model-rate samples, that feeds one role."""

    recording: Recording
    role: str
    start: int
    stop: int

    def hop(self, window: int) -> int:
        return train_stride(window) if self.role == "train" else window

    def window_starts(self, window: int) -> range:
        return range(self.start, self.stop - window + 1, self.hop(window))


def train_stride(window: int) -> int:
    """Training windows overlap by three quarters: every impact is seen at four phases of the window, which lifted the
    held-out load over half overlap (load3, QINN, seed 0, int8 accuracy 0.989 -> 0.993; docs/vibration.md).
    Validation and test windows never overlap."""
    return window // 4


# ---------------------------------------------------------------- reading


def fetch_cwru(from_dir=None, data_dir=None, progress=None) -> Path:
    """Download (or copy from `from_dir`) every file of datasets/cwru/SHA256SUMS, each checked by its SHA-256."""
    return store.fetch(NAME, BASE_URL, from_dir=from_dir, data_dir=data_dir, progress=progress)


def read_drive_end(path: Path, recording: Recording) -> np.ndarray:
    """The drive-end acceleration of one CWRU `.mat` file in g (float64, 1-D)."""
    try:
        mat = scipy.io.loadmat(path)
    except (OSError, ValueError, scipy.io.matlab.MatReadError) as exc:
        raise TinyqiError(f"{path}: not a readable MATLAB file ({exc}); fetch it again with "
                          "`tinyqi data fetch cwru`") from None
    if recording.channel not in mat:
        found = ", ".join(sorted(k for k in mat if not k.startswith("__"))) or "none"
        raise TinyqiError(f"{path}: no drive-end channel {recording.channel} (variables: {found}); use the CWRU "
                          "12 kHz drive-end file of that number (`tinyqi data fetch cwru`)")
    signal = np.asarray(mat[recording.channel]).squeeze()
    if signal.dtype.kind not in "fiu" or signal.ndim != 1 or signal.size == 0 or not np.all(np.isfinite(signal)):
        raise TinyqiError(f"{path}: {recording.channel} is not one channel of finite numbers; fetch the file "
                          "again with `tinyqi data fetch cwru`")
    return signal.astype(np.float64)


def read_recordings(data_dir=None) -> dict[int, np.ndarray]:
    """Every recording of the condition table from `<data root>/cwru/`, at its native rate, in g."""
    folder = store.dataset_dir(NAME, data_dir)
    missing = [r.file for r in RECORDINGS if not (folder / r.file).is_file()]
    if missing:
        raise TinyqiError(f"{folder}: {len(missing)} of {len(RECORDINGS)} CWRU files missing (first: {missing[0]}); "
                          "run `tinyqi data fetch cwru` (or `--from DIR` with a local copy)")
    return {r.number: read_drive_end(folder / r.file, r) for r in RECORDINGS}


def read_sample(path: Path = SAMPLE_PATH) -> dict[int, np.ndarray]:
    """The bundled excerpts (see `write_sample`), at their native rate, in g."""
    if not path.is_file():
        raise TinyqiError(f"{path}: the bundled CWRU sample is missing; reinstall tinyqi from a full checkout")
    with np.load(path, allow_pickle=False) as npz:
        return {int(n): npz[f"X{n:03d}_DE_counts"].astype(np.float64) * lsb
                for n, lsb in zip(npz["number"], npz["lsb_g"])}


def to_model_rate(signal: np.ndarray, rate_hz: int) -> np.ndarray:
    """Resample to RATE_HZ: 48 kHz is low-pass filtered (zero phase) and decimated by 4; 12 kHz is unchanged."""
    if rate_hz == RATE_HZ:
        return signal
    taps = scipy.signal.firwin(ANTI_ALIAS_TAPS, ANTI_ALIAS_CUTOFF_HZ, fs=rate_hz,
                               window=("kaiser", ANTI_ALIAS_KAISER_BETA))
    return scipy.signal.resample_poly(signal, 1, rate_hz // RATE_HZ, window=taps)


# ---------------------------------------------------------------- splits and windows


def parse_split(split: str) -> int:
    """The motor load (HP) whose fault recordings form the test side."""
    match = re.fullmatch(r"load3|lolo:([0-3])", split)
    if not match:
        raise TinyqiError(f"split {split!r}: unknown; {SPLIT_HELP}")
    return int(match.group(1)) if match.group(1) else 3


def describe_split(split: str) -> str:
    test_load = parse_split(split)
    train_loads = ", ".join(str(hp) for hp in LOADS_HP if hp != test_load)
    return (f"fault recordings by motor load: train {train_loads} HP, test {test_load} HP; normal (97.mat, only at "
            f"0 HP): time split, first {1 - NORMAL_TEST_FRACTION:.0%} train, last {NORMAL_TEST_FRACTION:.0%} test; "
            f"validation: last {VAL_FRACTION:.0%} of every train-side segment")


def plan_segments(lengths: dict[int, int], test_load: int, window: int) -> list[Segment]:
    """Which stretch of which recording feeds train, val and test (model-rate sample counts per file number)."""
    segments = [seg for rec in RECORDINGS for seg in _segments_of(rec, lengths[rec.number], test_load)]
    shortest = min(seg.stop - seg.start for seg in segments)
    for seg in segments:
        total = lengths[seg.recording.number]
        if window > total:
            raise TinyqiError(f"{seg.recording.file}: window of {window} samples is longer than the recording "
                              f"({total} samples at {RATE_HZ} Hz); use a window of at most {shortest} samples")
        if window > seg.stop - seg.start:
            raise TinyqiError(f"{seg.recording.file}: window of {window} samples is longer than its {seg.role} "
                              f"segment ({seg.stop - seg.start} of {total} samples at {RATE_HZ} Hz); use a window "
                              f"of at most {shortest} samples")
    return segments


def _segments_of(rec: Recording, n: int, test_load: int) -> list[Segment]:
    if rec.fault == "normal":
        cut = n - int(n * NORMAL_TEST_FRACTION)
        return [*_train_side(rec, 0, cut), Segment(rec, "test", cut, n)]
    if rec.load_hp == test_load:
        return [Segment(rec, "test", 0, n)]
    return _train_side(rec, 0, n)


def _train_side(rec: Recording, start: int, stop: int) -> list[Segment]:
    val_start = stop - int((stop - start) * VAL_FRACTION)
    return [Segment(rec, "train", start, val_start), Segment(rec, "val", val_start, stop)]


def test_segment(rec: Recording, n: int, test_load: int) -> Segment | None:
    """The test-side stretch of one recording of `n` model-rate samples when `test_load` is held out (a fault
    recording at that load whole, the last NORMAL_TEST_FRACTION of 97.mat), or None: all of it trains."""
    return next((seg for seg in _segments_of(rec, n, test_load) if seg.role == "test"), None)


def segment_windows(counts: np.ndarray, seg: Segment, window: int) -> np.ndarray:
    """The device chain's int8 windows of one segment: the device streaming the segment's samples from its first,
    a window every hop samples (the windows of seg.window_starts)."""
    return chain.windows(counts[seg.start:seg.stop], hop=seg.hop(window), window=window)


# ---------------------------------------------------------------- the task loader


def load_vibration_dataset(data_dir=None, *, sample: bool = False, split: str = "load3", labels: str = "10",
                           window: int = WINDOW) -> Dataset:
    """Windows of the CWRU drive-end recordings, labelled and split by motor load (see module docstring)."""
    test_load = parse_split(split)
    if labels not in CLASS_NAMES:
        raise TinyqiError(f"labels {labels!r}: unknown; use '10' (normal + IR/B/OR x 3 sizes) or '4' "
                          "(normal, IR, B, OR)")
    if window < 2:
        raise TinyqiError(f"window {window}: too short; use at least 2 samples (default {WINDOW})")
    if window & (window - 1) or window > 1 << 16:
        raise TinyqiError(f"window {window}: the device's window mean is a shift; use a power of two up to 65536 "
                          f"(default {WINDOW})")
    raw = read_sample() if sample else read_recordings(data_dir)
    counts = {r.number: chain.counts_from_g(to_model_rate(raw[r.number], r.rate_hz)) for r in RECORDINGS}
    segments = plan_segments({n: len(c) for n, c in counts.items()}, test_load, window)
    parts = {role: ([], []) for role in ROLES}
    per_file = {r.file: dict.fromkeys(ROLES, 0) for r in RECORDINGS}
    for seg in segments:
        windows = chain.model_inputs(segment_windows(counts[seg.recording.number], seg, window))
        parts[seg.role][0].append(windows)
        parts[seg.role][1].append(np.full(len(windows), seg.recording.label(labels), dtype=np.int64))
        per_file[seg.recording.file][seg.role] += len(windows)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        (np.concatenate(parts[role][0]), np.concatenate(parts[role][1])) for role in ROLES)
    info = {
        "name": NAME,
        "split": split,
        "split_description": describe_split(split),
        "labels": labels,
        "sample": sample,
        "source": str(SAMPLE_PATH if sample else store.dataset_dir(NAME, data_dir)),
        "train_count": len(y_train),
        "val_count": len(y_val),
        "test_count": len(y_test),
        "window": window,
        "train_stride": train_stride(window),
        "sample_rate_hz": RATE_HZ,
        "full_scale_g": chain.FULL_SCALE_G,
        "counts_per_g": chain.COUNTS_PER_G,
        "input_scale": chain.INPUT_SCALE,
        "windows_per_file": per_file,
        "notes": _notes(sample),
    }
    return Dataset(CLASS_NAMES[labels], [x_train], y_train, [x_val], y_val, [x_test], y_test, info,
                   input_scale=chain.INPUT_SCALE)


def _notes(sample: bool) -> str:
    notes = ("CWRU 12 kHz drive-end, outer-race faults at 6:00; normal only at 0 HP (97.mat, 48 kHz, decimated to "
             "12 kHz), so the normal class is split by time, not by load")
    if sample:
        notes += (f"; BUNDLED SAMPLE (first {SAMPLE_SECONDS:g} s of each fault recording, all of 97.mat): a smoke "
                  "test, not a benchmark; run `tinyqi data fetch cwru` for the full data")
    return notes


# ---------------------------------------------------------------- the bundled sample


def write_sample(source_dir, out_path: Path = SAMPLE_PATH) -> Path:
    """Write the bundled sample from a verified full copy: int16 ADC counts and their step in g, byte-reproducible.

    Keeps all of 97.mat (the only normal recording, 5.1 s, split by time) and the first SAMPLE_SECONDS of every
    fault recording. The CWRU values are whole multiples of one step per file, so the counts are exact.
    """
    folder = Path(source_dir)
    sums = store.checksums(NAME)
    arrays = {}
    meta = {"number": [], "lsb_g": [], "rate_hz": [], "source_start": [], "source_samples": [], "source_sha256": []}
    for rec in RECORDINGS:
        path = folder / rec.file
        digest = store.sha256_file(path) if path.is_file() else "missing"
        if digest != sums[rec.file]:
            raise TinyqiError(f"{path}: {digest[:12]} is not the sha256 in datasets/cwru/SHA256SUMS; write the "
                              "sample only from a verified copy (`tinyqi data fetch cwru`)")
        signal = read_drive_end(path, rec)
        keep = len(signal) if rec.fault == "normal" else int(SAMPLE_SECONDS * rec.rate_hz)
        counts, lsb = to_counts(signal[:keep], path)
        arrays[f"X{rec.number:03d}_DE_counts"] = counts
        for key, value in zip(meta, (rec.number, lsb, rec.rate_hz, 0, len(signal), digest)):
            meta[key].append(value)
    arrays.update({key: np.asarray(values) for key, values in meta.items()})
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(out_path, arrays)
    return out_path


def to_counts(signal: np.ndarray, path: Path) -> tuple[np.ndarray, float]:
    """Signal in g -> (int16 counts, step in g), exact: the recorder stored whole multiples of one step."""
    levels = np.unique(signal)
    lsb = float(np.diff(levels).min())
    counts = np.round(signal / lsb)
    if np.abs(counts * lsb - signal).max() > 1e-4 * lsb or np.abs(counts).max() > np.iinfo(np.int16).max:
        raise TinyqiError(f"{path}: values are not int16 multiples of one step ({lsb:.3g} g); this is not an "
                          "original CWRU recording")
    return counts.astype(np.int16), lsb
