"""Energy arithmetic (tinyqi/energy.py) against values worked out by hand."""

from __future__ import annotations

import pytest

from tinyqi import energy
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import NRF52840, STM32L4R5

FIGURES = energy.PowerFigures(supply_voltage=3.0, run_current=3.3e-3, sleep_current=2.0e-6, clock_hz=64_000_000,
                              provenance="test")


def test_energy_per_inference():
    # 64 000 cycles at 64 MHz = 1 ms; 1 ms * 3.3 mA * 3.0 V = 9.9 uJ
    assert energy.energy_per_inference_uj(64_000, FIGURES) == pytest.approx(9.9)


def test_average_power_mixes_run_and_sleep_current():
    # one 1 ms inference per second: 0.1 % at 3.3 mA, 99.9 % at 2 uA, all at 3.0 V
    expected = 3.0 * (0.001 * 3.3e-3 + 0.999 * 2.0e-6)
    assert energy.average_power_w(64_000, FIGURES, inferences_per_minute=60) == pytest.approx(expected)
    assert energy.average_power_w(64_000, FIGURES, 0) == pytest.approx(3.0 * 2.0e-6)


def test_battery_life_of_a_cr2032():
    # 225 mAh * 3.0 V = 2430 J; at 10 uW that lasts 2.43e8 s = 2812.5 days
    assert energy.battery_days(10e-6) == pytest.approx(2812.5)
    assert energy.CR2032.capacity_mah == 225 and energy.CR2032.nominal_voltage == 3.0


def test_estimate_for_one_heartbeat_per_inference():
    estimate = energy.estimate(64_000, FIGURES, energy.ECG_INFERENCES_PER_MINUTE)
    power = 3.0 * (1.2 * 0.001 * 3.3e-3 + (1 - 1.2 * 0.001) * 2.0e-6)      # 72 beats per minute = 1.2 Hz
    assert estimate.latency_s == pytest.approx(1e-3) and estimate.energy_uj == pytest.approx(9.9)
    assert estimate.average_power_w == pytest.approx(power)
    assert estimate.battery_days == pytest.approx(2430 / power / 86_400)


def test_rate_that_leaves_no_time_to_sleep_is_refused():
    with pytest.raises(TinyqiError, match="lower the rate"):
        energy.average_power_w(64_000_000, FIGURES, inferences_per_minute=120)    # 1 s inferences, 2 per second


def test_board_figures_come_from_the_profile_with_their_status():
    figures = energy.power_figures(NRF52840)
    profile = NRF52840.energy
    assert (figures.supply_voltage, figures.run_current, figures.sleep_current) == (
        profile.supply_voltage.value, profile.run_current.value, profile.sleep_current.value)
    assert figures.clock_hz == NRF52840.clock_hz
    assert all(figure.status in figures.provenance for figure in (profile.run_current, profile.sleep_current))
    with pytest.raises(TinyqiError, match="no verified figure"):
        energy.power_figures(STM32L4R5)
