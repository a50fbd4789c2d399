"""The monitoring firmware (firmware/monitor): recorded ECG -> chain -> model per beat, under the Unicorn engine, beat
for beat against the Python reference; its SAADC board build; its CLI, Renode suite and energy of the whole job.

References: tinyqi.signal.ecg.run_chain on the same samples, then TFLM's int8 outputs (a real two-input ECG CNN) or a
numpy recomputation of the hand-written fixture model (tests/fixtures/monitor_model/README.md).
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from conftest import assert_one_line_error, needs_firmware, run_cli
from elftools.elf.elffile import ELFFile
from monitor_helpers import build_and_emulate, build_fixture_stream, emulate, emulate_excerpts

from tinyqi.emulate.monitor import (RecordLines, Reference, ResultLine, check_record, parse_monitor_output,
                                    read_stream, renode_expected_lines, run_monitor, write_monitor_suite)
from tinyqi.emulate.monitor_ecg import ECG
from tinyqi.emulate.renode_engine import renode_available
from tinyqi.emulate.run import target_for_board
from tinyqi.energy import CR2032, monitor_energy, power_figures, sampling_figures
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import NRF52840, get_board
from tinyqi.firmware.build import REPO_ROOT, compile_firmware
from tinyqi.signal import ecg
from tinyqi.signal.stream import load_excerpt

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "monitor_model"
DS2_RECORDS = ("100", "213", "233")  # in the bundled sample: 6 minutes each


@pytest.fixture(scope="module")
def fixture_stream_build(tmp_path_factory, offline, core):
    """The fixture model with a two-record stream (20 s of 100, then 20 s of 232): (ELF, excerpts)."""
    excerpts = tuple(load_excerpt(record, 20, sample=True) for record in ("100", "232"))
    result = build_fixture_stream(FIXTURE, tmp_path_factory.mktemp("monitor-fixture"), excerpts, core,
                                  "nrf52840-monitor")
    return result, excerpts


def fixture_outputs(x0: np.ndarray, x1: np.ndarray) -> list[tuple[int, ...]]:
    """tests/fixtures/monitor_model/README.md, in numpy."""
    sat = lambda v: int(np.clip(v, -128, 127))
    w, rr = x0.astype(np.int64), x1.astype(np.int64)
    return [(sat(b.sum() >> 5), int(b.max()), int(b.min()), sat(r[0] - r[1]), sat(r[4] + b[ecg.BEFORE, 0]))
            for b, r in zip(w, rr)]


@pytest.mark.slow
@needs_firmware
def test_fixture_monitor_beats_equal_the_python_chain(fixture_stream_build):
    """Two records in one stream: the chain restarts per record and every beat line equals numpy's."""
    build, excerpts = fixture_stream_build
    parsed = emulate_excerpts(build.elf, ECG, excerpts)
    for record, excerpt in zip(parsed.records, excerpts):
        chain = ecg.run_chain(excerpt.adc)
        expected = list(zip(chain.sample[chain.described].tolist(), fixture_outputs(chain.x0, chain.x1)))
        assert len(expected) >= 12  # 19 beats of 100, 13 of 232 (its pauses) are described
        assert [(beat.n, beat.outputs) for beat in record.lines] == expected
        assert all(beat.predicted_class == int(np.argmax(beat.outputs)) for beat in record.lines)
    done = parsed.done
    assert done.samples == sum(len(e.adc) for e in excerpts) and done.chain_cycles > 100 * done.samples
    assert 0 < done.stack_bytes < 2048
    assert [r.adc.tolist() for r in read_stream(build.elf)] == [e.adc.tolist() for e in excerpts]


@pytest.mark.slow
@needs_firmware
def test_monitor_fits_the_budget_and_keeps_the_stream_apart(fixture_stream_build):
    sections = {s.name: s for s in fixture_stream_build[0].breakdown.sections}
    assert sections[".tq_stream"].bytes == 2 * 40 * ecg.FS_IN + 2 * 12 + 2 * 4  # samples, record table, names
    assert {s.name for s in sections[".tq_stream"].symbols} == {"tq_stream_samples", "tq_stream_records"}
    assert sections[".stack"].bytes == 2048 and fixture_stream_build[0].ram_bytes < 8 * 1024
    assert "chain" in {s.name for s in sections[".bss"].symbols}


@pytest.mark.slow
@needs_firmware
def test_saadc_build_reads_the_adc_and_sleeps(offline, core, tmp_path):
    """The board path builds (never run here): no recorded stream, an EasyDMA ring, a WFI between samples."""
    result = compile_firmware(FIXTURE, "nrf52840", tmp_path, core, environment="nrf52840-monitor-saadc")
    sections = {s.name: s for s in result.breakdown.sections}
    assert ".tq_stream" not in sections and result.ram_bytes < 8 * 1024
    assert {"ring": 128}.items() <= {s.name: s.bytes for s in sections[".bss"].symbols}.items()
    with open(result.elf, "rb") as handle:
        elf = ELFFile(handle)
        (symbol,) = elf.get_section_by_name(".symtab").get_symbol_by_name("tq_source_sample")
        text = elf.get_section_by_name(".text")
        start = (symbol["st_value"] & ~1) - text["sh_addr"]
        code = text.data()[start:start + symbol["st_size"]]
    assert b"\x30\xbf" in code  # WFI (Thumb 0xBF30)


# The bit-exact check with a real model: the ECG CNN of tinyqi.models.ecg (random weights: its int8 outputs vary
# from beat to beat, which is all the comparison needs), converted by the project's own converter.

@pytest.fixture(scope="module")
def ecg_model_dir(tmp_path_factory):
    import keras

    from tinyqi import convert
    from tinyqi.manifest import write_manifest
    from tinyqi.models.ecg import build_ecg_cnn

    keras.utils.set_random_seed(0)
    model = build_ecg_cnn([(ecg.WINDOW, len(ecg.WAVE_CHANNELS)), (len(ecg.RR_FEATURES),)], 5)
    chain = ecg.run_chain(load_excerpt("118", 120, sample=True).adc)  # DS1: calibration never sees the test records
    xs = [chain.x0.astype(np.float32) * ecg.INPUT_SCALE, chain.x1.astype(np.float32) * ecg.INPUT_SCALE]
    path = tmp_path_factory.mktemp("ecg-model")
    (path / "model_int8.tflite").write_bytes(convert.to_int8_tflite(model, xs))
    write_manifest(path, "train")  # consumers check a model directory's files belong together (tinyqi.manifest)
    return path


@pytest.fixture(scope="module")
def monitor_run(ecg_model_dir, offline, core):
    """`tinyqi build --app monitor` on 60 s of three DS2 records, then `tinyqi emulate --app monitor`."""
    records = [arg for record in DS2_RECORDS for arg in ("--record", record)]
    return build_and_emulate(ecg_model_dir, core, *records, "--seconds", "60", "--sample")


@pytest.mark.slow
@needs_firmware
def test_monitor_beat_lines_equal_the_reference_bit_for_bit(monitor_run):
    _, emulated, summary = monitor_run
    assert emulated.returncode == 0, emulated.stderr
    assert [(r["record"], r["seconds"]) for r in summary["records"]] == [(r, 60.0) for r in DS2_RECORDS]
    assert summary["mismatches"] == 0 and summary["beats_compared"] >= 150
    assert all(r["firmware_beats"] == r["reference_beats"] > 40 for r in summary["records"])
    assert "beats compared: " in emulated.stdout and "mismatches: 0" in emulated.stdout


@pytest.mark.slow
@needs_firmware
def test_monitor_reports_cycles_size_and_the_energy_of_the_job(monitor_run):
    built, emulated, summary = monitor_run
    assert 20_000 < summary["chain_cycles_per_second"] < 1_000_000
    assert summary["model_cycles_per_beat"] > 10_000
    assert summary["firmware_flash_bytes"] < 32 * 1024 and summary["ram_bytes"] < 8 * 1024
    assert summary["stream_flash_bytes"] == 2 * 3 * 60 * ecg.FS_IN + 3 * 12 + 3 * 4  # samples, table, names
    energy = summary["energy"]
    parts = energy["current_parts_ua"]
    assert set(parts) == {"chain", "model", "wake_ups", "adc", "sleep"}
    assert energy["average_current_ua"] == pytest.approx(sum(parts.values()))
    assert energy["energy_per_beat_uj"] == pytest.approx(energy["average_power_uw"] / (72 / 60))
    assert 30 < energy["battery_days"] < 3000
    assert "uJ per beat" in emulated.stdout and "days on a CR2032" in emulated.stdout
    assert "monitor firmware: flash" in built.stdout and "bundled sample" in built.stdout


@pytest.mark.parametrize("unit, chain", [("beat", None), ("window", 40)])
def test_a_differing_line_is_counted_and_shown(unit, chain):
    """Both tasks' lines go through the same check (tinyqi.emulate.monitor.check_record); window lines carry chain
    cycles, which the check leaves to TQ_MONITOR_DONE."""
    line = lambda n, cls, out: ResultLine(n, cls, out, 9, chain)
    reference = Reference(np.array([100, 400]), np.array([[5, -3], [1, 2]], np.int8))
    same = RecordLines("100", 1000, (line(100, 0, (5, -3)), line(400, 1, (1, 2))))
    assert check_record(same, reference, unit).mismatches == 0
    wrong = RecordLines("100", 1000, (line(100, 0, (5, -3)), line(400, 1, (1, 3))))
    check = check_record(wrong, reference, unit)
    assert check.mismatches == 1
    assert check.first_mismatch == f"{unit} 1: firmware n=400 out=1,3, reference n=400 out=1,2"
    wrong_class = RecordLines("100", 1000, (line(100, 1, (5, -3)), line(400, 1, (1, 2))))
    assert check_record(wrong_class, reference, unit).mismatches == 1
    missing = RecordLines("100", 1000, (line(100, 0, (5, -3)),))
    assert check_record(missing, reference, unit).first_mismatch.endswith("firmware none, reference n=400 out=1,2")


def test_garbled_or_truncated_monitor_output_is_one_error():
    good = "TQR record=100 samples=10\nTQB n=5 class=1 out=-2,3 cycles=7\n"
    with pytest.raises(TinyqiError, match="line 2 is malformed"):
        parse_monitor_output("TQR record=100 samples=10\nTQB n=5 class=1 out= cycles=7\n", "fw", ECG)
    with pytest.raises(TinyqiError, match="reports beats=2 .* the lines give 1"):
        parse_monitor_output(good + "TQ_MONITOR_DONE samples=10 beats=2 chain_cycles=1 model_cycles=7 stack=8\n",
                             "fw", ECG)
    parsed = parse_monitor_output(good + "TQ_MONITOR_DONE samples=10 beats=1 chain_cycles=1 model_cycles=7 stack=8\n",
                                  "fw", ECG)
    assert parsed.records[0].lines == (ResultLine(5, 1, (-2, 3), 7),) and parsed.done.stack_bytes == 8


@pytest.mark.slow
@needs_firmware
def test_renode_suite_waits_for_every_reference_line(fixture_stream_build, tmp_path):
    build, excerpts = fixture_stream_build
    stream = read_stream(build.elf)
    references = [Reference(np.array([1231, 1515]), np.array([[-1, 0, 26], [0, -1, 28]], np.int8)),
                  Reference(np.zeros(0, np.int64), np.zeros((0, 0), np.int8))]
    expected = renode_expected_lines(stream, references, ECG)
    robot = write_monitor_suite(build.elf, target_for_board(NRF52840), tmp_path, 300, expected)
    text = robot.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nrf52840.repl", "tinyqi.resc", "tinyqi.robot"]
    assert f"include @{(tmp_path / 'tinyqi.resc').resolve()}" in text and "timeout=300" in text
    assert f"CloseFileBackend @{(tmp_path / 'uart0.log').resolve()}" in text
    checks = [line.split("    ")[-1] for line in text.splitlines() if line.startswith("    Next Line Should Match")]
    # Robot arguments: '=' escaped, the regex's backslashes doubled (Robot's escape character).
    assert checks == ["TQR record\\=100 samples\\=7200",
                      "TQB n\\=1231 class\\=2 out\\=-1,0,26 cycles\\=\\\\d+",
                      "TQB n\\=1515 class\\=2 out\\=0,-1,28 cycles\\=\\\\d+",
                      "TQR record\\=232 samples\\=7200",
                      "TQ_MONITOR_DONE samples\\=14400 beats\\=2 chain_cycles\\=\\\\d+ model_cycles\\=\\\\d+ "
                      "stack\\=\\\\d+"]
    assert "@@" not in text


def test_energy_of_the_job_adds_up():
    board = get_board("nrf52840")
    figures, sampling = power_figures(board), sampling_figures(board, 360)
    energy = monitor_energy(64_000, 128_000, figures, sampling, 60)
    # CPU: 64,000 + 1 beat/s x 128,000 cycles at 64 MHz = 0.3 %; wake-ups 360 / 64 x 3 us = 0.0017 %.
    assert energy.cpu_duty == pytest.approx(0.003 + 360 / 64 * 3e-6)
    expected = ((0.001 + 0.002 + 360 / 64 * 3e-6) * 3.3e-3 + 360 * 12e-6 * 1.24e-3
                + (1 - energy.cpu_duty) * 3.16e-6)
    assert energy.average_current_a == pytest.approx(expected)
    assert energy.energy_per_beat_uj == pytest.approx(expected * 3.0 * 1e6)
    assert energy.battery_days == pytest.approx(CR2032.capacity_mah * 3.6 * 3.0 / (expected * 3.0) / 86_400)
    with pytest.raises(TinyqiError, match="no sampling profile"):
        sampling_figures(get_board("stm32l4r5"), 360)


def test_energy_model_wakes_as_often_as_the_saadc_build():
    """The energy model's wake-ups per sample are the board path's: the CPU sleeps until the SAADC's EasyDMA ring of
    RING_SLOTS samples is full (the END event), not until each result (RESULTDONE)."""
    source = (REPO_ROOT / "firmware" / "monitor" / "source_saadc.c").read_text()
    ring_slots = int(re.search(r"#define RING_SLOTS (\d+)u", source).group(1))
    assert get_board("nrf52840").sampling.samples_per_wake_up == ring_slots
    assert "SAADC_INTENSET = SAADC_INTEN_END;" in source and "RESULTDONE" not in source


def test_sampling_figures_name_their_source_and_status():
    sampling = get_board("nrf52840").sampling
    for figure in (sampling.adc_current, sampling.conversion_time, sampling.wake_up_time, sampling.sleep_current):
        assert figure.status in ("secondary", "unverified") and len(figure.source) > 40
    assert "ISAADC,RUN" in sampling.adc_current.source and sampling.adc_current.status == "secondary"


def test_excerpts_come_from_the_named_place(tmp_path):
    excerpt = load_excerpt("213", 30, 12.5, sample=True)
    assert (excerpt.start, len(excerpt.adc), excerpt.adc.dtype) == (4500, 30 * 360, np.int16)
    assert "bundled sample" in excerpt.source
    with pytest.raises(TinyqiError, match=r"--seconds 5: too short"):
        load_excerpt("100", 5, sample=True)
    with pytest.raises(TinyqiError, match=r"holds 360 s, fewer than the 350 \+ 30 s"):
        load_excerpt("100", 30, 350, sample=True)
    with pytest.raises(TinyqiError, match=r"record 101: not in the bundled sample"):
        load_excerpt("101", 30, sample=True)
    with pytest.raises(TinyqiError, match=r"mitdb/100.hea: record not found"):  # a named location: no fallback
        load_excerpt("100", 30, data_dir=tmp_path)


@pytest.mark.parametrize("args, needles", [
    (["build", "--board", "nrf52840", "--app", "watch"], ["--app watch: unknown app; choose one of harness, monitor"]),
    (["emulate", "--app", "watch"], ["--app watch: unknown app"]),
    (["build", "--board", "nrf52840", "--app", "monitor", "--record", "999", "--sample"], ["record 999: not in"]),
    (["build", "--board", "nrf52840", "--app", "monitor", "--seconds", "4"], ["--seconds 4: too short"]),
    (["build", "--board", "nrf52840", "--app", "monitor", "--source", "saadc", "--record", "100"],
     ["--record: the saadc source reads the board's ADC"]),
    (["build", "--board", "stm32l4r5", "--app", "monitor"], ["built for nrf52840 only"]),
    (["build", "--board", "nrf52840", "--app", "monitor", "--float"], ["--float: an option of the harness app"]),
    (["build", "--board", "nrf52840", "--record", "100"], ["--source and --record are options of --app monitor"]),
    (["build", "--board", "nrf52840", "--app", "monitor", "--record", "100", "--record", "100"],
     ["--record: 100, 100 names a record twice"]),
    (["flash", "--board", "nrf52840", "--app", "monitor", "--source", "radio"],
     ["--source radio: unknown sample source; choose one of stream, saadc"]),
    (["build", "--board", "nrf52840", "--app", "monitor", "--start", "-5"], ["--start -5: must be 0 or more seconds"]),
])
def test_bad_monitor_options_are_one_line(args, needles, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model_int8.tflite").write_bytes(b"")
    assert_one_line_error(run_cli(*args, str(run_dir)), *needles)


def test_emulate_monitor_wants_the_model_directory(tmp_path):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    assert_one_line_error(run_cli("emulate", "--app", "monitor", str(elf)), "--app monitor takes the model directory")
    assert_one_line_error(run_cli("emulate", "--app", "monitor", str(tmp_path)), "no monitor build here")


@pytest.mark.slow
@needs_firmware
def test_flash_dry_run_uploads_the_saadc_build_by_default(ecg_model_dir):
    result = run_cli("flash", "--board", "nrf52840", "--app", "monitor", str(ecg_model_dir), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "--environment nrf52840-monitor-saadc --target upload" in result.stdout
    assert "nrf52840-monitor-saadc/pio/nrf52840-monitor-saadc/firmware.elf" in result.stdout
    assert "records: none (SAADC)" in result.stdout
    stream = run_cli("flash", "--board", "nrf52840", "--app", "monitor", "--source", "stream", "--record", "233",
                     "--seconds", "20", "--sample", str(ecg_model_dir), "--dry-run")
    assert stream.returncode == 0, stream.stderr
    assert "--environment nrf52840-monitor --target upload" in stream.stdout
    assert "records: 233 samples 0..7199" in stream.stdout


@pytest.mark.slow
@needs_firmware
def test_bench_job_row_of_an_int8_variant(ecg_model_dir, offline, core, tmp_path, monkeypatch):
    """The bench's headline figures for one variant: the same build, run and check as the CLI, on a short stream."""
    from tinyqi.bench.job import JOB_KEYS, measure_job
    from tinyqi.bench.measure import BenchSettings
    from tinyqi.bench.variants import Variant

    monkeypatch.setenv("TINYQI_PIO_CORE", str(core))
    settings = BenchSettings(get_board("nrf52840"), "unicorn", tmp_path)
    excerpts = (load_excerpt("232", 20, sample=True),)
    job = measure_job(Variant("int8-dense", ecg_model_dir, False, "int8"), settings, excerpts, 72)
    assert set(JOB_KEYS) <= set(job) and job["mismatches"] == 0 and job["beats_compared"] > 10
    assert job["energy_per_beat_uj"] > 0 and job["battery_days"] > 0
    assert job["elf"].startswith(str(tmp_path / "firmware" / "int8-dense" / "nrf52840-monitor"))
    assert measure_job(Variant("float32-dense", ecg_model_dir, True, "float"), settings, excerpts, 72) is None


def test_bench_headline_table_shows_the_job():
    from tinyqi.bench.report import job_section

    job = {"energy_per_beat_uj": 66.8, "battery_days": 351.2, "average_current_ua": 26.7,
           "chain_cycles_per_second": 86298.4, "model_cycles_per_beat": 165000.0, "firmware_flash_bytes": 14908,
           "ram_bytes": 7188, "beats_compared": 448, "mismatches": 0}
    bench = {"job": {"records": [{"record": "100", "seconds": 60.0, "source": "MIT-BIH record 100, sample"}],
                     "beats_per_minute": 72.0, "model": "docs/emulation.md"},
             "rows": [{"variant": "float32-dense", "accuracy": 0.9, "job": None},
                      {"variant": "int8-dense", "accuracy": 0.8525, "job": job}]}
    lines = job_section(bench)
    assert "| int8-dense | 0.8525 | 66.80 | 351 | 26.70 | 86,298 | 165,000 | 14,908 | 7,188 | 448 | 0 |" in lines
    assert not any(line.startswith("| float32-dense") for line in lines)
    assert job_section({"job": None, "rows": []}) == []


@pytest.mark.slow
@pytest.mark.skipif(not renode_available(), reason="Renode (renode, renode-test) is not installed")
def test_renode_runs_the_monitor_suite(monitor_run, ecg_model_dir):
    result = run_monitor(ecg_model_dir, NRF52840, "renode", budget=500_000_000)
    assert result.mismatches == 0 and result.compared >= 150


@pytest.mark.slow
def test_a_model_without_the_chain_inputs_is_refused(tmp_path):
    import keras

    from tinyqi import convert
    from tinyqi.firmware.monitor import chain_inputs

    inputs = keras.Input(shape=(64,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    (tmp_path / "model_int8.tflite").write_bytes(
        convert.to_int8_tflite(model, [np.random.default_rng(0).normal(size=(16, 64)).astype(np.float32)]))
    with pytest.raises(TinyqiError, match=r"inputs \(64,\) int8; the monitor feeds the ECG chain's two int8 inputs"):
        chain_inputs(tmp_path)


@pytest.mark.slow
@needs_firmware
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm is not installed")
def test_qemu_prints_the_same_beats_as_unicorn(fixture_stream_build):
    """A second emulator (no cycle model: cycles read 0) gives the same records and beat lines."""
    elf = fixture_stream_build[0].elf
    _, unicorn = emulate(elf, ECG)
    _, qemu = emulate(elf, ECG, "qemu")
    strip = lambda parsed: [(r.name, r.samples, [(b.n, b.predicted_class, b.outputs) for b in r.lines])
                            for r in parsed.records]
    assert strip(qemu) == strip(unicorn) and qemu.done.samples == unicorn.done.samples
