"""The monitoring firmware for the vibration task (firmware/monitor/main_vibration.c): recorded accelerometer counts ->
vibration chain -> model per window, under the Unicorn engine, window for window against the Python reference; its
CLI (the task from the run's metrics.json), its options and the energy of the job.

References: tinyqi.signal.vibration.windows on the same samples, then TFLM's int8 outputs (an untrained vibration CNN
converted by tinyqi.convert) or a numpy recomputation of the hand-written fixture model
(tests/fixtures/monitor_vibration_model/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, needs_firmware, run_cli
from monitor_helpers import build_and_emulate, build_fixture_stream, emulate_excerpts

from tinyqi.emulate.monitor import (Reference, ResultLine, parse_monitor_output, read_stream, renode_expected_lines,
                                    write_monitor_suite)
from tinyqi.emulate.monitor_vibration import VIBRATION
from tinyqi.emulate.run import target_for_board
from tinyqi.energy import CR2032, FIFO_READOUT, power_figures, sampling_figures, vibration_job_energy
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import NRF52840, get_board
from tinyqi.firmware.build import REPO_ROOT
from tinyqi.firmware.monitor import check_stream_size, monitor_task
from tinyqi.manifest import write_manifest
from tinyqi.signal import vibration
from tinyqi.signal.stream import Excerpt
from tinyqi.signal.vibration_stream import load_vibration_excerpt

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "monitor_vibration_model"
# Held-out recordings of split load3 in the bundled sample: IR 0.007 in and OR 0.021 in at 3 HP (2 s each), and the
# test block of the normal recording 97.mat (its last quarter, 1.27 s).
RECORDS = ("108", "97", "237")
ENV = "nrf52840-monitor-vibration"


def write_metrics(model_dir: Path, split: str = "load3") -> None:
    (model_dir / "metrics.json").write_text(json.dumps({"task": "vibration", "dataset": {"split": split}}))


def fixture_outputs(x8: np.ndarray) -> list[tuple[int, ...]]:
    """tests/fixtures/monitor_vibration_model/README.md, in numpy."""
    sat = lambda v: int(np.clip(v, -128, 127))
    x = x8.astype(np.int64)
    return [(sat(w.sum() >> 4), sat(np.abs(w).sum() >> 7), int(w.max()), int(w.min()), int(w[0]), int(w[-1]))
            for w in x]


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory, offline, core):
    """The fixture model with a two-record stream (0.6 s of 108, then 1 s of 97's test block): (build, excerpts)."""
    excerpts = (load_vibration_excerpt("108", "load3", 0.6, sample=True),
                load_vibration_excerpt("97", "load3", 1.0, sample=True))
    result = build_fixture_stream(FIXTURE, tmp_path_factory.mktemp("vib-fixture"), excerpts, core, ENV, "vibration")
    return result, excerpts


@pytest.mark.slow
@needs_firmware
def test_fixture_windows_equal_the_python_chain(fixture_build):
    """Two records in one stream: the chain restarts per record, every window line equals numpy's, and the window's
    own chain cycles (1024 pushes and the int8 copy) are measured."""
    build, excerpts = fixture_build
    parsed = emulate_excerpts(build.elf, VIBRATION, excerpts)
    for record, excerpt in zip(parsed.records, excerpts):
        x8 = vibration.windows(excerpt.adc)
        expected = list(zip(vibration.window_starts(len(excerpt.adc)).tolist(), fixture_outputs(x8)))
        assert len(expected) == len(excerpt.adc) // vibration.WINDOW >= 7
        assert [(w.n, w.outputs) for w in record.lines] == expected
        assert all(w.predicted_class == int(np.argmax(w.outputs)) for w in record.lines)
        assert all(20 * vibration.WINDOW < w.chain_cycles < 100 * vibration.WINDOW for w in record.lines)
    done = parsed.done
    assert done.samples == sum(len(e.adc) for e in excerpts) and done.inferences == 7 + 11
    assert done.chain_cycles >= sum(w.chain_cycles for w in parsed.lines)
    assert 0 < done.stack_bytes < 2048
    assert [r.adc.tolist() for r in read_stream(build.elf)] == [e.adc.tolist() for e in excerpts]


@pytest.mark.slow
@needs_firmware
def test_vibration_monitor_fits_and_keeps_the_stream_apart(fixture_build):
    build, excerpts = fixture_build
    sections = {s.name: s for s in build.breakdown.sections}
    samples = sum(len(e.adc) for e in excerpts)
    assert sections[".tq_stream"].bytes - 2 * samples - 2 * 12 in (7, 8)  # samples, record table, names '108' '97'
    assert build.flash_bytes - sections[".tq_stream"].bytes < 32 * 1024 and build.ram_bytes < 8 * 1024
    assert {"chain": 2068}.items() <= {s.name: s.bytes for s in sections[".bss"].symbols}.items()


# The bit-exact check with a real model: the vibration CNN of tinyqi.models.vibration (random weights), converted by
# the project's converter with the chain's input scale, in a model directory whose metrics.json names the task.

@pytest.fixture(scope="module")
def vibration_model_dir(tmp_path_factory):
    import keras

    from tinyqi import convert
    from tinyqi.models.vibration import build_vibration_cnn

    keras.utils.set_random_seed(0)
    model = build_vibration_cnn([(vibration.WINDOW, 1)], 10)
    # Calibration on 105.mat (0 HP: a training recording of load3), so the streamed recordings are never seen.
    counts = load_vibration_excerpt("105", "lolo:0", sample=True).adc
    x = vibration.model_inputs(vibration.windows(counts, hop=256))
    path = tmp_path_factory.mktemp("vib-model")
    (path / "model_int8.tflite").write_bytes(convert.to_int8_tflite(model, [x], input_scale=vibration.INPUT_SCALE))
    write_metrics(path)
    write_manifest(path, "train")  # seals the hand-made model directory (tinyqi.manifest)
    return path


@pytest.fixture(scope="module")
def monitor_run(vibration_model_dir, offline, core):
    """`tinyqi build --app monitor` on the held-out sample recordings, then `tinyqi emulate --app monitor`."""
    records = [arg for record in RECORDS for arg in ("--record", record)]
    return build_and_emulate(vibration_model_dir, core, *records, "--sample")


@pytest.mark.slow
@needs_firmware
def test_vibration_window_lines_equal_the_reference_bit_for_bit(monitor_run, vibration_model_dir):
    built, emulated, summary = monitor_run
    assert emulated.returncode == 0, emulated.stderr
    assert [(r["record"], r["seconds"]) for r in summary["records"]] == [("108", 2.0), ("97", 1.2705), ("237", 2.0)]
    assert summary["task"] == "vibration" and summary["mismatches"] == 0 and summary["windows_compared"] == 60
    assert all(r["firmware_windows"] == r["reference_windows"] > 10 for r in summary["records"])
    assert "windows compared: 60, mismatches: 0" in emulated.stdout
    manifest = json.loads((vibration_model_dir / "firmware" / ENV / "build.json").read_text())
    assert manifest["task"] == "vibration" and [r["start"] for r in manifest["records"]] == [0, 45739, 0]
    assert "bundled sample" in built.stdout and "monitor firmware: flash" in built.stdout


@pytest.mark.slow
@needs_firmware
def test_vibration_monitor_reports_cycles_size_and_the_energy_of_the_job(monitor_run):
    _, emulated, summary = monitor_run
    assert 20 * vibration.WINDOW < summary["chain_cycles_per_window"] < 100 * vibration.WINDOW
    assert summary["model_cycles_per_window"] > 50_000
    assert summary["firmware_flash_bytes"] < 32 * 1024 and summary["ram_bytes"] < 8 * 1024
    assert summary["stream_flash_bytes"] == 2 * (2 * 24_000 + 15_246) + 3 * 12 + 12  # samples, table, names
    energy = summary["energy"]
    parts = energy["current_parts_ua"]
    assert set(parts) == {"chain", "model", "wake_ups", "fifo_read", "sleep"}
    assert energy["average_current_ua"] == pytest.approx(sum(parts.values()))
    assert energy["windows_per_minute"] == 1 and energy["energy_per_window_uj"] == pytest.approx(
        energy["average_power_uw"] * 60)
    assert 365 < energy["battery_days"] < 3650
    assert "not included" in energy["sensor"]
    assert "uJ per window" in emulated.stdout and "days on a CR2032" in emulated.stdout


def test_excerpts_are_held_out_recordings_of_the_split():
    from tinyqi.data import cwru

    first = load_vibration_excerpt("97", "load3", sample=True)  # default: the whole test block of 97.mat
    assert (first.start, len(first.adc), first.rate_hz, first.seconds) == (45739, 15246, 12000, 1.2705)
    counts = vibration.counts_from_g(cwru.to_model_rate(cwru.read_sample()[97], cwru.NORMAL_RATE_HZ))
    segment = cwru.test_segment(cwru.RECORDINGS[0], len(counts), 3)
    # From the default start, the monitor's windows are the run's own test windows of the recording.
    np.testing.assert_array_equal(vibration.windows(first.adc), cwru.segment_windows(counts, segment, 1024))
    later = load_vibration_excerpt("108.mat", "load3", 1.0, 0.5, sample=True)
    assert (later.record, later.start, len(later.adc)) == ("108", 6000, 12000) and "bundled sample" in later.source
    assert load_vibration_excerpt("105", "lolo:0", 0.5, sample=True).record == "105"


@pytest.mark.parametrize("record, kwargs, needle", [
    ("105", {}, "105.mat (IR007, 0 HP) trains the model under split load3; stream a held-out recording: 97, 108"),
    ("5", {}, "--record 5: not a CWRU recording"),
    ("97", {"start_seconds": 0}, "--start 0: the first 3.81158 s of 97.mat train the model"),
    ("108", {"seconds": 0.05}, "--seconds 0.05: shorter than one window (1024 samples"),
    ("108", {"seconds": 3}, "the test side of 108.mat under split load3 is 0 to 2 s in the bundled sample: too short "
                            "for 3 s"),
    ("108", {"start_seconds": 1.95}, "too short for one window from 1.95 s"),
])
def test_bad_excerpts_are_refused(record, kwargs, needle):
    with pytest.raises(TinyqiError) as error:
        load_vibration_excerpt(record, "load3", sample=True, **kwargs)
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_a_named_data_location_must_hold_the_recording(tmp_path):
    with pytest.raises(TinyqiError, match=r"cwru/108.mat: recording not found; fetch the data"):
        load_vibration_excerpt("108", "load3", data_dir=tmp_path)


@pytest.fixture()
def stub_run(tmp_path):
    """A vibration model directory whose options fail before the model is read."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model_int8.tflite").write_bytes(b"")
    write_metrics(run_dir)
    return run_dir


@pytest.mark.parametrize("args, needles", [
    (["build", "--app", "monitor", "--record", "105"], ["--record 105: 105.mat (IR007, 0 HP) trains the model"]),
    (["build", "--app", "monitor", "--record", "999"], ["--record 999: not a CWRU recording"]),
    (["build", "--app", "monitor", "--record", "108", "--seconds", "0.01", "--sample"], ["--seconds 0.01: shorter"]),
    (["build", "--app", "monitor", "--record", "108", "--seconds", "5", "--sample"], ["too short for 5 s"]),
    (["build", "--app", "monitor", "--record", "97", "--start", "1", "--sample"], ["--start 1: the first 3.81158 s"]),
    (["build", "--app", "monitor", "--source", "saadc"], ["--source saadc: the vibration monitor reads recorded"]),
    (["flash", "--app", "monitor", "--source", "saadc", "--dry-run"], ["the vibration monitor reads recorded"]),
    (["build", "--app", "monitor", "--record", "108", "--record", "108.mat", "--sample"],
     ["--record: 108, 108 names a record twice"]),
    (["build", "--app", "monitor", "--float"], ["--float: an option of the harness app"]),
    (["build", "--app", "monitor", "--start", "-1"], ["--start -1: must be 0 or more seconds"]),
])
def test_bad_vibration_monitor_options_are_one_line(args, needles, stub_run):
    command, rest = args[0], args[1:]
    assert_one_line_error(run_cli(command, "--board", "nrf52840", *rest, str(stub_run)), *needles)


def test_the_task_comes_from_metrics_json(stub_run, tmp_path):
    assert monitor_task(stub_run) == "vibration" and monitor_task(tmp_path) == "ecg" and monitor_task(None) == "ecg"
    (stub_run / "metrics.json").write_text(json.dumps({"task": "vibration", "dataset": {}}))
    assert_one_line_error(run_cli("build", "--board", "nrf52840", "--app", "monitor", str(stub_run)),
                          "metrics.json: no dataset.split")
    (stub_run / "metrics.json").write_text("{not json")
    assert_one_line_error(run_cli("build", "--board", "nrf52840", "--app", "monitor", str(stub_run)),
                          "metrics.json: not readable JSON")


def test_emulate_without_a_vibration_build_is_one_line(stub_run):
    assert_one_line_error(run_cli("emulate", "--app", "monitor", str(stub_run)), "no monitor build here",
                          "firmware/nrf52840-monitor-vibration")


def test_a_stream_too_large_for_flash_is_refused():
    big = Excerpt("108", 0, np.zeros(460_000, np.int16), "test", vibration.RATE_HZ)
    with pytest.raises(TinyqiError, match=r"the recorded stream \(38.3333 s, 920,000 B\) does not fit"):
        check_stream_size(NRF52840, (big,))
    check_stream_size(NRF52840, (Excerpt("108", 0, np.zeros(24_000, np.int16), "test", vibration.RATE_HZ),))


@pytest.mark.slow
def test_a_model_with_other_inputs_is_refused(tmp_path):
    """One int8 input of 1024 values at scale 1/128, zero point 0, or the chain's ints are not its inputs."""
    import keras

    from tinyqi import convert
    from tinyqi.firmware.monitor import vibration_input

    inputs = keras.Input(shape=(vibration.WINDOW, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    x = np.random.default_rng(0).normal(size=(16, vibration.WINDOW, 1)).astype(np.float32)
    (tmp_path / "model_int8.tflite").write_bytes(convert.to_int8_tflite(model, [x]))
    with pytest.raises(TinyqiError, match=r"input scale \[.*\] and zero point \[.*\]; the vibration chain's ints"):
        vibration_input(tmp_path)
    small = keras.Input(shape=(64,))
    model = keras.Model(small, keras.layers.Dense(3, activation="softmax")(small))
    (tmp_path / "model_int8.tflite").write_bytes(convert.to_int8_tflite(model, [x[:, :64, 0]]))
    with pytest.raises(TinyqiError, match=r"inputs \(64,\) int8; the vibration monitor feeds one int8 window"):
        vibration_input(tmp_path)


def test_garbled_or_truncated_vibration_output_is_one_error():
    good = "TQR record=108 samples=2048\nTQW n=0 class=1 out=-2,3 chain=40 cycles=7\n"
    with pytest.raises(TinyqiError, match="line 2 is malformed"):
        parse_monitor_output("TQR record=108 samples=2048\nTQW n=0 class=1 out=-2,3 cycles=7\n", "fw", VIBRATION)
    with pytest.raises(TinyqiError, match="reports windows=2 .* the lines give 1"):
        parse_monitor_output(good + "TQ_MONITOR_DONE samples=2048 windows=2 chain_cycles=40 model_cycles=7 "
                                    "stack=8\n", "fw", VIBRATION)
    with pytest.raises(TinyqiError, match="chain_cycles=39 .* at least 40"):
        parse_monitor_output(good + "TQ_MONITOR_DONE samples=2048 windows=1 chain_cycles=39 model_cycles=7 "
                                    "stack=8\n", "fw", VIBRATION)
    parsed = parse_monitor_output(good + "TQ_MONITOR_DONE samples=2048 windows=1 chain_cycles=50 model_cycles=7 "
                                         "stack=8\n", "fw", VIBRATION)
    assert parsed.records[0].lines == (ResultLine(0, 1, (-2, 3), 7, 40),) and parsed.done.chain_cycles == 50


@pytest.mark.slow
@needs_firmware
def test_renode_suite_expects_every_window_line(fixture_build, tmp_path):
    build, _ = fixture_build
    stream = read_stream(build.elf)
    references = [Reference(np.array([0]), np.array([[-1, 0, 26]], np.int8)),
                  Reference(np.zeros(0, np.int64), np.zeros((0, 0), np.int8))]
    robot = write_monitor_suite(build.elf, target_for_board(NRF52840), tmp_path, 300,
                                renode_expected_lines(stream, references, VIBRATION)).read_text()
    checks = [line.split("    ")[-1] for line in robot.splitlines() if line.startswith("    Next Line Should Match")]
    assert checks == ["TQR record\\=108 samples\\=7200",
                      "TQW n\\=0 class\\=2 out\\=-1,0,26 chain\\=\\\\d+ cycles\\=\\\\d+",
                      "TQR record\\=97 samples\\=12000",
                      "TQ_MONITOR_DONE samples\\=19200 windows\\=1 chain_cycles\\=\\\\d+ model_cycles\\=\\\\d+ "
                      "stack\\=\\\\d+"]
    assert "TQ(?:R|B|W|_MONITOR_DONE) .*" in robot


def test_energy_of_the_vibration_job_adds_up():
    board = get_board("nrf52840")
    figures, sampling = power_figures(board), sampling_figures(board, vibration.RATE_HZ)
    energy = vibration_job_energy(44_000, 264_000, figures, sampling, 1)
    # Per window: 308,000 cycles at 64 MHz = 4.8125 ms; 8 FIFO batches x 3 us; (1024 x 16 + 8 x 8) bits at 8 MHz.
    active = 308_000 / 64e6 + 8 * 3e-6 + (1024 * 16 + 64) / 8e6
    assert FIFO_READOUT.batch_samples == 128 and energy.active_seconds_per_window == pytest.approx(active)
    expected = active / 60 * 3.3e-3 + (1 - active / 60) * 3.16e-6
    assert energy.average_current_a == pytest.approx(expected)
    assert energy.energy_per_window_uj == pytest.approx(expected * 3.0 * 60 * 1e6)
    assert energy.active_energy_per_window_uj == pytest.approx(active * 3.3e-3 * 3.0 * 1e6)
    assert energy.battery_days == pytest.approx(CR2032.capacity_mah * 3.6 * 3.0 / (expected * 3.0) / 86_400)
    with pytest.raises(TinyqiError, match="keep the CPU busy all the time"):
        vibration_job_energy(44_000, 264_000, figures, sampling, 60 * 200)
