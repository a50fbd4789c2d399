"""Noise robustness (issue 12): MIT-BIH Noise Stress Test noise added to the test records' raw samples at a given SNR,
scaled as PhysioNet's `nst` does (tinyqi.data.nstdb), and `tinyqi robust RUN --noise ... --snr ...`.

The scaling is checked on synthetic signals whose QRS amplitude and noise level are known; the command end to end on
a quick bundled-sample run with the real noise records (../shared/data/nstdb-noise or $TINYQI_DATA/nstdb-noise;
skipped without them)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import REAL_DATA, assert_one_line_error, real_dataset, run_cli

from tinyqi.data import mitdb, nstdb, store
from tinyqi.errors import TinyqiError
from tinyqi.manifest import write_manifest
from tinyqi.signal import ecg as chain

FS = chain.FS_IN


def synthetic_record(name: str = "900", seconds: int = 400, pp: int = 400, level: int = 0) -> mitdb.Record:
    """Flat baseline at `level` with a triangular 'N' QRS of peak-to-peak `pp` counts every 0.8 s, and a 'V' beat of
    twice that size every tenth beat (nst measures normal QRS complexes only)."""
    n = seconds * FS
    adc = np.full(n, level, dtype=np.int64)
    times = np.arange(FS, n - FS, int(0.8 * FS))
    symbols = np.array(["V" if i % 10 == 9 else "N" for i in range(len(times))])
    for t, s in zip(times, symbols):
        height = pp * (2 if s == "V" else 1)
        adc[t - 5 : t + 6] += (height * (1 - np.abs(np.arange(-5, 6)) / 5)).astype(np.int64)
    return mitdb.Record(name, adc.astype(np.int16), times, symbols)


def gaussian_noise(seconds: int = 600, std: float = 30.0, seed: int = 1) -> np.ndarray:
    return np.rint(np.random.default_rng(seed).normal(0, std, seconds * FS)).astype(np.int64)


# --- nst's definitions ---------------------------------------------------------------------------------------------

def test_qrs_amplitude_is_sigamps_trimmed_peak_to_peak_of_normal_beats():
    rec = synthetic_record(pp=400)
    assert nstdb.qrs_amplitude(rec) == 400.0  # the V beats (800 p-p) are not normal: not measured
    # 300 normal beats measured at most, 5 % trimmed at each end: amplitudes 1..400 -> mean of 16..285
    adc = np.zeros(400 * FS, dtype=np.int64)
    times = np.arange(1, 401) * FS - FS // 2
    for i, t in enumerate(times):
        adc[t] = i + 1
    rec = mitdb.Record("901", adc.astype(np.int16), times, np.array(["N"] * 400))
    assert nstdb.qrs_amplitude(rec) == pytest.approx(np.mean(np.arange(16, 286)))


def test_noise_amplitude_is_the_trimmed_rms_about_each_seconds_mean():
    square = np.tile(np.r_[np.full(FS // 2, 10), np.full(FS // 2, -10)], 400) + 500  # offset removed per chunk
    assert nstdb.noise_amplitude(square) == pytest.approx(10.0)
    noise = gaussian_noise(std=30.0)
    assert nstdb.noise_amplitude(noise) == pytest.approx(30.0, rel=0.02)


@pytest.mark.parametrize("snr", [12.0, 6.0, 0.0])
def test_scaling_gives_the_requested_snr(snr):
    """Measured back per nst's definition on what was added: 10 log10((p-p^2 / 8) / rms^2) equals the request."""
    clean = synthetic_record(pp=200)
    noise = gaussian_noise(std=30.0)
    noisy, done = nstdb.add_noise(clean, noise, snr)
    added = noisy.adc.astype(np.int64) - clean.adc.astype(np.int64)
    assert done["clipped_samples"] == 0
    assert nstdb.qrs_amplitude(clean) == 200.0
    measured = nstdb.snr_db(nstdb.qrs_amplitude(clean), nstdb.noise_amplitude(added))
    assert measured == pytest.approx(snr, abs=0.1)
    # the closed form: the gain puts S / (N a^2) exactly at the request
    a = nstdb.noise_gain(400.0, 30.0, snr)
    assert nstdb.snr_db(400.0, 30.0 * a) == pytest.approx(snr, abs=1e-9)


def test_noise_is_deterministic_and_differs_by_record():
    noise = gaussian_noise(seconds=300)
    a1, d1 = nstdb.add_noise(synthetic_record("100", seconds=200), noise, 6.0)
    a2, d2 = nstdb.add_noise(synthetic_record("100", seconds=200), noise, 6.0)
    b, db = nstdb.add_noise(synthetic_record("103", seconds=200), noise, 6.0)
    np.testing.assert_array_equal(a1.adc, a2.adc)
    assert d1 == d2 and d1["offset"] == nstdb.noise_offset("100", len(noise)) != db["offset"]
    assert not np.array_equal(a1.adc, b.adc)
    assert 0 <= db["offset"] < len(noise)


def test_noise_segment_starts_at_zero_and_wraps_without_a_step():
    noise = np.arange(100, dtype=np.int64) ** 2
    seg = nstdb.noise_segment(noise, offset=90, length=250)
    assert seg[0] == 0 and len(seg) == 250
    np.testing.assert_array_equal(np.diff(seg[:10]), np.diff(noise[90:100]))
    assert seg[10] == seg[9] and seg[110] == seg[109]  # the two wraps: no step
    np.testing.assert_array_equal(np.diff(seg[10:110]), np.diff(noise[:100]))


def test_noisy_samples_are_clipped_to_the_11_bit_range_and_invalid_stays_invalid():
    clean = synthetic_record(seconds=320, pp=400, level=900)  # QRS tops reach 1,300: above the ADC's 1,023
    adc = clean.adc.copy()
    adc[5000:5100] = chain.INVALID
    clean = mitdb.Record(clean.name, adc, clean.ann_sample, clean.ann_symbol)
    noisy, done = nstdb.add_noise(clean, gaussian_noise(std=30.0), -6.0)
    valid = noisy.adc != chain.INVALID
    assert np.array_equal(valid, clean.adc != chain.INVALID)
    assert noisy.adc[valid].min() >= nstdb.ADC_MIN and noisy.adc[valid].max() <= nstdb.ADC_MAX
    assert done["clipped_samples"] > 0 and noisy.adc[valid].max() == nstdb.ADC_MAX


def test_unknown_noise_and_missing_noise_files_are_one_clear_error(tmp_path):
    with pytest.raises(TinyqiError, match="noise 'em': unknown"):
        nstdb.read_noise(tmp_path, "em")
    with pytest.raises(TinyqiError, match=r"nstdb-noise: no MIT-BIH Noise Stress Test noise records there .*"
                                          r"tinyqi data fetch nstdb"):
        nstdb.noise_folder(tmp_path)


# --- the real noise records ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def noise_dir():
    return real_dataset("nstdb-noise")


@pytest.mark.realdata
def test_store_maps_nstdb_to_its_folder(noise_dir):
    assert store.dataset_dir("nstdb", REAL_DATA) == noise_dir
    assert store.is_complete("nstdb", REAL_DATA)
    assert sorted(store.checksums("nstdb")) == ["bw.dat", "bw.hea", "ma.dat", "ma.hea"]


@pytest.mark.realdata
def test_real_noise_records_read_through_the_mitdb_reader(noise_dir):
    for name in nstdb.NOISES:
        x = nstdb.read_noise(noise_dir, name)
        assert len(x) == 650_000 and x.dtype == np.int64
        assert 5 < nstdb.noise_amplitude(x) < 50  # counts, 200 per mV


@pytest.mark.realdata
def test_fetch_from_a_local_copy_verifies_and_installs(noise_dir, tmp_path):
    result = run_cli("data", "fetch", "nstdb", "--from", str(noise_dir), "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "nstdb-noise").iterdir()) == ["bw.dat", "bw.hea", "ma.dat", "ma.hea"]


# --- `tinyqi robust RUN --noise ... --snr ...` ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("noise") / "run"
    result = run_cli("train", "ecg", "--sample", "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.mark.realdata
@pytest.mark.slow
def test_robust_noise_end_to_end_on_the_sample_run(sample_run, noise_dir):
    result = run_cli("robust", str(sample_run), "--noise", "ma,bw", "--snr", "12,6", "--data-dir", str(REAL_DATA))
    assert result.returncode == 0, result.stderr
    assert "QRS Se" in result.stdout and "BUNDLED SAMPLE" in result.stdout
    data = json.loads((sample_run / "robustness.json").read_text())
    metrics = json.loads((sample_run / "metrics.json").read_text())
    section = data["noise"]
    assert data["sample"] is True and section["records"] == ["100", "200", "202", "213", "232", "233"]
    assert set(section["noisy"]) == {"ma", "bw"} and all(set(v) == {"12", "6"} for v in section["noisy"].values())
    clean = section["clean"]
    # the clean reference is the training's own scoring, and detection as `tinyqi detect ecg` counts it
    assert clean["device_macro_f1"] == metrics["int8_device"]["macro_f1"]
    assert clean["macro_f1"] == metrics["int8"]["macro_f1"]
    detect = run_cli("detect", "ecg", "--sample", "--out", str(sample_run.parent / "detect.json"))
    assert detect.returncode == 0, detect.stderr
    ds2 = json.loads((sample_run.parent / "detect.json").read_text())["totals"]["DS2"]
    assert (clean["detection_tp"], clean["detection_fn"], clean["detection_fp"]) == (ds2["tp"], ds2["fn"], ds2["fp"])
    # muscle noise at 6 dB costs false detections; each row carries every field the table shows
    assert section["noisy"]["ma"]["6"]["detection_ppv"] < clean["detection_ppv"]
    for row in [clean, *(r for v in section["noisy"].values() for r in v.values())]:
        assert {"detection_se", "detection_ppv", "device_macro_f1", "device_macro_f1_nsv", "N_se", "N_ppv", "S_se",
                "S_ppv", "V_se", "V_ppv"} <= set(row)
    assert set(section["noisy"]["ma"]["6"]["per_record"]["213"]) == {"offset", "gain", "clipped_samples"}

    # a later shift run keeps the noise section (same model); the same noise again gives the same figures
    assert run_cli("robust", str(sample_run), "--shifts", "0").returncode == 0
    again = json.loads((sample_run / "robustness.json").read_text())
    assert again["noise"] == section and set(again["shifts"]) == {"0"}
    assert again["shifts"]["0"]["device_macro_f1"] == clean["device_macro_f1"]
    result = run_cli("robust", str(sample_run), "--noise", "ma", "--snr", "6", "--data-dir", str(REAL_DATA))
    assert result.returncode == 0, result.stderr
    third = json.loads((sample_run / "robustness.json").read_text())
    assert third["noise"]["noisy"]["ma"]["6"] == section["noisy"]["ma"]["6"] and "shifts" in third


@pytest.mark.slow
def test_robust_noise_bad_input_is_one_line(sample_run, tmp_path):
    run = str(sample_run)
    assert_one_line_error(run_cli("robust", run, "--noise", "em"), "--noise em", "unknown noise 'em'", "ma", "bw")
    assert_one_line_error(run_cli("robust", run, "--noise", "ma", "--snr", "12,loud"), "--snr 12,loud",
                          "'loud' is not a number")
    assert_one_line_error(run_cli("robust", run, "--snr", "12"), "--snr 12", "needs --noise")
    assert_one_line_error(run_cli("robust", run, "--noise", "ma", "--data-dir", str(tmp_path)),
                          str(tmp_path / "nstdb-noise"), "tinyqi data fetch nstdb")
    assert_one_line_error(run_cli("robust", run, "--shifts", "0,x"), "--shifts 0,x")


@pytest.mark.slow
def test_robust_noise_on_a_vibration_run_is_one_line(sample_run, tmp_path):
    """A run whose metrics.json says CWRU (the ECG run relabelled and sealed again: no vibration training needed)."""
    run = tmp_path / "vib"
    shutil.copytree(sample_run, run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["dataset"]["name"] = "cwru"
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "robustness.json").unlink(missing_ok=True)
    write_manifest(run, "train")
    assert_one_line_error(run_cli("robust", str(run), "--noise", "ma", "--data-dir", str(REAL_DATA)),
                          "not an ECG run (dataset cwru)", "noise robustness")


@pytest.mark.realdata
@pytest.mark.slow
def test_robust_noise_scores_a_compressed_variant(sample_run, noise_dir):
    result = run_cli("compress", str(sample_run), "--method", "magnitude-global")
    assert result.returncode == 0, result.stderr[-2000:]
    variant = sample_run / "variants" / "magnitude-global"
    result = run_cli("robust", str(variant), "--noise", "ma", "--snr", "6", "--data-dir", str(REAL_DATA))
    assert result.returncode == 0, result.stderr
    section = json.loads((variant / "robustness.json").read_text())["noise"]
    metrics = json.loads((variant / "metrics.json").read_text())
    assert section["clean"]["device_macro_f1"] == metrics["int8_device"]["macro_f1"]
    assert set(section["noisy"]) == {"ma"}
