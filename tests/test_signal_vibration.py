"""The C vibration chain (firmware/lib/tinyqi/src/tq_vibration_window.c) against its Python reference
(tinyqi/signal/vibration.py): the same int8 windows, bit for bit, under AddressSanitizer + UndefinedBehaviorSanitizer
(a finding raises in tinyqi.signal.vibration_hostc); on every recording of the bundled sample, on every full CWRU
recording when it is there, on the loader's own segments, and on bad input."""

import re

import numpy as np
import pytest

from conftest import REPO, real_dataset
from m4_build import RUNTIME, m4_build, needs_arm_cc
from tinyqi.data import cwru
from tinyqi.errors import TinyqiError
from tinyqi.signal import vibration, vibration_hostc

HEADER = RUNTIME / "include" / "tq_vibration.h"
TRAIN_HOP = cwru.train_stride(vibration.WINDOW)


def assert_same(counts: np.ndarray, hop: int = vibration.HOP) -> np.ndarray:
    """Python == C on every window, and the C emits each window when its last sample arrives."""
    py, c = vibration.windows(counts, hop), vibration_hostc.windows_c(counts, hop)
    np.testing.assert_array_equal(c.x, py)
    np.testing.assert_array_equal(c.end, vibration.window_starts(len(counts), hop) + vibration.WINDOW)
    assert c.init_rc == 0 and c.early_window_rc == 0
    return py


def model_rate_counts(raw: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Every recording as the loader feeds it to the chain: at 12 kHz, in sensor counts."""
    return {r.number: vibration.counts_from_g(cwru.to_model_rate(raw[r.number], r.rate_hz)) for r in cwru.RECORDINGS}


def compare_recordings(counts: dict[int, np.ndarray]) -> tuple[int, int]:
    """Windows compared and mismatching windows over every recording, at the device's hop and the training hop."""
    compared = mismatches = 0
    for number, x in counts.items():
        for hop in (vibration.HOP, TRAIN_HOP):
            result = vibration_hostc.compare_stream(x, hop)
            assert result["windows_py"] == result["windows_c"] > 0 and result["ends_equal"], (number, hop, result)
            compared += result["windows_c"]
            mismatches += result["window_mismatches"]
    return compared, mismatches


@pytest.fixture(scope="module")
def sample_counts():
    return model_rate_counts(cwru.read_sample())


def test_every_sample_recording_bit_exact(sample_counts):
    compared, mismatches = compare_recordings(sample_counts)
    assert mismatches == 0 and compared > 2000


@pytest.mark.realdata
def test_every_full_recording_bit_exact():
    """All 37 CWRU recordings whole (about 4,400 windows at the device's hop, 17,000 at the training hop)."""
    counts = model_rate_counts(cwru.read_recordings(real_dataset("cwru").parent))
    compared, mismatches = compare_recordings(counts)
    assert mismatches == 0 and compared > 20000, (compared, mismatches)


def loader_windows_from_c(counts: dict[int, np.ndarray], data: "cwru.Dataset") -> None:
    """The loader's model inputs are the C chain's windows, streamed segment by segment, times INPUT_SCALE."""
    lengths = {n: len(x) for n, x in counts.items()}
    parts = {role: [] for role in cwru.ROLES}
    for seg in cwru.plan_segments(lengths, cwru.parse_split(data.info["split"]), vibration.WINDOW):
        c = vibration_hostc.windows_c(counts[seg.recording.number][seg.start:seg.stop], seg.hop(vibration.WINDOW))
        parts[seg.role].append(c.x)
    assert data.input_scale == vibration.INPUT_SCALE == data.info["input_scale"]
    for role, x in zip(cwru.ROLES, (data.x_train, data.x_val, data.x_test)):
        as_int8 = x[0][..., 0] / np.float32(vibration.INPUT_SCALE)
        np.testing.assert_array_equal(as_int8, np.concatenate(parts[role]).astype(np.float32), err_msg=role)


def test_sample_loader_inputs_are_the_c_chain(sample_counts):
    loader_windows_from_c(sample_counts, cwru.load_vibration_dataset(sample=True))


@pytest.mark.realdata
def test_full_loader_inputs_are_the_c_chain():
    root = real_dataset("cwru").parent
    loader_windows_from_c(model_rate_counts(cwru.read_recordings(root)), cwru.load_vibration_dataset(root))


# ---------------------------------------------------------------- bad input


N = 10 * vibration.WINDOW + 123


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


BAD_INPUT = {
    "saturated_high": lambda: np.full(N, 32767, np.int16),
    "saturated_low": lambda: np.full(N, -32768, np.int16),
    "constant_zero": lambda: np.zeros(N, np.int16),
    "constant_offset": lambda: np.full(N, -1234, np.int16),
    "alternating_extremes": lambda: np.tile(np.array([32767, -32768], np.int16), N // 2),
    "alternating_slow": lambda: np.repeat(np.tile(np.array([32767, -32768], np.int16), N // 600 + 1), 300)[:N],
    "one_sample_off_the_rail": lambda: np.where(np.arange(N) % 1024 == 7, 32767, -32768).astype(np.int16),
    "noise_full_scale": lambda: rng(1).integers(-32768, 32768, N).astype(np.int16),
    "saturated_recording": lambda: vibration.counts_from_g(cwru.read_sample()[234] * 8),
    "shorter_than_a_window": lambda: rng(2).integers(-32768, 32768, vibration.WINDOW - 1).astype(np.int16),
    "exactly_one_window": lambda: rng(3).integers(-32768, 32768, vibration.WINDOW).astype(np.int16),
    "empty": lambda: np.zeros(0, np.int16),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
@pytest.mark.parametrize("hop", [vibration.HOP, TRAIN_HOP, 1, 3000])
def test_bad_input_is_safe_and_bit_exact(name, hop):
    counts = BAD_INPUT[name]()
    if hop == 1:
        counts = counts[: 3 * vibration.WINDOW]  # every sample ends a window: keep the reference's array small
    py = assert_same(counts, hop)
    if name.startswith(("saturated_", "constant_")) and len(py):
        assert name == "saturated_recording" or not py.any()  # a flat window is all zeros, whatever its level
    if name == "alternating_extremes":
        assert set(np.unique(py)) == {-128, 127}


def test_bad_hop_is_refused_on_both_sides():
    counts = BAD_INPUT["noise_full_scale"]()
    for hop in (0, -5):
        with pytest.raises(TinyqiError, match=f"hop {hop}: use at least 1 sample"):
            vibration.windows(counts, hop)
        c = vibration_hostc.windows_c(counts, hop)  # refused: the C falls back to TQ_VIB_HOP
        assert c.init_rc == -1
        np.testing.assert_array_equal(c.x, vibration.windows(counts))


def test_reference_refuses_what_is_not_int16_counts():
    for bad in (np.zeros((2, 2048), np.int16), np.full(2048, 0.5), np.array([40000] * 2048)):
        with pytest.raises(TinyqiError, match="int16 accelerometer counts"):
            vibration.windows(bad)
    with pytest.raises(TinyqiError, match="NaN or infinite"):
        vibration.counts_from_g(np.array([0.0, np.nan]))
    with pytest.raises(TinyqiError, match="window 1000: .* use a power of two"):
        vibration.windows(np.zeros(2048, np.int16), window=1000)


def test_counts_saturate_as_the_sensor():
    g = np.array([0.0, 1 / vibration.COUNTS_PER_G, -1.0, 1.99, 2.0, 5.0, -2.0, -7.5, 0.49 / vibration.COUNTS_PER_G])
    np.testing.assert_array_equal(vibration.counts_from_g(g), [0, 1, -16384, 32604, 32767, 32767, -32768, -32768, 0])


def test_chain_is_the_old_float_normalisation_to_one_step(sample_counts):
    """int8 * INPUT_SCALE is (x - mean) / 2 g clipped to [-1, 1] (the float path before the chain) within one int8
    step: the sensor's 61 µg counts, the rounded mean and the rounding to a step are all the difference."""
    g = cwru.to_model_rate(cwru.read_sample()[108], cwru.RATE_HZ)[: 8 * vibration.WINDOW].reshape(8, -1)
    old = np.clip((g - g.mean(axis=1, keepdims=True)) / vibration.FULL_SCALE_G, -1, 1)
    new = vibration.windows(vibration.counts_from_g(g.ravel())) * vibration.INPUT_SCALE
    assert np.abs(new - old).max() <= vibration.INPUT_SCALE * 0.51


# ---------------------------------------------------------------- one definition, mirrored in C


def header_constants() -> dict[str, int]:
    defines = dict(re.findall(r"#define TQ_VIB_(\w+) (\w+)", HEADER.read_text()))
    return {name: int(defines[value.removeprefix("TQ_VIB_")] if value.startswith("TQ_VIB_") else value)
            for name, value in defines.items()}


def test_every_constant_is_mirrored_in_c():
    c = header_constants()
    assert set(c) == {"RATE_HZ", "COUNTS_PER_G", "FULL_SCALE_G", "INPUT_ONE", "INPUT_SHIFT", "WINDOW",
                      "WINDOW_SHIFT", "HOP"}
    for name, value in c.items():
        assert getattr(vibration, name) == value, name
    assert vibration.RATE_HZ == cwru.RATE_HZ and vibration.WINDOW == cwru.WINDOW
    assert vibration.INPUT_SCALE == 1 / c["INPUT_ONE"]


def documented_state_size() -> int:
    text = (REPO / "docs" / "signal.md").read_text()
    section = text[text.index("## Vibration"):]
    return int(re.search(r"sizeof\(tq_vib_state_t\)` = ([\d,]+) bytes", section).group(1).replace(",", ""))


def test_state_size_is_documented():
    size = vibration_hostc.state_size()
    assert size == documented_state_size()
    assert f"sizeof = {size:,} bytes" in HEADER.read_text()


@needs_arm_cc
def test_cortex_m4_build_has_no_float_and_the_documented_size(tmp_path):
    """The chain compiles for the M4F with the firmware's flags and -Werror, uses no FPU instruction (hard-float ABI)
    and calls no soft-float helper (soft-float ABI), and its state has the documented size there too."""
    build = m4_build([RUNTIME / "src" / "tq_vibration_window.c"], "tq_vib_state_t", "tq_vibration.h", tmp_path)
    fpu = build.fpu_instructions()
    assert not fpu, fpu[:5]
    undefined = build.soft_undefined()
    assert set(undefined.split()) <= {"U", "memset"}, undefined
    assert build.state_size == documented_state_size()
