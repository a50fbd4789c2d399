"""CWRU loader: reading, windowing, honest splits, labels, the bundled sample, and clear errors for bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import assert_one_line_error, run_cli
from tinyqi.data import cwru
from tinyqi.errors import TinyqiError
from tinyqi.signal import vibration

SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "data"


def _real_root() -> Path | None:
    for root in (os.environ.get("TINYQI_DATA"), SHARED_COPY):
        if root and all((Path(root) / "cwru" / r.file).is_file() for r in cwru.RECORDINGS):
            return Path(root)
    return None


REAL_ROOT = _real_root()
needs_real = pytest.mark.skipif(REAL_ROOT is None, reason="full CWRU copy not found (TINYQI_DATA or ../shared/data)")

# Drive-end samples per file, from the condition table of the data center's files (shared/data/cwru/README.md).
DE_SAMPLES = {108: 122917, 121: 121556, 237: 121991}


@pytest.fixture(scope="module")
def real():
    return cwru.load_vibration_dataset(REAL_ROOT) if REAL_ROOT else None


@pytest.fixture(scope="module")
def real_4class():
    return cwru.load_vibration_dataset(REAL_ROOT, labels="4") if REAL_ROOT else None


@pytest.fixture(scope="module")
def sample():
    return cwru.load_vibration_dataset(sample=True)


# ---------------------------------------------------------------- splits (pure planning, no data needed)


@pytest.mark.parametrize("split,test_load", [("load3", 3), ("lolo:0", 0), ("lolo:1", 1), ("lolo:2", 2)])
def test_no_fault_recording_on_both_sides(split, test_load):
    lengths = {r.number: (60985 if r.number == 97 else 121991) for r in cwru.RECORDINGS}
    segments = cwru.plan_segments(lengths, cwru.parse_split(split), 1024)
    sides = {}
    for seg in segments:
        sides.setdefault(seg.recording.number, set()).add("test" if seg.role == "test" else "train")
    for rec in cwru.RECORDINGS:
        if rec.fault != "normal":
            assert sides[rec.number] == ({"test"} if rec.load_hp == test_load else {"train"}), rec.file
    for rec in cwru.RECORDINGS:  # roles follow each other in time; no window reaches into the next role
        own = [seg for seg in segments if seg.recording == rec]
        expected = ["train", "val", "test"] if rec.fault == "normal" else ["test"] if "test" in sides[rec.number] \
            else ["train", "val"]
        assert [seg.role for seg in own] == expected
        for earlier, later in zip(own, own[1:]):
            assert earlier.window_starts(1024)[-1] + 1024 <= later.window_starts(1024)[0]


# ---------------------------------------------------------------- real data


@needs_real
@pytest.mark.realdata
def test_window_counts_per_file(real):
    counts = real.info["windows_per_file"]
    # 97.mat: 243938 samples at 48 kHz -> 60985 at 12 kHz; test = last 15246, train side 45739 -> val tail 4573,
    # train 41166: (41166 - 1024) // 256 + 1 = 157 train, 4573 // 1024 = 4 val, 15246 // 1024 = 14 test windows.
    assert counts["97.mat"] == {"train": 157, "val": 4, "test": 14}
    # 105.mat (0 HP, train side): 121265 -> val 12126 (11 windows), train 109139 -> (109139 - 1024) // 256 + 1 = 423.
    assert counts["105.mat"] == {"train": 423, "val": 11, "test": 0}
    # 108.mat and 121.mat (3 HP, test side): whole recording in non-overlapping windows.
    assert counts["108.mat"] == {"train": 0, "val": 0, "test": DE_SAMPLES[108] // 1024}
    assert counts["121.mat"] == {"train": 0, "val": 0, "test": DE_SAMPLES[121] // 1024}
    for name, c in counts.items():  # only 97.mat (time split) has windows on both sides
        assert name == "97.mat" or not (c["train"] + c["val"] and c["test"]), name
    assert sum(c["train"] for c in counts.values()) == real.info["train_count"] == len(real.y_train)
    assert sum(c["test"] for c in counts.values()) == real.info["test_count"] == len(real.y_test)
    assert real.input_shapes == [(1024, 1)] and real.x_train[0].dtype == np.float32


@needs_real
@pytest.mark.realdata
def test_class_counts_and_labels(real, real_4class):
    test_counts = np.bincount(real.y_test, minlength=10)
    assert real.class_names[0] == "normal" and test_counts[0] == 14
    assert test_counts[real.class_names.index("IR007")] == DE_SAMPLES[108] // 1024
    assert test_counts[real.class_names.index("OR021")] == DE_SAMPLES[237] // 1024
    assert np.all(np.bincount(real.y_train, minlength=10) > 0) and np.all(np.bincount(real.y_val, minlength=10) > 0)
    ir = [real.class_names.index(f"IR{s}") for s in cwru.DIAMETERS]
    assert real_4class.class_names == ["normal", "IR", "B", "OR"]
    assert np.bincount(real_4class.y_test)[1] == test_counts[ir].sum()
    assert np.array_equal(real_4class.x_test[0], real.x_test[0])


@needs_real
@pytest.mark.realdata
def test_windows_are_the_device_chain_of_the_recording(real):
    """Model inputs = the device chain (tinyqi.signal.vibration) on the recording's sensor counts, int8 * 1/128:
    within one int8 step of the float path they replaced ((x - mean) / 2 g clipped to [-1, 1])."""
    x = cwru.read_drive_end(REAL_ROOT / "cwru" / "108.mat", _rec(108))
    first_108 = real.x_test[0][14, :, 0]  # test windows follow file order: 97.mat's 14 come first
    x8 = vibration.windows(vibration.counts_from_g(x[:1024]))[0]
    np.testing.assert_array_equal(first_108, x8.astype(np.float32) / 128)
    assert real.input_scale == vibration.INPUT_SCALE == 1 / 128
    old = np.clip((x[:1024] - x[:1024].mean()) / vibration.FULL_SCALE_G, -1, 1)
    np.testing.assert_allclose(first_108, old, atol=1 / 128)


@needs_real
@pytest.mark.realdata
def test_normal_recording_is_48khz():
    """At 48 kHz, 97.mat's shaft line (1796 rpm = 29.93 Hz) and rig lines match those of a 12 kHz fault file."""
    x = cwru.to_model_rate(cwru.read_drive_end(REAL_ROOT / "cwru" / "97.mat", _rec(97)), cwru.NORMAL_RATE_HZ)
    y = cwru.read_drive_end(REAL_ROOT / "cwru" / "105.mat", _rec(105))
    for low, high in [(25, 35), (155, 165), (185, 195)]:
        assert abs(_peak_hz(x, low, high) - _peak_hz(y, low, high)) < 0.15


@needs_real
@pytest.mark.realdata
def test_sample_is_reproducible_from_the_real_files(tmp_path):
    rebuilt = cwru.write_sample(REAL_ROOT / "cwru", tmp_path / "sample.npz")
    assert rebuilt.read_bytes() == cwru.SAMPLE_PATH.read_bytes()


@needs_real
@pytest.mark.realdata
def test_sample_matches_the_real_data():
    signals = cwru.read_sample()
    with np.load(cwru.SAMPLE_PATH) as npz:
        starts = dict(zip(npz["number"].tolist(), npz["source_start"].tolist()))
    for rec in cwru.RECORDINGS:
        real = cwru.read_drive_end(REAL_ROOT / "cwru" / rec.file, rec)
        excerpt = signals[rec.number]
        np.testing.assert_allclose(excerpt, real[starts[rec.number]:starts[rec.number] + len(excerpt)], atol=1e-9)


# ---------------------------------------------------------------- the bundled sample (always runs)


def test_sample_loads_through_the_same_split(sample):
    assert sample.info["sample"] is True and "SAMPLE" in sample.info["notes"]
    assert cwru.SAMPLE_PATH.stat().st_size < 2_100_000
    for y in (sample.y_train, sample.y_val, sample.y_test):
        assert np.all(np.bincount(y, minlength=10) > 0)
    counts = sample.info["windows_per_file"]
    assert counts["97.mat"] == {"train": 157, "val": 4, "test": 14}  # 97.mat is bundled whole
    assert counts["108.mat"] == {"train": 0, "val": 0, "test": 24000 // 1024}  # first 2 s of a 3 HP file
    assert np.abs(sample.x_train[0]).max() <= 1.0 and sample.input_scale == vibration.INPUT_SCALE
    for x in (sample.x_train[0], sample.x_val[0], sample.x_test[0]):  # exact multiples of 1/128: int8 model inputs
        steps = x * 128
        assert np.array_equal(steps, np.round(steps)) and steps.min() >= -128 and steps.max() <= 127


# ---------------------------------------------------------------- bad input (synthetic files)


def _rec(number: int) -> cwru.Recording:
    return next(r for r in cwru.RECORDINGS if r.number == number)


def _peak_hz(signal: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft((signal - signal.mean()) * np.hanning(len(signal)), 8 * len(signal)))
    freqs = np.fft.rfftfreq(8 * len(signal), 1 / cwru.RATE_HZ)
    band = (freqs > low) & (freqs < high)
    return float(freqs[band][np.argmax(spectrum[band])])


@pytest.fixture
def synthetic_root(tmp_path):
    """A data root with a tiny, well-formed file for every recording (noise, 3 s at the recording's rate)."""
    rng = np.random.default_rng(0)
    for rec in cwru.RECORDINGS:
        _write_mat(tmp_path, rec.file, {rec.channel: rng.normal(0, 0.2, (3 * rec.rate_hz, 1))})
    return tmp_path


def _write_mat(root: Path, name: str, variables: dict) -> Path:
    (root / "cwru").mkdir(exist_ok=True)
    scipy.io.savemat(root / "cwru" / name, variables)
    return root / "cwru" / name


def test_synthetic_files_load(synthetic_root):
    data = cwru.load_vibration_dataset(synthetic_root, split="lolo:1", labels="4")
    assert data.n_classes == 4 and data.info["windows_per_file"]["106.mat"]["train"] == 0
    assert data.info["windows_per_file"]["106.mat"]["test"] == 36000 // 1024
    assert data.info["source"] == str(synthetic_root / "cwru")  # where `tinyqi compress` reloads the run's data


def test_file_without_drive_end_channel(synthetic_root):
    _write_mat(synthetic_root, "105.mat", {"X105_FE_time": np.zeros((30000, 1))})
    with pytest.raises(TinyqiError, match=r"105\.mat: no drive-end channel X105_DE_time \(variables: X105_FE_time\)"):
        cwru.load_vibration_dataset(synthetic_root)


def test_window_longer_than_recording(synthetic_root):
    _write_mat(synthetic_root, "105.mat", {"X105_DE_time": np.zeros((500, 1))})
    with pytest.raises(TinyqiError, match=r"105\.mat: window of 1024 samples is longer than the recording \(500 "):
        cwru.load_vibration_dataset(synthetic_root)


@pytest.mark.parametrize("variables,needle", [
    ({"X105_FE_time": np.zeros((30000, 1))}, "105.mat: no drive-end channel X105_DE_time (variables: X105_FE_time)"),
    ({"X105_DE_time": np.zeros((500, 1))}, "105.mat: window of 1024 samples is longer than the recording (500 "),
])
def test_bad_recording_is_one_line_from_the_cli(synthetic_root, variables, needle):
    _write_mat(synthetic_root, "105.mat", variables)
    assert_one_line_error(run_cli("train", "vibration", "--data-dir", str(synthetic_root), "--out",
                                  str(synthetic_root / "run")), needle)


def test_window_that_is_not_a_power_of_two(synthetic_root):
    with pytest.raises(TinyqiError, match=r"window 1000: the device's window mean is a shift; use a power of two"):
        cwru.load_vibration_dataset(synthetic_root, window=1000)


def test_window_longer_than_a_segment(synthetic_root):
    # 97.mat: 3 s -> 36000 samples at 12 kHz, train side 27000, validation tail 2700: 4096 fits only the recording.
    with pytest.raises(TinyqiError, match=r"97\.mat: window of 4096 samples is longer than its val segment \(2700 of "
                                          r"36000 samples at 12000 Hz\); use a window of at most 2700 samples"):
        cwru.load_vibration_dataset(synthetic_root, window=4096)


def test_unreadable_and_missing_files(synthetic_root):
    (synthetic_root / "cwru" / "118.mat").write_bytes(b"not a MATLAB file")
    with pytest.raises(TinyqiError, match=r"118\.mat: not a readable MATLAB file"):
        cwru.load_vibration_dataset(synthetic_root)
    (synthetic_root / "cwru" / "118.mat").unlink()
    with pytest.raises(TinyqiError, match=r"1 of 37 CWRU files missing \(first: 118\.mat\).*tinyqi data fetch cwru"):
        cwru.load_vibration_dataset(synthetic_root)


@pytest.mark.parametrize("kwargs,message", [
    ({"split": "load2"}, r"split 'load2': unknown"),
    ({"split": "lolo:4"}, r"split 'lolo:4': unknown"),
    ({"labels": "5"}, r"labels '5': unknown"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(TinyqiError, match=message):
        cwru.load_vibration_dataset(sample=True, **kwargs)


def test_sample_writer_refuses_unverified_files(synthetic_root, tmp_path):
    with pytest.raises(TinyqiError, match=r"97\.mat: .* is not the sha256 in datasets/cwru/SHA256SUMS"):
        cwru.write_sample(synthetic_root / "cwru", tmp_path / "out.npz")


def test_fetch_rejects_a_copy_with_wrong_checksums(synthetic_root, tmp_path):
    with pytest.raises(TinyqiError, match=r"105\.mat: checksum mismatch"):  # files are fetched in name order
        cwru.fetch_cwru(from_dir=synthetic_root / "cwru", data_dir=tmp_path / "fetched")


@needs_real
@pytest.mark.realdata
def test_fetch_from_a_local_copy(tmp_path):
    target = cwru.fetch_cwru(from_dir=REAL_ROOT / "cwru", data_dir=tmp_path)
    assert sorted(p.name for p in target.iterdir()) == sorted(r.file for r in cwru.RECORDINGS)
