"""Noise augmentation of the ECG training side (tinyqi.data.augment): noisy copies of the training records only,
described by the device chain, deterministic."""

import numpy as np

from tinyqi import cv
from tinyqi.data import augment, mitdb
from tinyqi.data.ecg import VALIDATION_RECORDS, _sample_records, load_ecg_dataset


def test_noise_is_fixed_white_noise():
    a, b = augment.synthetic_noise(), augment.synthetic_noise()
    np.testing.assert_array_equal(a, b)
    assert len(a) == augment.SAMPLES and abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.01  # white: no lag-1 correlation


def test_noisy_beats_are_labelled_chain_beats_of_each_snr():
    records = {n: r for n, r in _sample_records().items() if n == "209"}
    noisy = augment.noisy_beats(records)
    clean = mitdb.extract_beats(records["209"])
    beats = noisy["209"]
    assert (beats.label >= 0).all() and set(beats.record) == {"209"}
    # one copy per SNR: about as many beats as the clean record has per copy, and not the clean inputs
    n_clean = np.count_nonzero(clean.label >= 0)
    assert 0.9 * len(augment.SNRS_DB) * n_clean < len(beats.label) < 1.1 * len(augment.SNRS_DB) * n_clean
    assert np.abs(beats.x0).mean() > 1.5 * np.abs(clean.x0).mean()  # the noise is in the beat-minus-template
    again = augment.noisy_beats(records)["209"]
    np.testing.assert_array_equal(again.x0, beats.x0)
    np.testing.assert_array_equal(again.x1, beats.x1)


def test_training_side_gets_noisy_copies_of_training_records_only():
    ds = load_ecg_dataset(sample=True)
    train_names = ds.info["train_records"]
    assert not set(train_names) & (set(VALIDATION_RECORDS) | set(mitdb.DS2))
    records = _sample_records()
    clean = sum(np.count_nonzero(mitdb.extract_beats(records[n]).label >= 0) for n in train_names)
    noisy = sum(len(b.label) for b in augment.noisy_beats({n: records[n] for n in train_names}).values())
    assert ds.info["train_noisy_beats"] == noisy > 0
    assert ds.info["train_beats"] == len(ds.y_train) == clean + noisy
    assert ds.info["val_beats"] == len(ds.y_val) and ds.info["test_beats"] == len(ds.y_test)  # both clean only


def test_a_fold_trains_on_noisy_copies_of_its_training_records_only():
    per_record = cv.describe_records(sample=True)
    noisy = cv.describe_noisy(sample=True)
    assert set(noisy) == set(per_record)
    for held_out in cv.folds_present(per_record):
        ds = cv.fold_dataset(per_record, held_out, noisy)
        kept = [n for n in per_record if n not in held_out]
        assert len(ds.y_train) == sum(len(per_record[n].label) + len(noisy[n].label) for n in kept)
        assert len(ds.y_test) == sum(len(per_record[n].label) for n in held_out)
