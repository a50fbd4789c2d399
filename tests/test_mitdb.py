"""MIT-BIH reading, AAMI mapping and the inter-patient split, on the real records when they are available."""

import shutil

import numpy as np
import pytest

from conftest import assert_one_line_error, real_dataset, run_cli
from tinyqi.data import mitdb
from tinyqi.data.ecg import load_ecg_dataset
from tinyqi.errors import TinyqiError
from tinyqi.signal import ecg as chain

# PhysioNet "Table of beat types" (mitdbdir/tables.htm), as AAMI classes.
PUBLISHED = {
    "100": {"N": 2239, "S": 33, "V": 1, "F": 0, "Q": 0},
    "208": {"N": 1586, "S": 2, "V": 992, "F": 373, "Q": 2},
}


def test_splits_are_disjoint_and_exclude_paced_records():
    assert not set(mitdb.DS1) & set(mitdb.DS2)
    assert len(mitdb.DS1) == len(mitdb.DS2) == 22
    assert not set(mitdb.PACED) & (set(mitdb.DS1) | set(mitdb.DS2))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_beat_counts_match_physionet_table(name):
    folder = real_dataset("mitdb")
    record = mitdb.read_wfdb_record(folder, name)
    counts = mitdb.beat_class_counts(record.ann_symbol)
    assert counts == PUBLISHED[name]
    assert sum(counts.values()) == {"100": 2273, "208": 2955}[name]


def test_detected_beats_match_the_annotations():
    record = mitdb.read_wfdb_record(real_dataset("mitdb"), "208")
    beats = mitdb.extract_beats(record)
    # The detector finds nearly every beat of 208 (992 V among them); false detections stay rare.
    assert beats.detection["fn"] < 30 and beats.detection["fp"] < 30
    assert abs(int(np.count_nonzero(beats.label == 2)) - 992) < 20
    assert beats.x0.shape[1:] == (chain.WINDOW, len(chain.WAVE_CHANNELS)) and beats.x1.shape[1] == len(chain.RR_FEATURES)
    assert beats.x0.dtype == np.int8 and beats.x1.dtype == np.int8


def test_annotated_comparison_uses_the_reference_positions():
    record = mitdb.read_wfdb_record(real_dataset("mitdb"), "100")
    beats = mitdb.extract_beats(record, "annotated")
    ref, _ = record.reference_beats()
    assert (beats.label >= 0).all()  # every described position is a reference beat
    assert np.isin(beats.sample, ref + np.array([[-1], [0], [1]])).all()


def test_full_inter_patient_split_shares_no_record():
    ds = load_ecg_dataset(real_dataset("mitdb").parent)
    train, test = set(ds.info["train_records"]), set(ds.info["test_records"])
    assert not train & test
    assert test == set(mitdb.DS2) and train <= set(mitdb.DS1)
    assert ds.info["sample"] is False and ds.info["test_beats"] == len(ds.y_test) > 49000
    # the detector at threshold 3/8 (docs/signal.md): DS2 Se 0.9948, +P 0.9982
    assert ds.info["test_detection"]["se"] > 0.994 and ds.info["test_detection"]["ppv"] > 0.997


def test_sample_is_real_mitdb_excerpt():
    ds = load_ecg_dataset(sample=True)
    assert ds.info["sample"] is True
    assert not set(ds.info["train_records"]) & set(ds.info["test_records"])
    assert set(np.unique(ds.y_test)) >= {0, 1, 2, 3}  # N, S, V and F all in the sample's test side
    folder = real_dataset("mitdb")
    full = mitdb.read_wfdb_record(folder, "208")
    from tinyqi.data.ecg import _sample_records

    excerpt = _sample_records()["208"]
    np.testing.assert_array_equal(excerpt.adc, full.adc[: len(excerpt.adc)])


def test_truncated_dat_is_one_clear_error(tmp_path):
    src = real_dataset("mitdb")
    for ext in ("hea", "atr"):
        shutil.copy(src / f"100.{ext}", tmp_path / f"100.{ext}")
    (tmp_path / "100.dat").write_bytes((src / "100.dat").read_bytes()[:100000])
    with pytest.raises(TinyqiError, match="100.dat.*truncated"):
        mitdb.read_wfdb_record(tmp_path, "100")


def test_missing_data_dir_is_one_line(tmp_path):
    result = run_cli("train", "ecg", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "nowhere", "tinyqi data fetch mitdb")


def test_unknown_task_is_one_line():
    assert_one_line_error(run_cli("train", "eeg"), "unknown task 'eeg'")


def test_fetch_from_local_copy_checks_checksums(tmp_path):
    src = real_dataset("mitdb")
    fake = tmp_path / "copy"
    shutil.copytree(src, fake)
    (fake / "101.atr").chmod(0o644)
    (fake / "101.atr").write_bytes(b"not an annotation file")
    result = run_cli("data", "fetch", "mitdb", "--from", str(fake), "--data-dir", str(tmp_path / "root"))
    assert_one_line_error(result, "101.atr", "checksum mismatch")


def test_fetch_from_local_copy_verifies_all(tmp_path):
    result = run_cli("data", "fetch", "mitdb", "--from", str(real_dataset("mitdb")), "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "mitdb").glob("*.dat"))) == 48


def test_wrong_sampling_rate_is_refused(tmp_path):
    src = real_dataset("mitdb")
    for ext in ("dat", "atr"):
        shutil.copy(src / f"100.{ext}", tmp_path / f"100.{ext}")
    header = (src / "100.hea").read_text().splitlines()
    fields = header[0].split()
    fields[2] = "250"
    (tmp_path / "100.hea").write_text("\n".join([" ".join(fields)] + header[1:]) + "\n")
    with pytest.raises(TinyqiError, match="250 Hz.*resample"):
        mitdb.read_wfdb_record(tmp_path, "100")


def test_garbage_header_is_one_clear_error(tmp_path):
    src = real_dataset("mitdb")
    for ext in ("dat", "atr"):
        shutil.copy(src / f"100.{ext}", tmp_path / f"100.{ext}")
    (tmp_path / "100.hea").write_bytes(bytes(range(256)))
    with pytest.raises(TinyqiError, match="100.hea: not a WFDB header"):
        mitdb.read_wfdb_record(tmp_path, "100")


def test_odd_length_212_record_reads_and_invalid_samples_are_marked(tmp_path):
    # One format-212 signal with an odd number of samples ends in half a byte pair (valid, padded); the WFDB
    # invalid value (-2048 in format 212) becomes the chain's INVALID instead of a number.
    import wfdb

    signal = (np.sin(np.arange(3601) / 20) * 300).astype(np.int64).reshape(-1, 1)
    signal[100, 0] = -2048
    wfdb.wrsamp("900", fs=360, units=["mV"], sig_name=["MLII"], d_signal=signal, fmt=["212"], adc_gain=[200],
                baseline=[0], write_dir=str(tmp_path))
    wfdb.wrann("900", "atr", np.array([10, 400]), np.array(["N", "N"]), write_dir=str(tmp_path))
    record = mitdb.read_wfdb_record(tmp_path, "900")
    assert len(record.adc) == 3601 and record.adc[100] == chain.INVALID
    assert record.adc[99] == signal[99, 0]


def test_no_records_concatenate_to_no_beats():
    none = mitdb.concat_beats([])
    assert none.x0.shape == (0, chain.WINDOW, len(chain.WAVE_CHANNELS)) and none.x1.shape == (0, len(chain.RR_FEATURES))
    assert len(none.label) == len(none.record) == len(none.sample) == 0 and none.missed.sum() == 0
