"""Sample streams for the vibration monitor: a held-out CWRU recording as the device's accelerometer delivers it.

An excerpt is int16 counts of a +-2 g, 16-bit accelerometer at vibration.RATE_HZ: the drive-end signal through
tinyqi.data.cwru.to_model_rate (97.mat is decimated from 48 kHz) and vibration.counts_from_g, exactly what the
loader feeds the chain. Only the test side of the run's split may be streamed (tinyqi.data.cwru.test_segment: a
fault recording at the held-out load, or the last quarter of 97.mat), so the monitor classifies windows the model
never trained on; from the default start (the test side's first sample) its windows are the run's own test windows
of that recording. Samples come from the full data (`<data root>/cwru/<n>.mat`) or the bundled sample
(datasets/cwru/sample.npz: the first 2 s of every fault recording, all of 97.mat), chosen as for ECG
(tinyqi.signal.stream): a named data location must hold the recording, never the sample in its place.
"""

from __future__ import annotations

from pathlib import Path

from tinyqi.data import cwru, store
from tinyqi.errors import TinyqiError
from tinyqi.signal import vibration
from tinyqi.signal.stream import Excerpt


def recording(record: str) -> cwru.Recording:
    """The CWRU recording of a file number ('108' or '108.mat')."""
    number = record[:-4] if record.endswith(".mat") else record
    found = next((r for r in cwru.RECORDINGS if number.isdigit() and r.number == int(number)), None)
    if found is None:
        raise TinyqiError(f"--record {record}: not a CWRU recording tinyqi uses; name a file number of "
                          "datasets/cwru/README.md (97, or 105-108, 118-121, ... 234-237)")
    return found


def test_side(split: str) -> list[cwru.Recording]:
    """The recordings with a test-side part under `split`: the fault recordings at the held-out load, and 97.mat."""
    test_load = cwru.parse_split(split)
    return [r for r in cwru.RECORDINGS if r.fault == "normal" or r.load_hp == test_load]


def default_record(split: str) -> str:
    """The default stream: the 0.007 in inner-race fault at the held-out load (105 + load)."""
    return str(cwru.FAULT_FIRST_FILE[("IR", "007")] + cwru.parse_split(split))


def describe(rec: cwru.Recording) -> str:
    return "normal" if rec.fault == "normal" else f"{rec.fault}{rec.size}, {rec.load_hp} HP"


def load_vibration_excerpt(record: str, split: str, seconds: float | None = None, start_seconds: float | None = None,
                           data_dir: str | Path | None = None, sample: bool | None = None) -> Excerpt:
    """`seconds` of the test side of CWRU recording `record` under `split`, from `start_seconds` into the recording
    (default: the test side's start; seconds default: the rest of the test side). sample: True forces the bundled
    sample, False the full data, None picks as the module docstring says."""
    rec = recording(record)
    if rec not in test_side(split):
        held_out = ", ".join(str(r.number) for r in test_side(split))
        raise TinyqiError(f"--record {record}: {rec.file} ({describe(rec)}) trains the model under split {split}; "
                          f"stream a held-out recording: {held_out}")
    counts, source, where = recording_counts(rec, data_dir, sample)
    rate = vibration.RATE_HZ
    segment = cwru.test_segment(rec, len(counts), cwru.parse_split(split))
    first = segment.start if start_seconds is None else round(start_seconds * rate)
    side = f"the test side of {rec.file} under split {split} is {segment.start / rate:g} to {segment.stop / rate:g} s"
    if first < segment.start:
        raise TinyqiError(f"--start {start_seconds:g}: the first {segment.start / rate:g} s of {rec.file} train the "
                          f"model; {side} (omit --start to stream it from there)")
    count = segment.stop - first if seconds is None else round(seconds * rate)
    if seconds is not None and count < vibration.WINDOW:
        raise TinyqiError(f"--seconds {seconds:g}: shorter than one window ({vibration.WINDOW} samples, "
                          f"{vibration.WINDOW / rate:.4f} s at {rate} Hz); stream at least that")
    if first + count > segment.stop or count < vibration.WINDOW:
        asked = f"{seconds:g} s" if seconds is not None else "one window"
        raise TinyqiError(f"record {rec.number}: {side} in {where}: too short for {asked} from {first / rate:g} s; "
                          "lower --seconds or --start")
    return Excerpt(str(rec.number), first, counts[first:first + count].copy(), source, rate)


def recording_counts(rec: cwru.Recording, data_dir: str | Path | None, sample: bool | None):
    """The whole recording as the sensor's int16 counts at the model rate, where it came from (for provenance) and
    which data that is (for messages)."""
    folder = store.dataset_dir(cwru.NAME, data_dir)
    use_data = not sample and (sample is False or store.explicit_root(data_dir) or (folder / rec.file).is_file())
    if use_data:
        if not (folder / rec.file).is_file():
            raise TinyqiError(f"{folder / rec.file}: recording not found; fetch the data with `tinyqi data fetch "
                              "cwru`, or use --sample")
        signal_g = cwru.read_drive_end(folder / rec.file, rec)
        source, where = f"CWRU {rec.file} ({describe(rec)}), {folder}", str(folder)
    else:
        signal_g = cwru.read_sample()[rec.number]
        source = (f"CWRU {rec.file} ({describe(rec)}), bundled sample {cwru.SAMPLE_PATH.name} (first "
                  f"{cwru.SAMPLE_SECONDS:g} s of each fault recording)")
        where = "the bundled sample"
    return vibration.counts_from_g(cwru.to_model_rate(signal_g, rec.rate_hz)), source, where
