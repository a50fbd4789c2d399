"""MIT-BIH reading, AAMI mapping and the inter-patient split, on the real records when they are available."""

import shutil

import numpy as np
import pytest

from conftest import assert_one_line_error, real_dataset, run_cli
from tinyqi.data import mitdb
from tinyqi.data.ecg import load_ecg_dataset
from tinyqi.errors import TinyqiError

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


def test_extraction_keeps_all_but_edge_beats():
    record = mitdb.read_wfdb_record(real_dataset("mitdb"), "208")
    beats = mitdb.extract_beats(record)
    # The first and last beats lack a previous/next RR interval; no other beat of 208 is near an edge.
    assert len(beats.label) == 2955 - 2
    assert np.bincount(beats.label, minlength=5)[2] == 992
    assert beats.waveform.shape[1:] == (mitdb.WINDOW, mitdb.CHANNELS) and beats.rr.shape[1] == len(mitdb.RR_FEATURES)
    assert np.isfinite(beats.rr).all()


def test_rr_features_are_causal_ratios():
    beats = np.array([0, 360, 720, 1080, 1260, 1800]) * 1.0  # 1 s rhythm, then a premature beat at +0.5 s
    f = mitdb.rr_features(beats)
    assert np.isnan(f[0]).all() and np.isnan(f[-1]).all()
    # beat 4: pre 0.5 s, post 1.5 s, local (last 4 RRs) 0.875 s, 5-minute average so far 0.875 s
    assert f[4] == pytest.approx([0.5 / 0.875, 1.5 / 0.875, 0.5 / 0.875, 1.5 / 0.875, 1.0])


def test_full_inter_patient_split_shares_no_record():
    ds = load_ecg_dataset(real_dataset("mitdb").parent)
    train, test = set(ds.info["train_records"]), set(ds.info["test_records"])
    assert not train & test
    assert test == set(mitdb.DS2) and train <= set(mitdb.DS1)
    assert ds.info["sample"] is False and ds.info["test_beats"] == len(ds.y_test) > 49000


def test_sample_is_real_mitdb_excerpt():
    ds = load_ecg_dataset(sample=True)
    assert ds.info["sample"] is True
    assert not set(ds.info["train_records"]) & set(ds.info["test_records"])
    assert set(np.unique(ds.y_test)) >= {0, 1, 2, 3}  # N, S, V and F all in the sample's test side
    folder = real_dataset("mitdb")
    full = mitdb.read_wfdb_record(folder, "208")
    from tinyqi.data.ecg import _sample_records

    excerpt = _sample_records()["208"]
    np.testing.assert_allclose(excerpt.signal_mv, full.signal_mv[: len(excerpt.signal_mv)])


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


def test_template_channel_is_beat_minus_mean_of_previous_beats():
    record = mitdb.read_wfdb_record(real_dataset("mitdb"), "100")
    beats = mitdb.extract_beats(record)
    # Beat k (k >= TEMPLATE_BEATS + 1 after the dropped first beat) uses the previous TEMPLATE_BEATS windows.
    k = 40
    raw = beats.waveform[:, :, 0]
    template = raw[k - mitdb.TEMPLATE_BEATS : k].mean(axis=0)
    np.testing.assert_allclose(beats.waveform[k, :, 1], raw[k] - template, atol=1e-5)
