"""DS1 cross-validation (tinyqi cv ecg): folds of whole records, no record on both sides, pooled scores per seed."""

import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi import cv
from tinyqi.data import mitdb
from tinyqi.errors import TinyqiError


def test_folds_are_the_22_ds1_records_once_and_split_the_af_records():
    names = [n for fold in cv.DS1_FOLDS for n in fold]
    assert sorted(names) == sorted(mitdb.DS1) and len(names) == len(set(names))
    assert not any({"201", "203"} <= set(fold) for fold in cv.DS1_FOLDS)
    assert not set(names) & set(mitdb.DS2)


@pytest.fixture(scope="module")
def sample_ds1():
    return cv.describe_records(sample=True)


def test_sample_records_are_ds1_and_labelled(sample_ds1):
    assert sample_ds1 and set(sample_ds1) <= set(mitdb.DS1)
    assert all((b.label >= 0).all() for b in sample_ds1.values())


def test_a_fold_never_trains_on_its_held_out_records(sample_ds1):
    folds = cv.folds_present(sample_ds1)
    for held_out in folds:
        ds = cv.fold_dataset(sample_ds1, held_out)
        assert len(ds.y_test) == sum(len(sample_ds1[n].label) for n in held_out)
        assert len(ds.y_train) + len(ds.y_test) == sum(len(b.label) for b in sample_ds1.values())
        assert len(ds.y_val) == 0


def test_fewer_than_two_folds_is_refused(sample_ds1):
    one = {n: b for n, b in sample_ds1.items() if n in cv.DS1_FOLDS[0]}
    with pytest.raises(TinyqiError, match="at least two folds"):
        cv.folds_present(one)


def test_cross_validation_pools_every_held_out_beat(sample_ds1):
    result = cv.cross_validate(sample_ds1, seeds=(0,), epochs=1)
    row = result["seeds"][0]
    n = sum(len(b.label) for b in sample_ds1.values())
    assert sum(c["support"] for c in row["per_class"].values()) == n
    assert set(cv.SUMMARY_KEYS) <= set(row) and result["std"]["sveb_f1"] == 0.0
    assert set(row["per_record"]) == set(sample_ds1)
    assert 0.0 <= result["mean"]["macro_f1"] <= 1.0
    assert cv.cross_validate(sample_ds1, seeds=(0,), epochs=1) == result  # the seed fixes the initial weights too


def test_the_epoch_curve_ends_at_the_result(sample_ds1):
    result = cv.cross_validate(sample_ds1, seeds=(0, 1), epochs=2, curve=True)
    assert [point["epoch"] for point in result["curve"]] == [1, 2]
    assert result["curve"][-1]["mean"] == result["mean"] and result["curve"][-1]["std"] == result["std"]
    assert result["curve"][0] != result["curve"][1]  # the first epoch is scored on its own weights
    with pytest.raises(TinyqiError, match="--curve with --members 3"):
        cv.cross_validate(sample_ds1, seeds=(0,), epochs=1, members=3, curve=True)


def test_cli_on_the_sample_writes_json(tmp_path):
    out = tmp_path / "cv.json"
    result = run_cli("cv", "ecg", "--sample", "--seeds", "0", "--epochs", "1", "--curve", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["beats"] == "detected" and data["epochs"] == 1 and [r["seed"] for r in data["seeds"]] == [0]
    assert "S F1" in result.stdout and "mean" in result.stdout and "std" in result.stdout
    assert [point["epoch"] for point in data["curve"]] == [1] and "after each epoch" in result.stdout


@pytest.mark.parametrize("args, needle", [(["--seeds", "0,x"], "--seeds 0,x"), (["--seeds", "-3"], "--seeds -3"),
                                          (["--epochs", "0"], "--epochs 0"), (["--members", "0"], "--members 0"),
                                          (["--members", "2", "--curve"], "--curve with --members 2")])
def test_bad_options_are_one_line(args, needle):
    assert_one_line_error(run_cli("cv", "ecg", "--sample", *args), needle)


@pytest.mark.parametrize("command", [["cv", "ecg"], ["detect", "ecg"]])
def test_an_out_file_that_cannot_be_written_is_one_line_before_any_work(command, tmp_path):
    """A directory, or a file in a folder that does not exist: refused up front (it was an `internal error` or
    click's multi-line message after the whole run)."""
    assert_one_line_error(run_cli(*command, "--sample", "--out", str(tmp_path)), "--out", "is a directory")
    missing = tmp_path / "no" / "such" / "cv.json"
    assert_one_line_error(run_cli(*command, "--sample", "--out", str(missing)), "--out", "create it first")


def test_no_data_is_one_line(tmp_path):
    assert_one_line_error(run_cli("cv", "ecg", "--data-dir", str(tmp_path)), "tinyqi data fetch mitdb")
