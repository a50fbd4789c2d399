"""Bench logic that needs no firmware: the Pareto front, the ratios, the baseline check, variant selection and
the one-line errors for a missing run directory or variant."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, run_cli

from tinyqi.bench.baseline import check_cycles
from tinyqi.bench.rows import add_ratios, pareto_front
from tinyqi.bench.variants import select_variants
from tinyqi.errors import TinyqiError
from tinyqi.manifest import write_manifest


def _row(name, accuracy, energy, cycles=None):
    return {"variant": name, "accuracy": accuracy, "macro_f1": accuracy, "energy_uj": energy, "cycles": cycles}


def test_pareto_front_keeps_only_undominated_variants():
    rows = [_row("float32-dense", 0.90, 100.0), _row("int8-dense", 0.89, 30.0), _row("pruned", 0.91, 20.0),
            _row("qinn", 0.85, 5.0), _row("worse", 0.84, 6.0), _row("no-energy", 0.99, None)]
    assert pareto_front(rows) == ["qinn", "pruned"]


def test_ratios_against_int8_and_float32_dense():
    rows = [_row("float32-dense", 0.9, 100.0, 700), _row("int8-dense", 0.9, 40.0, 280), _row("csr", 0.9, 10.0, 70)]
    add_ratios(rows)
    assert rows[2]["speedup_vs_int8_dense"] == 4.0 and rows[2]["energy_saving_vs_float32_dense"] == 10.0
    assert rows[0]["speedup_vs_int8_dense"] == 0.4


@pytest.fixture
def model_dirs(tmp_path):
    """A fake run: only what the baseline check reads (the model files it hashes)."""
    (tmp_path / "variants" / "csr").mkdir(parents=True)
    for path in (tmp_path / "model_int8.tflite", tmp_path / "variants" / "csr" / "model_int8.tflite"):
        path.write_bytes(b"model")
    return tmp_path


def _baseline_and_bench(model_dirs, dense_cycles, csr_cycles):
    import hashlib

    sha = hashlib.sha256(b"model").hexdigest()
    baseline = {"tolerance": 0.05, "variants": {"int8-dense": {"cycles": 1000, "model_sha256": sha},
                                               "csr": {"cycles": 500, "model_sha256": sha}}}
    bench = {"rows": [{"variant": "int8-dense", "cycles": dense_cycles, "model_dir": str(model_dirs)},
                      {"variant": "csr", "cycles": csr_cycles, "model_dir": str(model_dirs / "variants" / "csr")}]}
    return baseline, bench


def test_baseline_check_passes_within_five_percent(model_dirs):
    assert check_cycles(*_baseline_and_bench(model_dirs, 1049, 476)) == []


def test_baseline_check_fails_on_a_slowdown(model_dirs):
    problems = check_cycles(*_baseline_and_bench(model_dirs, 1051, 500))
    assert len(problems) == 1 and problems[0].startswith("int8-dense: 1,051 cycles, +5.1% over the baseline")


def test_baseline_check_asks_for_a_refresh_on_a_speedup(model_dirs):
    problems = check_cycles(*_baseline_and_bench(model_dirs, 1000, 470))
    assert len(problems) == 1 and "refresh the baseline with `python -m tinyqi.bench.baseline`" in problems[0]


def test_baseline_check_reports_a_missing_variant(model_dirs):
    baseline, bench = _baseline_and_bench(model_dirs, 1000, 500)
    bench["rows"].pop()
    assert check_cycles(baseline, bench) == ["csr: in the baseline but not measured"]


def test_variant_selection(tmp_path):
    (tmp_path / "variants" / "qinn").mkdir(parents=True)
    for directory in (tmp_path, tmp_path / "variants" / "qinn"):
        for name in ("model_int8.tflite", "golden.npz", "metrics.json"):
            (directory / name).write_bytes(b"")
        write_manifest(directory, "train")
    (tmp_path / "variants" / ".qinn-s1.partial-99").mkdir()  # a compress under way: not a variant
    assert [v.name for v in select_variants(tmp_path)] == ["int8-dense", "qinn"]  # no model_float.tflite
    assert [v.name for v in select_variants(tmp_path, ("qinn",))] == ["qinn"]
    (tmp_path / "variants" / "qinn" / "golden.npz").unlink()
    with pytest.raises(TinyqiError, match=r"qinn/golden.npz: missing, but `tinyqi train` wrote it"):
        select_variants(tmp_path)


def test_missing_run_dir_is_one_line(tmp_path):
    result = run_cli("bench", "ecg", "--run", str(tmp_path / "absent"))
    assert_one_line_error(result, "absent: no such run directory", "tinyqi train ecg")


def test_unknown_task_is_one_line():
    assert_one_line_error(run_cli("bench", "ecgg"), "unknown task 'ecgg'", "ecg, vibration")


def test_default_run_dir_is_where_train_writes(tmp_path):
    result = run_cli("bench", "ecg", cwd=tmp_path)
    assert_one_line_error(result, "runs/ecg: no such run directory")


def test_missing_variant_is_one_line(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"task": "ecg", "dataset": {}}))
    result = run_cli("bench", "ecg", "--run", str(tmp_path), "--variant", "qinn")
    assert_one_line_error(result, "no variant qinn; available: int8-dense")


def test_float_build_of_a_model_dir_without_float_model_is_one_line(tmp_path):
    for name in ("model_int8.tflite", "golden.npz"):
        (tmp_path / name).write_bytes(b"")
    write_manifest(tmp_path, "compress")
    result = run_cli("build", "--board", "nrf52840", str(tmp_path), "--float")
    assert_one_line_error(result, "no model_float.tflite")
