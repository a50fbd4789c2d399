"""Energy per inference, average power at an inference rate, and battery life, from modelled cycles.

  energy per inference  E = cycles / f_clk * I_run * V
  average power         P = V * (d * I_run + (1 - d) * I_sleep),  d = rate * cycles / f_clk (the active fraction)
  battery life          T = capacity * V_cell / P               (ideal conversion, no self-discharge)

This is the MCU's compute budget only: no sensor, radio or analog front end. Board figures (V, I_run, I_sleep)
come from the board profile (tinyqi/firmware/boards.py) with their datasheet source and verification status.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile

SECONDS_PER_DAY = 86_400.0
ECG_INFERENCES_PER_MINUTE = 72.0        # one inference per heartbeat at a resting rate of 72 beats per minute
VIBRATION_INFERENCES_PER_MINUTE = 1.0   # default duty cycle for bearing monitoring: one window per minute
TASK_INFERENCES_PER_MINUTE = {"ecg": ECG_INFERENCES_PER_MINUTE, "vibration": VIBRATION_INFERENCES_PER_MINUTE}


@dataclass(frozen=True)
class PowerFigures:
    supply_voltage: float       # V
    run_current: float          # A, CPU running from flash at clock_hz
    sleep_current: float        # A, between inferences
    clock_hz: int
    provenance: str             # datasheet sources and verification status, for reports


@dataclass(frozen=True)
class Cell:
    name: str
    capacity_mah: float
    nominal_voltage: float
    source: str


CR2032 = Cell("CR2032", 225.0, 3.0, "IEC 60086 CR2032 lithium/manganese-dioxide coin cell: typical capacity 225 mAh, "
              "nominal voltage 3.0 V (Wikipedia, 'CR2032 battery', comparison table)")


@dataclass(frozen=True)
class EnergyEstimate:
    cycles: float
    latency_s: float
    energy_uj: float
    inferences_per_minute: float
    average_power_w: float
    battery_days: float
    cell: Cell


def power_figures(board: BoardProfile) -> PowerFigures:
    """The board profile's electrical figures; refuses a board whose figures are unknown."""
    energy = board.energy
    figures = (energy.supply_voltage, energy.run_current, energy.sleep_current)
    voltage, run, sleep = (figure.require(f"board {board.name}") for figure in figures)
    statuses = sorted({figure.status for figure in figures})
    provenance = f"{board.name}: V={voltage:g} V, I_run={run * 1e3:g} mA, I_sleep={sleep * 1e6:g} uA " \
                 f"({', '.join(statuses)}; sources in tinyqi/firmware/boards.py)"
    return PowerFigures(voltage, run, sleep, board.clock_hz, provenance)


def energy_per_inference_uj(cycles: float, figures: PowerFigures) -> float:
    return cycles / figures.clock_hz * figures.run_current * figures.supply_voltage * 1e6


def average_power_w(cycles: float, figures: PowerFigures, inferences_per_minute: float) -> float:
    active = inferences_per_minute / 60.0 * cycles / figures.clock_hz
    if not 0.0 <= active <= 1.0:
        raise TinyqiError(f"energy: {inferences_per_minute:g} inferences per minute of {cycles:.0f} cycles at "
                          f"{figures.clock_hz / 1e6:g} MHz need {active:.0%} of the time; lower the rate")
    current = active * figures.run_current + (1.0 - active) * figures.sleep_current
    return current * figures.supply_voltage


def battery_days(power_w: float, cell: Cell = CR2032) -> float:
    if power_w <= 0:
        raise TinyqiError("energy: average power must be positive to estimate battery life")
    return cell.capacity_mah * 1e-3 * 3600.0 * cell.nominal_voltage / power_w / SECONDS_PER_DAY


def estimate(cycles: float, figures: PowerFigures, inferences_per_minute: float, cell: Cell = CR2032) -> EnergyEstimate:
    power = average_power_w(cycles, figures, inferences_per_minute)
    return EnergyEstimate(cycles=cycles, latency_s=cycles / figures.clock_hz,
                          energy_uj=energy_per_inference_uj(cycles, figures),
                          inferences_per_minute=inferences_per_minute, average_power_w=power,
                          battery_days=battery_days(power, cell), cell=cell)
