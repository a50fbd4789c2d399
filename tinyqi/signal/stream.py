"""Sample streams for the monitoring firmware: excerpts of MIT-BIH records as the device's ADC delivers them.

An excerpt is lead MLII in int16 ADC counts minus the ADC zero at 360 Hz, 200 counts/mV: the chain's input
(tinyqi.signal.ecg). It comes from the full database (`<data root>/mitdb`, read by tinyqi.data.mitdb with
wfdb's `rdrecord(physical=False)`) or from the bundled sample (datasets/mitdb/sample.npz, key '<rec>.adc': the first
6 minutes of 12 records). A named data location (--data-dir, $TINYQI_DATA) must hold the record; without one the
default location is used when it has the record, else the bundled sample, and the excerpt says so in `source`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi.data import store
from tinyqi.errors import TinyqiError
from tinyqi.signal import ecg

SAMPLE_FILE = store.REPO_DATASETS / "mitdb" / "sample.npz"
# The chain needs its warm-up and learning period (ecg.DETECT_START b samples, 3.4 s) plus a few beats before it
# describes any: shorter excerpts would test nothing.
MIN_SECONDS = 10.0


@dataclass(frozen=True)
class Excerpt:
    record: str
    start: int  # first sample, as an index into the record
    adc: np.ndarray  # int16 samples at rate_hz (ECG: ADC counts; vibration: accelerometer counts)
    source: str  # where the samples come from, for provenance banners and reports
    rate_hz: int = ecg.FS_IN  # the vibration excerpts (tinyqi.signal.vibration_stream) are at vibration.RATE_HZ

    @property
    def seconds(self) -> float:
        return len(self.adc) / self.rate_hz


def load_excerpt(record: str, seconds: float, start_seconds: float = 0.0, data_dir: str | Path | None = None,
                 sample: bool | None = None) -> Excerpt:
    """`seconds` of `record` from `start_seconds` on. sample: True forces the bundled sample, False the database,
    None picks as the module docstring says."""
    if seconds < MIN_SECONDS:
        raise TinyqiError(f"--seconds {seconds:g}: too short; the chain needs {MIN_SECONDS:g} s or more to learn "
                          "the signal and describe beats")
    if start_seconds < 0:
        raise TinyqiError(f"--start {start_seconds:g}: must be 0 or more seconds into the record")
    adc, source = record_samples(record, data_dir, sample)
    first, count = round(start_seconds * ecg.FS_IN), round(seconds * ecg.FS_IN)
    if first + count > len(adc):
        raise TinyqiError(f"record {record}: {source} holds {len(adc) / ecg.FS_IN:g} s, fewer than the "
                          f"{start_seconds:g} + {seconds:g} s asked for; lower --seconds or --start")
    return Excerpt(record, first, np.ascontiguousarray(adc[first:first + count], dtype=np.int16), source)


def record_samples(record: str, data_dir: str | Path | None, sample: bool | None) -> tuple[np.ndarray, str]:
    """The whole lead MLII of `record` (int16) and a description of where it came from."""
    folder = store.dataset_dir("mitdb", data_dir)
    use_database = not sample and (sample is False or store.explicit_root(data_dir)
                                   or (folder / f"{record}.hea").is_file())
    if use_database:
        return database_samples(folder, record)
    return sample_samples(record)


def database_samples(folder: Path, record: str) -> tuple[np.ndarray, str]:
    from tinyqi.data import mitdb  # imported here: wfdb is slow to import

    if not (folder / f"{record}.hea").is_file():
        raise TinyqiError(f"{folder}/{record}.hea: record not found; name a MIT-BIH record (e.g. 100) and fetch the "
                          "database with `tinyqi data fetch mitdb`, or use --sample")
    return mitdb.read_wfdb_record(folder, record).adc, f"MIT-BIH record {record}, {folder}"


def sample_samples(record: str) -> tuple[np.ndarray, str]:
    try:
        with np.load(SAMPLE_FILE) as z:
            records = [str(name) for name in z["records"]]
            if record not in records:
                raise TinyqiError(f"record {record}: not in the bundled sample {SAMPLE_FILE.name} (it has "
                                  f"{', '.join(records)}); fetch the database with `tinyqi data fetch mitdb`")
            adc = z[f"{record}.adc"].astype(np.int16)
    except OSError:
        raise TinyqiError(f"{SAMPLE_FILE}: the bundled sample is missing; restore it from the repository") from None
    return adc, f"MIT-BIH record {record}, bundled sample {SAMPLE_FILE.name} (first minutes only)"
