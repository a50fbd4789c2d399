"""The C ECG chain (firmware/lib/tinyqi/src/tq_ecg*.c) against its Python reference (tinyqi/signal/ecg.py): the same
detections and the same int8 model inputs, bit for bit, under AddressSanitizer + UndefinedBehaviorSanitizer (a
finding raises in tinyqi.signal.hostc); on real records, on the full DS2 when it is there, and on bad input."""

import re

import numpy as np
import pytest

from conftest import REPO, real_dataset
from m4_build import RUNTIME, m4_build, needs_arm_cc
from tinyqi.signal import ecg, hostc

SAMPLE = np.load(REPO / "datasets" / "mitdb" / "sample.npz")


def assert_same(adc: np.ndarray) -> tuple[ecg.ChainBeats, ecg.ChainBeats]:
    """Python == C on every detection and every described beat (arrays compared directly, then via compare_record)."""
    py, c = ecg.run_chain(adc), hostc.run_chain_c(adc)
    for field in ("fiducial", "sample", "detected_at", "described", "x0", "x1"):
        np.testing.assert_array_equal(getattr(c, field), getattr(py, field), err_msg=field)
    counts = hostc.compare_record(adc)
    assert counts["detection_mismatches"] == counts["beat_mismatches"] == 0, counts
    return py, c


def documented_state_size() -> int:
    text = (REPO / "docs" / "signal.md").read_text()
    section = text[text.index("## C implementation"):]
    return int(re.search(r"sizeof\(tq_ecg_state_t\)` = ([\d,]+) bytes", section).group(1).replace(",", ""))


@pytest.mark.parametrize("record", [str(r) for r in SAMPLE["records"]])
def test_sample_records_bit_exact(record):
    py, _ = assert_same(SAMPLE[f"{record}.adc"])
    assert py.described.sum() > 250 and len(py.fiducial) == py.described.sum() + 2


def ds2_adc(name: str) -> np.ndarray:
    import wfdb

    d = wfdb.rdrecord(str(real_dataset("mitdb") / name), physical=False)
    lead = d.sig_name.index("MLII")
    adc = d.d_signal[:, lead].astype(np.int64) - d.baseline[lead]
    assert adc.min() >= -32768 and adc.max() <= 32767
    return adc.astype(np.int16)


def test_full_ds2_bit_exact():
    """Every DS2 record, whole (30 min each): about 50,000 beats, none differs."""
    from tinyqi.data import mitdb

    beats = 0
    for name in mitdb.DS2:
        counts = hostc.compare_record(ds2_adc(name))
        assert counts["detections_py"] == counts["detections_c"] > 1000, (name, counts)
        assert counts["beats_py"] == counts["beats_c"] and counts["detection_mismatches"] == 0, (name, counts)
        assert counts["beat_mismatches"] == 0, (name, counts)
        beats += counts["beats_c"]
    assert beats > 49000


def test_ds2_record_with_pauses_drops_beats_as_python():
    """Record 232 has pauses longer than the ring: beats dropped there (their RR still counted) must agree."""
    py, _ = assert_same(ds2_adc("232"))
    assert len(py.fiducial) - 2 > py.described.sum()


MINUTE = ecg.FS_IN * 60


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def spikes(gen: np.random.Generator) -> np.ndarray:
    """Full-scale spikes on 1 % of the samples: closely spaced detections, many ending inside a window."""
    return np.where(gen.random(MINUTE) < 0.01, gen.integers(-32768, 32768, MINUTE), 0).astype(np.int16)


def with_gaps(adc: np.ndarray) -> np.ndarray:
    adc = adc.copy()
    adc[:500] = ecg.INVALID  # before the first valid sample: held at 0
    adc[20000:60000] = ecg.INVALID  # 111 s lead off: detector decays, beats around it dropped
    adc[80000:80100] = ecg.INVALID
    adc[-3000:] = ecg.INVALID
    return adc


BAD_INPUT = {
    "flat_zero": (lambda: np.zeros(MINUTE, np.int16), True),
    "flat_offset": (lambda: np.full(MINUTE, -1234, np.int16), True),
    "saturated_high": (lambda: np.full(MINUTE, 32767, np.int16), True),
    "all_invalid": (lambda: np.full(MINUTE, ecg.INVALID, np.int16), True),
    "alternating_extremes": (lambda: np.tile(np.array([32767, -32768], np.int16), MINUTE // 2), True),
    "alternating_valid_extremes": (lambda: np.tile(np.array([32767, -32767], np.int16), MINUTE // 2), False),
    "slow_full_scale_square": (lambda: np.repeat(np.tile(np.array([32767, -32767], np.int16), MINUTE // 100), 50),
                               False),
    "invalid_gaps_in_record": (lambda: with_gaps(SAMPLE["208.adc"]), False),
    "noise_full_scale": (lambda: rng(1).integers(-32768, 32768, MINUTE).astype(np.int16), False),
    "noise_small": (lambda: rng(2).integers(-300, 300, MINUTE).astype(np.int16), False),
    "spikes": (lambda: spikes(rng(3)), False),
    "record_times_50": (lambda: np.clip(SAMPLE["208.adc"].astype(np.int64) * 50, -32767, 32767).astype(np.int16),
                        False),
    "one_sample": (lambda: np.array([100], np.int16), True),
    "empty": (lambda: np.zeros(0, np.int16), True),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_bad_input_is_safe_and_bit_exact(name):
    make, beatless = BAD_INPUT[name]
    py, c = assert_same(make())
    if beatless:  # flat (or, after the decimating low-pass, flat) input: nothing is ever detected
        assert len(c.fiducial) == 0 and len(c.x0) == 0


def test_record_ending_inside_a_window():
    """A beat whose successor is detected before its own window completes, with the record ending in between: not
    described by either side (the reference used to cut a short window there and fail)."""
    adc = spikes(rng(4))
    full = ecg.run_chain(adc)
    early = np.nonzero(full.detected_at[1:] < full.fiducial[:-1] + ecg.AFTER - 1 + ecg.ALIGN)[0]
    assert len(early)
    for i in early[:5]:
        end = int(full.detected_at[i + 1])  # the last b sample of the cut record
        for extra in (0, 1):
            py, _ = assert_same(adc[: 2 * (end + 1) + extra])
            assert not py.described[i]


def test_caller_that_never_drains_stays_memory_safe():
    """Against the API's contract (drain tq_ecg_next_beat after every push), the pending queue overflows: the chain
    drops its oldest beats and stays sanitizer-clean; detections are unaffected."""
    adc = SAMPLE["208.adc"]
    late = hostc.run_chain_c(adc, drain_each_push=False)
    py = ecg.run_chain(adc)
    np.testing.assert_array_equal(late.fiducial, py.fiducial)
    assert 0 < late.described.sum() <= 8


def test_state_size_is_documented():
    assert hostc.state_size() == documented_state_size()


@needs_arm_cc
def test_cortex_m4_build_has_no_float_and_the_documented_size(tmp_path):
    """The chain compiles for the M4F with the firmware's flags and -Werror, uses no FPU instruction (hard-float ABI)
    and calls no soft-float helper (soft-float ABI), and its state has the documented size there too."""
    build = m4_build(sorted((RUNTIME / "src").glob("tq_ecg*.c")), "tq_ecg_state_t", "tq_ecg.h", tmp_path)
    fpu = build.fpu_instructions()
    assert not fpu, fpu[:5]
    undefined = build.soft_undefined()
    assert not re.search(r"__aeabi_[fd]|__aeabi_[il]2[fd]|__(add|sub|mul|div)[sd]f3", undefined), undefined
    assert build.state_size == documented_state_size()


def test_the_decision_is_the_same_in_c():
    """tq_ecg_decide() against ecg.decide over a stream of 4,000 beats: eight shapes (more than the clusters, so
    clusters are replaced) plus noise around the joining limit and extreme windows, random scores with ties (few
    distinct values) and irregular fractions around the limit, with the header's constants equal to Python's."""
    header = (RUNTIME / "include" / "tq_ecg.h").read_text()
    for name, value in (("IRREGULAR_FEATURE", ecg.IRREGULAR_FEATURE), ("CLASS_S", ecg.CLASS_S),
                        ("NO_S_IRREGULAR", ecg.NO_S_IRREGULAR), ("CLASS_N", ecg.CLASS_N),
                        ("CLASS_V", ecg.CLASS_V), ("CLUSTERS", ecg.CLUSTERS), ("CLUSTER_SHIFT", ecg.CLUSTER_SHIFT),
                        ("VOTE_SHIFT", ecg.VOTE_SHIFT), ("SCORE_OFFSET", ecg.SCORE_OFFSET)):
        assert int(re.search(rf"#define TQ_ECG_{name} (\d+)", header).group(1)) == value, name
    limit = re.search(r"#define TQ_ECG_CLUSTER_LIMIT \((\d+) \* TQ_ECG_WINDOW \* TQ_ECG_WAVE_CHANNELS\)", header)
    assert int(limit.group(1)) * ecg.WINDOW * len(ecg.WAVE_CHANNELS) == ecg.CLUSTER_LIMIT
    gen = rng(7)
    n = 4000
    shapes = gen.integers(-100, 100, size=(8, ecg.WINDOW))
    noise = gen.integers(-9, 10, size=(n, ecg.WINDOW)) * gen.integers(0, 2, size=(n, 1))
    waves = np.clip(shapes[gen.integers(0, 8, size=n) // gen.integers(1, 3, size=n)] + noise, -128, 127)
    waves[::97] = gen.choice([-128, 127], size=(len(waves[::97]), ecg.WINDOW))
    scores = gen.choice(np.array([-128, -3, 0, 5, 127], np.int8), size=(n, 5))
    rr = gen.integers(-128, 128, size=(n, len(ecg.RR_FEATURES))).astype(np.int8)
    rr[:, ecg.IRREGULAR_FEATURE] = gen.integers(ecg.NO_S_IRREGULAR - 3, ecg.NO_S_IRREGULAR + 3, size=n)
    expected = ecg.decide(scores, rr, waves)
    np.testing.assert_array_equal(hostc.decide_c(scores, rr, waves), expected)
    without_votes = scores.astype(np.int64)
    without_votes[rr[:, ecg.IRREGULAR_FEATURE] >= ecg.NO_S_IRREGULAR, ecg.CLASS_S] = -129
    assert np.any(expected == ecg.CLASS_S) and np.any(np.argmax(scores, axis=1) != expected)
    assert np.any(np.argmax(without_votes, axis=1) != expected)  # the clusters voted
