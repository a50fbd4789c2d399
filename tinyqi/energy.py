"""Energy per inference, average power at an inference rate, and battery life, from modelled cycles.

  energy per inference  E = cycles / f_clk * I_run * V
  average power         P = V * (d * I_run + (1 - d) * I_sleep),  d = rate * cycles / f_clk (the active fraction)
  battery life          T = capacity * V_cell / P               (ideal conversion, no self-discharge)

This is the MCU's compute budget only: no sensor, radio or analog front end. Board figures (V, I_run, I_sleep)
come from the board profile (tinyqi/firmware/boards.py) with their datasheet source and verification status.
`monitor_energy` (below) is the whole monitoring job instead: chain per sample, model per beat, wake-ups, ADC, sleep.
`vibration_job_energy` is the vibration job: chain and model per window, FIFO wake-ups and reads, sleep.
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


# The monitoring job (firmware/monitor): every sample through the ECG chain, every beat through the model, the CPU
# asleep in between (docs/emulation.md, "Energy of the monitoring job").
#
#   d_cpu  = (chain cycles per second + beat rate * model cycles per beat) / f_clk    CPU running
#   d_wake = sample rate / samples per wake-up * t_wake                              waking up, at I_run
#   d_adc  = sample rate * (t_acq + t_conv)                                          ADC converting, EasyDMA storing
#   I      = (d_cpu + d_wake) * I_run + d_adc * I_adc + (1 - d_cpu - d_wake) * I_sleep
#   P = V * I;  energy per beat = P / beat rate;  battery life as above


@dataclass(frozen=True)
class SamplingFigures:
    sample_rate_hz: float
    adc_current: float          # A
    adc_seconds: float          # per sample: acquisition + conversion
    wake_seconds: float         # per wake-up
    samples_per_wake_up: int
    sleep_current: float        # A, sampling timer running
    provenance: str


@dataclass(frozen=True)
class MonitorEnergy:
    chain_cycles_per_second: float
    model_cycles_per_beat: float
    beats_per_minute: float
    cpu_duty: float             # fraction of the time the CPU runs (chain, model, wake-ups)
    average_current_a: float
    average_power_w: float
    energy_per_beat_uj: float   # the whole job's energy divided by the beats
    battery_days: float
    current_parts_a: dict       # where the average current goes: chain, model, wake_ups, adc, sleep
    cell: Cell


def sampling_figures(board: BoardProfile, sample_rate_hz: float) -> SamplingFigures:
    """The board's sampling figures; refuses a board without a sampling profile or with unknown figures."""
    sampling = board.sampling
    if sampling is None:
        raise TinyqiError(f"board {board.name}: no sampling profile (ADC, wake-up, sleep with a timer running) in "
                          "tinyqi/firmware/boards.py; the monitor's energy is estimated for nrf52840 only")
    where = f"board {board.name}"
    figures = (sampling.adc_current, sampling.conversion_time, sampling.wake_up_time, sampling.sleep_current)
    adc, conversion, wake, sleep = (figure.require(where) for figure in figures)
    statuses = sorted({figure.status for figure in figures})
    provenance = (f"{board.name} sampling at {sample_rate_hz:g} Hz: I_adc={adc * 1e3:g} mA for "
                  f"{(sampling.acquisition_time_s + conversion) * 1e6:g} us per sample, wake-up {wake * 1e6:g} us "
                  f"per {sampling.samples_per_wake_up} samples, "
                  f"I_sleep(timer on)={sleep * 1e6:g} uA ({', '.join(statuses)}; sources in tinyqi/firmware/boards.py)")
    return SamplingFigures(sample_rate_hz, adc, sampling.acquisition_time_s + conversion, wake,
                           sampling.samples_per_wake_up, sleep, provenance)


def monitor_energy(chain_cycles_per_second: float, model_cycles_per_beat: float, figures: PowerFigures,
                   sampling: SamplingFigures, beats_per_minute: float = ECG_INFERENCES_PER_MINUTE,
                   cell: Cell = CR2032) -> MonitorEnergy:
    beats_per_second = beats_per_minute / 60.0
    chain = chain_cycles_per_second / figures.clock_hz
    model = beats_per_second * model_cycles_per_beat / figures.clock_hz
    wake = sampling.sample_rate_hz / sampling.samples_per_wake_up * sampling.wake_seconds
    adc = sampling.sample_rate_hz * sampling.adc_seconds
    active = chain + model + wake
    if not 0.0 < active < 1.0 or beats_per_second <= 0:
        raise TinyqiError(f"energy: the monitor would run {active:.0%} of the time at {beats_per_minute:g} beats per "
                          "minute; it must sleep part of the time and see beats")
    parts = {"chain": chain * figures.run_current, "model": model * figures.run_current,
             "wake_ups": wake * figures.run_current, "adc": adc * sampling.adc_current,
             "sleep": (1.0 - active) * sampling.sleep_current}
    current = sum(parts.values())
    power = current * figures.supply_voltage
    return MonitorEnergy(chain_cycles_per_second, model_cycles_per_beat, beats_per_minute, active, current, power,
                         power / beats_per_second * 1e6, battery_days(power, cell), parts, cell)


# The vibration monitoring job (firmware/monitor/main_vibration.c): once per window period the accelerometer
# delivers one window of vibration.WINDOW samples through its FIFO, the CPU wakes per FIFO batch, reads the batch
# over SPI and pushes it through the chain, then runs the model on the complete window and sleeps until the next
# period (docs/emulation.md, "Energy of the vibration job"). Per window:
#
#   t_cpu  = (chain cycles per window + model cycles per window) / f_clk                 chain and model
#   t_wake = batches * t_wake,  batches = ceil(WINDOW / batch)                            one wake-up per FIFO batch
#   t_spi  = (WINDOW * bits per sample + batches * command bits) / f_spi                  FIFO read, CPU waiting
#   I      = r * (t_cpu + t_wake + t_spi) * I_run + (1 - r * (t_cpu + t_wake + t_spi)) * I_sleep,timer
#   P = V * I;  energy per window = P / r (r: windows per second);  battery life as above
#
# The accelerometer's own current is not included (it is outside the MCU; VIBRATION_SENSOR_NOTE gives a figure).


@dataclass(frozen=True)
class FifoReadout:
    """How the MCU gets the accelerometer's samples: a design choice of the (not yet written) sensor driver."""

    batch_samples: int = 128      # FIFO watermark: one CPU wake-up per 128 samples (10.7 ms at 12 kHz)
    bits_per_sample: int = 16     # one axis, 16 bit
    command_bits: int = 8         # the register address byte that opens each burst read
    spi_hz: float = 8e6           # SPIM0-2's highest SCK on the nRF52840 (FREQUENCY = M8; M16/M32 are SPIM3's)

    @property
    def provenance(self) -> str:
        return (f"FIFO read: one wake-up per {self.batch_samples} samples, {self.bits_per_sample} bit per sample + "
                f"{self.command_bits} command bits per batch over SPI at {self.spi_hz / 1e6:g} MHz, CPU awake "
                "(design choices, docs/emulation.md)")


FIFO_READOUT = FifoReadout()
VIBRATION_SENSOR_NOTE = ("the accelerometer's own current is not included; for scale, ST IIS3DWB (±2 g, 16 bit, "
                         "26.7 kHz, 3 kB FIFO, SPI): 1.1 mA with 3 axes (DS12569 rev 6, features), about 0.28 mJ "
                         "at 3 V for the 85 ms of one window")


@dataclass(frozen=True)
class VibrationJobEnergy:
    chain_cycles_per_window: float
    model_cycles_per_window: float
    windows_per_minute: float
    active_seconds_per_window: float  # CPU running: chain, model, wake-ups, FIFO reads
    cpu_duty: float
    average_current_a: float
    average_power_w: float
    energy_per_window_uj: float       # the whole job's energy (sleep included) divided by the windows
    active_energy_per_window_uj: float  # the part spent awake for the window
    battery_days: float
    current_parts_a: dict             # chain, model, wake_ups, fifo_read, sleep
    cell: Cell


def vibration_job_energy(chain_cycles_per_window: float, model_cycles_per_window: float, figures: PowerFigures,
                         sampling: SamplingFigures, windows_per_minute: float = VIBRATION_INFERENCES_PER_MINUTE,
                         window: int = 1024, readout: FifoReadout = FIFO_READOUT,
                         cell: Cell = CR2032) -> VibrationJobEnergy:
    """The vibration job's energy; `sampling` supplies the wake-up time and the sleep current with a timer on (its
    ADC figures do not apply: the accelerometer samples)."""
    rate = windows_per_minute / 60.0
    batches = -(-window // readout.batch_samples)
    seconds = {"chain": chain_cycles_per_window / figures.clock_hz, "model": model_cycles_per_window / figures.clock_hz,
               "wake_ups": batches * sampling.wake_seconds,
               "fifo_read": (window * readout.bits_per_sample + batches * readout.command_bits) / readout.spi_hz}
    active = sum(seconds.values())
    duty = rate * active
    if rate <= 0 or not 0.0 < duty < 1.0:
        raise TinyqiError(f"energy: {windows_per_minute:g} windows per minute of {active * 1e3:.2f} ms each keep the "
                          "CPU busy all the time; lower --per-minute")
    parts = {name: rate * value * figures.run_current for name, value in seconds.items()}
    parts["sleep"] = (1.0 - duty) * sampling.sleep_current
    current = sum(parts.values())
    power = current * figures.supply_voltage
    return VibrationJobEnergy(chain_cycles_per_window, model_cycles_per_window, windows_per_minute, active, duty,
                              current, power, power / rate * 1e6,
                              active * figures.run_current * figures.supply_voltage * 1e6,
                              battery_days(power, cell), parts, cell)
