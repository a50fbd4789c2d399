"""`tinyqi sweep`: Ray Tune + Optuna over the ordinary stages, on the bundled sample in local mode.

One module fixture runs the tiny test space (one epoch, dense int8 or magnitude pruning): one trial through the
library, then `tinyqi sweep --resume --trials 2` through the CLI (the same sweep continued: the first trial kept,
a second one run). Every end-to-end test reads that sweep. A second, one-trial sweep has an option compress
refuses: its trial fails, the sweep does not. The rest are unit tests and one-line errors (no Ray).
"""

from __future__ import annotations

import json
import shutil
import signal

import pytest
from conftest import assert_one_line_error, run_cli

from tinyqi.errors import TinyqiError
from tinyqi.sweep import pareto
from tinyqi.sweep.space import SPACES, get_space, with_fixed
from tinyqi.sweep.state import SWEEP_FILE

needs_firmware = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                    reason="arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi "
                                           "libnewlib-arm-none-eabi)")


def _sweep(out, space=None, trials=1, **options):
    from tinyqi.sweep.run import SweepOptions, run_sweep
    from tinyqi.ui import Ui

    return run_sweep(SweepOptions("ecg", out, trials=trials, concurrent=2, sample=True,
                                  space=space or get_space("ecg-tiny"), **options), Ui(quiet=True))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """(sweep dir, the first trial's row after round one, the CLI's result for the resumed round)."""
    work = tmp_path_factory.mktemp("sweep")
    out = work / "sweep"
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)  # no runs/ecg/bench/bench.json of the checkout drawn in
        _sweep(out)
    # Ray's driver replaces the Ctrl-C and SIGTERM handlers; a library caller gets its own back
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers
    first = json.loads((out / SWEEP_FILE).read_text())["trials"][0]
    resumed = run_cli("sweep", "ecg", "--out", str(out), "--resume", "--trials", "2", "--sample", cwd=work)
    return out, first, resumed


def _record(out):
    return json.loads((out / SWEEP_FILE).read_text())


# ---------------------------------------------------------------- end to end

@pytest.mark.slow
@needs_firmware
def test_resume_continues_the_sweep_without_rerunning(swept):
    out, first, resumed = swept
    assert resumed.returncode == 0, resumed.stderr
    record = _record(out)
    rows = {row["id"]: row for row in record["trials"]}
    assert sorted(rows) == ["t0000", "t0001"]
    assert rows["t0000"] == first  # kept as it was: not run again
    assert [r["ended"] for r in record["rounds"]] == ["complete", "complete"]
    assert [r["asked"] for r in record["rounds"]] == [1, 1]
    assert (out / "tune" / "round-0").is_dir() and (out / "tune" / "round-1").is_dir()
    assert "t0001 started" in resumed.stderr and "t0000 started" not in resumed.stderr


@pytest.mark.slow
@needs_firmware
def test_sweep_json_holds_validation_and_hardware_figures_only(swept):
    out, _, _ = swept
    record = _record(out)
    assert record["settings"]["sample"] is True and record["space"]["name"] == "ecg-tiny"
    for row in record["trials"]:
        assert row["status"] == "done", row
        assert row["config"]["epochs"] == 1 and row["config"]["method"] in ("none", "magnitude-global")
        for key in ("val_macro_f1", "val_f1_S", "val_f1_V", "weight_bytes", "flash_bytes", "ram_bytes",
                    "model_flash_bytes", "cycles", "energy_uj", "wall_seconds", "tflite_sha256"):
            assert row[key] is not None, (key, row)
        assert row["boards"]["nrf52840"]["energy_uj"] == row["energy_uj"] > 0
        assert set(row["validation"]["f1"]) == {"N", "S", "V", "F", "Q"}
        model_metrics = json.loads((out / row["model_dir"] / "metrics.json").read_text())
        assert row["val_macro_f1"] == model_metrics["validation"]["macro_f1"]
        assert not {"int8", "int8_device", "float"} & set(row)  # no held-out (DS2) figure in a trial row
        assert '"int8":' not in json.dumps(row)


@pytest.mark.slow
@needs_firmware
def test_outputs_and_the_pareto_selection(swept):
    out, _, _ = swept
    for name in ("sweep.json", "pareto.json", "pareto.png", "report.md", "study.journal"):
        assert (out / name).is_file(), name
    rows = _record(out)["trials"]
    data = json.loads((out / "pareto.json").read_text())
    ids = [p["id"] for p in data["points"]]
    assert ids and ids == [row["id"] for row in pareto.select(rows)]
    assert sorted(p.name for p in (out / "pareto").iterdir()) == sorted(ids)
    held_out = data[pareto.TEST_SECTION]
    assert "not used for selection" in held_out["note"] and set(held_out["points"]) == set(ids)
    report = (out / "report.md").read_text()
    assert "t0000" in report and "t0001" in report and "measured once, not used for selection" in report


@pytest.mark.slow
@needs_firmware
def test_a_pareto_point_is_the_measured_model_as_a_run_directory(swept, tmp_path):
    from tinyqi.firmware.build import build, model_directory
    from tinyqi.manifest import check_model_dir

    out, _, _ = swept
    data = json.loads((out / "pareto.json").read_text())
    point = data["points"][0]
    row = {r["id"]: r for r in _record(out)["trials"]}[point["id"]]
    run_dir = out / point["run_dir"]
    check_model_dir(run_dir, stage="train")
    model_dir = model_directory(run_dir, point["variant"])  # how build / flash / bench address it
    assert model_dir == out / point["model_dir"]
    check_model_dir(model_dir)
    firmware = build(model_dir, "nrf52840", tmp_path / "fw")
    assert (firmware.flash_bytes, firmware.ram_bytes) == (row["flash_bytes"], row["ram_bytes"])
    assert any(c.startswith("tinyqi build --board nrf52840 ") for c in point["commands"])


@pytest.mark.slow
@needs_firmware
def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path):
    bad = with_fixed(get_space("ecg-tiny"), method="svd", weight_fraction=1.0)  # compress refuses it
    out = tmp_path / "failing"
    summary = _sweep(out, space=bad)
    assert summary["ending"] == "complete" and summary["pareto"] == []
    (row,) = _record(out)["trials"]
    assert row["status"] == "failed" and "--weight-fraction 1.0" in row["reason"] and "\n" not in row["reason"]
    assert json.loads((out / "pareto.json").read_text())["points"] == []
    assert not (out / "pareto.png").exists()
    assert "failed: --weight-fraction 1.0" in (out / "report.md").read_text()


@pytest.mark.slow
@needs_firmware
def test_bench_variants_are_drawn_with_their_validation_figures(swept, tmp_path):
    out, _, _ = swept
    row = _record(out)["trials"][0]
    run_dir = out / row["run_dir"]
    bench = {"board": "nrf52840", "engine": "unicorn", "dataset": {"sample": True}, "run": str(run_dir),
             "rows": [{"variant": "int8-dense", "energy_uj": 1.5, "macro_f1": 0.99, "model_flash_bytes": 9000},
                      {"variant": "float32-dense", "energy_uj": 9.0, "macro_f1": 0.99}]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    drawn = pareto.bench_points(path, sample=True)
    validation = json.loads((run_dir / "metrics.json").read_text())["validation"]["macro_f1"]
    assert drawn["points"] == [{"variant": "int8-dense", "val_macro_f1": validation, "energy_uj": 1.5,
                                "model_flash_bytes": 9000}]  # the validation figure, not the bench's test one
    assert "skipped" in pareto.bench_points(path, sample=False)
    rows = _record(out)["trials"]
    assert pareto.plot(rows, pareto.select(rows), drawn, "t", tmp_path / "p.png").is_file()


# ---------------------------------------------------------------- one-line errors (no Ray, no training)

@pytest.mark.parametrize("args, needles", [
    (["nosuchtask"], ["unknown task 'nosuchtask'"]),
    (["ecg", "--trials", "0"], ["--trials 0: must be at least 1"]),
    (["ecg", "--concurrent", "0"], ["--concurrent 0: must be at least 1"]),
    (["ecg", "--budget-minutes", "-1"], ["--budget-minutes -1: must be a positive number"]),
    (["ecg", "--address", "nonsense"], ["--address nonsense: not HOST:PORT"]),
    (["ecg", "--address", "127.0.0.1:1"], ["--address 127.0.0.1:1: no Ray head answers there"]),
    (["ecg", "--board", "nosuchboard"], ["--board nosuchboard: unknown board"]),
    (["ecg", "--bench", "missing.json"], ["--bench missing.json: no such file"]),
])
def test_bad_input_is_one_line(tmp_path, args, needles):
    result = run_cli("sweep", *args, "--sample", "--out", str(tmp_path / "s"), cwd=tmp_path)
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "s").exists()


def test_bad_places_are_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert_one_line_error(run_cli("sweep", "ecg", "--sample", "--out", str(afile)), "is a file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_cli("sweep", "ecg", "--sample", "--resume", "--out", str(empty)),
                          "no sweep to resume there")
    (empty / "mine.txt").write_text("")
    assert_one_line_error(run_cli("sweep", "ecg", "--sample", "--out", str(empty)), "is not a sweep directory")


@pytest.mark.slow
@needs_firmware
def test_a_sweep_is_continued_only_as_itself(swept):
    out, _, _ = swept
    assert_one_line_error(run_cli("sweep", "ecg", "--sample", "--out", str(out)), "holds a sweep already",
                          "--resume")
    assert_one_line_error(run_cli("sweep", "vibration", "--resume", "--out", str(out)), "holds a ecg sweep")
    assert_one_line_error(run_cli("sweep", "ecg", "--resume", "--seed", "3", "--out", str(out)),
                          "--seed: this sweep was started with 0, not 3")
    assert_one_line_error(run_cli("sweep", "ecg", "--resume", "--quick", "--out", str(out)),
                          "--quick: this sweep was started with 'ecg-tiny'")


# ---------------------------------------------------------------- units

def _row(trial, f1, uj, flash, status="done"):
    return {"id": trial, "status": status, "val_macro_f1": f1, "energy_uj": uj, "model_flash_bytes": flash}


def test_selection_keeps_the_non_dominated_done_trials_cheapest_first():
    rows = [_row("t0000", 0.5, 2.0, 900), _row("t0001", 0.6, 3.0, 900), _row("t0002", 0.4, 2.5, 950),
            _row("t0003", 0.4, 1.0, 1000), _row("t0004", 0.6, 3.0, 900), _row("t0005", 0.9, 0.5, 10, "failed"),
            _row("t0006", 0.3, 3.0, 800)]
    assert [r["id"] for r in pareto.select(rows)] == ["t0003", "t0000", "t0001", "t0006"]  # t0004 = t0001: first


def test_space_draws_compression_options_only_for_the_methods_that_use_them():
    import optuna

    space = get_space("ecg")
    base = {"filters1": 8, "filters2": 16, "filters3": 24, "hidden": 16, "epochs": 10, "weight_power": 0.5,
            "learning_rate": 3e-3}
    dense = space.suggest(optuna.trial.FixedTrial({**base, "method": "none"}), seed=7)
    assert dense["seed"] == 7 and not {"target_sparsity", "channel_sparsity", "weight_fraction"} & set(dense)
    combined = space.suggest(optuna.trial.FixedTrial({**base, "method": "combined", "target_sparsity": 0.8,
                                                      "weight_fraction": 0.5}), seed=0)
    assert combined["target_sparsity"] == 0.8 and combined["weight_fraction"] == 0.5
    assert "channel_sparsity" not in combined
    for name, space in SPACES.items():
        assert space.as_dict()["name"] == name and name.split("-")[0] == space.task


def test_address_forms():
    from tinyqi.sweep.run import resolve_address

    assert resolve_address("10.0.0.5:6379") == "10.0.0.5:6379"
    for bad in ("10.0.0.5", ":6379", "head:99999", "ray://head:10001"):
        with pytest.raises(TinyqiError):
            resolve_address(bad)


def test_no_new_trial_after_the_budget():
    import functools
    import time

    from tinyqi.sweep.search import SweepSearch

    space = get_space("ecg-tiny")
    search = SweepSearch(functools.partial(space.suggest, seed=0), deadline=time.time() + 3600, storage=None, seed=0)
    config = search.suggest("a")
    assert config["trial"] == "t0000" and config["epochs"] == 1
    search.deadline = time.time() - 1
    assert search.suggest("b") == SweepSearch.FINISHED and search.budget_reached
