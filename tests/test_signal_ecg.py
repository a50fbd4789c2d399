"""The ECG device chain's Python reference (tinyqi.signal.ecg): filter algebra, delay, detection, scoring."""

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi.data.ecg import load_records
from tinyqi.evaluate import device_scoring
from tinyqi.signal import ecg, match
from tinyqi.signal.detection import detection_report


def test_box_is_a_causal_moving_sum():
    x = np.random.default_rng(0).integers(-2000, 2000, 500)
    np.testing.assert_array_equal(ecg.box(x, 6), np.convolve(x, np.ones(6, np.int64))[: len(x)])


def test_chain_delay_maps_an_event_to_its_chain_sample():
    # A narrow pulse at input sample n: the high-passed signal's extreme sits at chain sample (n + CHAIN_DELAY) / 2.
    n = 3001
    x = np.zeros(6000, np.int16)
    x[n] = 1000
    b = ecg.highpass(ecg.lowpass_decimate(x))
    assert np.argmax(b) * ecg.DECIMATION - ecg.CHAIN_DELAY == n
    assert ecg.CHAIN_DELAY == 259


def test_invalid_samples_hold_the_last_valid_value():
    x = np.array([5, 7, ecg.INVALID, ecg.INVALID, 9, ecg.INVALID])
    np.testing.assert_array_equal(ecg.hold_invalid(x), [5, 7, 7, 7, 9, 9])
    assert ecg.hold_invalid(np.array([ecg.INVALID, 3]))[0] == 0


@pytest.mark.parametrize("signal", ["flat", "saturated", "invalid", "alternating"])
def test_no_beats_from_a_dead_or_railed_lead(signal):
    n = 360 * 20
    x = {"flat": np.zeros(n), "saturated": np.full(n, 32767), "invalid": np.full(n, ecg.INVALID),
         "alternating": np.where(np.arange(n) % 2, 32767, -32767)}[signal].astype(np.int16)
    beats = ecg.run_chain(x)
    assert len(beats.fiducial) == 0 and len(beats.x0) == 0


def test_detector_finds_the_sample_beats():
    records, _ = load_records(sample=True)
    report = detection_report(records)
    total = report["totals"]["all"]
    assert total["se"] > 0.995 and total["ppv"] > 0.995, total


def test_detection_threshold_is_three_eighths_from_noise_to_signal_level():
    assert ecg.thresholds(1800, 1000) == (1300, 650)  # npk + 3/8 (spk - npk); search-back at half of it
    assert ecg.thresholds(100, 300) == (225, 112)  # a signal level below the noise level (after decays): floor shifts


def test_matching_is_one_to_one_within_150_ms():
    ref = np.array([1000, 1300, 2000])
    det = np.array([1010, 1020, 1290, 1600])  # two candidates for 1000; 1600 is 300 ms from everything
    m = match.match_beats(det, ref, 360, (0, 10_000))
    assert m.ref_of_det.tolist() == [0, -1, 1, -1] and m.det_of_ref.tolist() == [0, 2, -1]
    assert match.detection_counts(m) == {"tp": 2, "fn": 1, "fp": 2}


def test_device_scoring_counts_missed_and_false_beats():
    y, pred = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])
    scored = device_scoring(y, pred, false_pred=np.array([1, 0]), missed=np.array([0, 1, 0, 0, 0]),
                            class_names=["N", "S", "V", "F", "Q"])
    s = scored["per_class"]["S"]
    assert (s["reference"], s["predicted"], s["se"], s["ppv"]) == (2, 3, 0.5, round(1 / 3, 4))
    assert scored["per_class"]["N"]["predicted"] == 2 and scored["false_detections"] == 2


def test_detect_command_on_the_sample(tmp_path):
    result = run_cli("detect", "ecg", "--sample", "--out", str(tmp_path / "d.json"))
    assert result.returncode == 0, result.stderr
    assert "DS2" in result.stdout and (tmp_path / "d.json").is_file()


def test_beats_option_is_refused_for_vibration(tmp_path):
    assert_one_line_error(run_cli("train", "vibration", "--beats", "annotated", "--out", str(tmp_path / "r")),
                          "--beats annotated", "not a beat task")


def irregular_fraction(intervals, local=180):
    """The chain's irregular fraction (float) after a sequence of pre-RR intervals."""
    q12, hist = 0, []
    for rr in intervals:
        hist = (hist + [rr])[-ecg.LOCAL_RR:]
        q12 = ecg.irregular_update(q12, hist, local)
    return ecg.fraction_q7(q12) / 128


def test_irregular_fraction_tells_fibrillation_from_premature_beats():
    rng = np.random.default_rng(0)
    fibrillation = rng.integers(100, 260, 300)  # irregularly irregular
    sinus = np.full(300, 180) + rng.integers(-3, 4, 300)
    ectopic = sinus.copy()
    ectopic[::10] = 120  # a premature beat every 10th, then its compensatory pause
    ectopic[1::10] = 240
    assert irregular_fraction(fibrillation) > 0.8
    assert irregular_fraction(sinus) < 0.05
    assert 0.1 < irregular_fraction(ectopic) < 0.35  # two irregular pairs in ten
    assert irregular_fraction([180]) == 0.0  # one interval: no pair yet
    assert ecg.fraction_q7(1 << 12) == 127  # 1.0 saturates to int8


def sinus_rr(intervals) -> float:
    """The chain's sinus RR (in samples) after a sequence of pre-RR intervals."""
    q4 = -1
    for rr in intervals:
        q4 = ecg.sinus_update(q4, int(rr))
    return q4 / 16


def test_sinus_rr_keeps_a_run_of_premature_beats_premature():
    """A supraventricular run: the mean of the last 8 intervals becomes the run's, the sinus RR barely moves, so the
    run's last beat is still premature against it; after the run the sinus RR is back within a step."""
    sinus, run = [180] * 50, [126] * 20
    assert sinus_rr(sinus) == 180
    during = sinus_rr(sinus + run)
    assert 170 < during < 180 and 126 / during < 0.75  # 0.70 without any drift; an EMA 1/4 of every interval: 1.0
    assert abs(sinus_rr(sinus + run + [180] * 30) - 180) < 1


def test_sinus_rr_follows_a_change_of_rate():
    """On-time intervals move it by 1/4 (a gradual change is followed beat by beat); a sudden lasting change
    (180 -> 120, early every time at first) is followed at 1/128 until it is on time, then at 1/4."""
    assert abs(sinus_rr(list(range(180, 150, -1)) + [150] * 30) - 150) < 1
    assert sinus_rr([180] * 50 + [120] * 10) > 170
    assert abs(sinus_rr([180] * 50 + [120] * 200) - 120) < 1
    assert sinus_rr([180] * 50 + [400]) < 180 * 1.02  # a pause is not on time either


def test_no_s_while_the_rhythm_is_irregular():
    """The decision: the largest score, except S while the irregular fraction is at least 80/128 (then the best
    other class); ties to the first class; float scores and the dataset's float inputs decide alike."""
    from tinyqi.data import ecg as ecg_data
    from tinyqi.data.mitdb import CLASSES

    assert CLASSES[ecg.CLASS_S] == "S" and ecg.RR_FEATURES[ecg.IRREGULAR_FEATURE] == "irregular_fraction"
    scores = np.array([[10, 50, 20, 0, 0], [10, 50, 20, 0, 0], [10, 50, 20, 0, 0], [-128, -128, -128, -128, -128],
                       [7, 7, -5, -5, -5]], np.int8)
    rr = np.zeros((5, len(ecg.RR_FEATURES)), np.int8)
    rr[:, ecg.IRREGULAR_FEATURE] = [ecg.NO_S_IRREGULAR - 1, ecg.NO_S_IRREGULAR, 127, 127, 0]
    waves = np.repeat(np.arange(5)[:, None] * 20, ecg.WINDOW, axis=1)  # five shapes: no beat joins a cluster
    np.testing.assert_array_equal(ecg.decide(scores, rr, waves), [1, 2, 2, 0, 0])
    probabilities = (scores.astype(np.float32) + 128) / 256  # a float model's outputs, on the int8 grid
    xs = [waves[..., None].astype(np.float32) * ecg.INPUT_SCALE, rr.astype(np.float32) * ecg.INPUT_SCALE]
    np.testing.assert_array_equal(ecg_data.decide(scores, xs), [1, 2, 2, 0, 0])
    np.testing.assert_array_equal(ecg_data.decide(probabilities, xs), [1, 2, 2, 0, 0])


def test_a_shape_the_patient_showed_as_v_is_v_again():
    """The shape-cluster vote: a beat of a shape the patient's earlier beats showed as V is called V even when its
    own scores lean to N; a beat of a new shape keeps its own scores; S keeps the beat's own score, so a clear S
    beat of the patient's N shape stays S; a fifth shape
    replaces the least recently joined cluster, whose history is then forgotten; each recording starts afresh."""
    from tinyqi.data import ecg as ecg_data

    v_shape, others = np.full(ecg.WINDOW, 60), [np.full(ecg.WINDOW, -20 * k) for k in range(1, 5)]
    strong_v, lean_n = [-128, -128, 100, -128, -128], [10, -128, 0, -128, -128]
    strong_n, clear_s = [100, -128, -128, -128, -128], [-128, 120, -128, -128, -128]
    rr = np.zeros((1, len(ecg.RR_FEATURES)), np.int8)

    def classes(rows):
        waves, scores = zip(*rows)
        return ecg.decide(np.array(scores, np.int8), np.repeat(rr, len(rows), axis=0), np.array(waves)).tolist()

    assert classes([(v_shape, strong_v)] * 3 + [(v_shape + 3, lean_n)]) == [2, 2, 2, 2]
    assert classes([(others[0], strong_v)] * 3 + [(v_shape, lean_n)]) == [2, 2, 2, 0]  # a new shape: its own
    assert classes([(others[0], strong_n)] * 3 + [(others[0], clear_s)]) == [0, 0, 0, 1]  # S: told by timing
    forgotten = [(v_shape, strong_v)] * 3 + [(o, lean_n) for o in others] + [(v_shape, lean_n)]
    assert classes(forgotten)[-1] == 0
    waves = np.array([v_shape] * 4)[..., None].astype(np.float32) * ecg.INPUT_SCALE
    xs = [waves, np.repeat(rr, 4, axis=0).astype(np.float32)]
    scores = np.array([strong_v, strong_v, strong_v, lean_n], np.int8)
    assert ecg_data.decide(scores, xs).tolist() == [2, 2, 2, 2]
    assert ecg_data.decide(scores, xs, np.array(["a", "a", "a", "b"])).tolist() == [2, 2, 2, 0]


def test_only_beats_that_are_not_premature_update_the_template():
    assert ecg.updates_template(pre=180, local=180) and ecg.updates_template(pre=158, local=180)  # 158 >= 7/8 180
    assert not ecg.updates_template(pre=157, local=180)  # premature: an ectopic beat leaves the template alone
    assert ecg.updates_template(pre=400, local=180)  # a pause is not premature


def test_window_moves_to_where_the_beat_matches_the_template():
    """A beat whose fiducial landed 3 samples off (R' instead of R) is compared with the template where it matches."""
    t = np.arange(400)
    b = (1000 * np.exp(-0.5 * ((t - 200) / 4.0) ** 2)).astype(np.int64)  # one QRS-like bump at 200
    template = ecg.centred_window(b, 200)
    assert ecg.aligned_fiducial(b, 203, template) == 200
    assert ecg.aligned_fiducial(b, 200 - ecg.ALIGN, template) == 200
    assert ecg.aligned_fiducial(b, 200 + ecg.ALIGN + 2, template) == 202  # never further than ALIGN
    flat = np.zeros(400, np.int64)
    assert ecg.aligned_fiducial(flat, 200, ecg.centred_window(flat, 200)) == 200  # a tie: no move
