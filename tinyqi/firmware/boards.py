"""Board profiles: the single source of truth for each board's core, memory map, console and energy figures.

The PlatformIO board manifests in firmware/platform/boards/<name>.json are generated from these profiles
(`python -m tinyqi.firmware.boards` rewrites them; tests/test_firmware_boards.py fails when they drift), and the
platform's builder writes the linker MEMORY map from those manifests, so a memory size lives in one place.

Every energy figure names the document and table it comes from and how it was checked:
  "secondary"  - the datasheet value as quoted, symbol and conditions included, by public material we could read
                 (the datasheet PDF itself was not reachable from here);
  "unverified" - not confirmed by any source we could read: either our reading of the named table (`value` set,
                 reports must show the status) or unknown (`value` None: consumers refuse to compute with it).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyqi.errors import TinyqiError

BOARD_MANIFEST_DIR = Path(__file__).resolve().parents[2] / "firmware" / "platform" / "boards"


@dataclass(frozen=True)
class Figure:
    """One datasheet number with its provenance."""

    value: float | None
    unit: str
    source: str
    status: str  # "secondary" | "unverified", see the module docstring

    def require(self, what: str) -> float:
        if self.value is None:
            raise TinyqiError(f"{what}: no verified figure ({self.source}); add it to tinyqi/firmware/boards.py "
                              "from the datasheet before estimating energy on this board")
        return self.value


@dataclass(frozen=True)
class EnergyProfile:
    supply_voltage: Figure   # V: the supply the current figures were characterised at
    run_current: Figure      # A: CPU running from flash at the board clock, as configured by the harness
    sleep_current: Figure    # A: the state the harness idles in after TQ_DONE (WFI, RAM retained)
    notes: str               # how the harness configuration differs from the datasheet conditions


@dataclass(frozen=True)
class SamplingProfile:
    """What continuous sampling adds to the CPU's figures: the monitor app's energy (tinyqi.energy.monitor_energy).

    The ADC converts while the CPU sleeps; the CPU wakes (WFI) once per `samples_per_wake_up` samples, when the
    SAADC's EasyDMA ring is full (firmware/monitor/source_saadc.c, RING_SLOTS)."""

    adc_current: Figure      # A: the ADC converting and EasyDMA storing the result
    acquisition_time_s: float  # the firmware's acquisition time setting (a configuration, not a datasheet figure)
    conversion_time: Figure  # s: one conversion after the acquisition
    wake_up_time: Figure     # s: from WFI to the next instruction, charged at the run current
    sleep_current: Figure    # A: between samples, RAM retained, the sampling timer (RTC) running
    samples_per_wake_up: int  # the firmware's design, not a datasheet figure
    notes: str


@dataclass(frozen=True)
class BoardProfile:
    name: str                # PlatformIO env and board id
    title: str
    vendor: str
    url: str
    mcu: str
    cpu: str                 # -mcpu
    fpu: str                 # -mfpu (hard-float ABI)
    clock_hz: int            # core clock the harness runs at (DWT cycles / clock_hz = seconds)
    flash_origin: int
    flash_bytes: int
    ram_origin: int
    ram_bytes: int
    console: str             # where the harness lines go on real hardware
    pyocd_target: str        # `pyocd flash --target`
    pyocd_target_builtin: bool  # False: pyocd needs `pyocd pack install <target>` once (online)
    energy: EnergyProfile
    sampling: SamplingProfile | None = None  # None: no monitor app (and no sampling energy) for this board

    @property
    def flash_end(self) -> int:
        return self.flash_origin + self.flash_bytes

    @property
    def ram_end(self) -> int:
        return self.ram_origin + self.ram_bytes


NRF52840_PS = "Nordic nRF52840 Product Specification, Electrical specification"

NRF52840 = BoardProfile(
    name="nrf52840",
    title="Nordic nRF52840 (nRF52840 DK, PCA10056)",
    vendor="Nordic Semiconductor",
    url="https://www.nordicsemi.com/Products/nRF52840",
    mcu="nrf52840",
    cpu="cortex-m4",
    fpu="fpv4-sp-d16",
    clock_hz=64_000_000,
    flash_origin=0x0000_0000,
    flash_bytes=1024 * 1024,
    ram_origin=0x2000_0000,
    ram_bytes=256 * 1024,
    console="UARTE0 in EasyDMA mode, TXD on P0.06 (the DK's J-Link virtual COM port), 115200 8N1",
    pyocd_target="nrf52840",
    pyocd_target_builtin=True,
    energy=EnergyProfile(
        supply_voltage=Figure(3.0, "V", f"{NRF52840_PS}: VDD of the current consumption scenarios (the nRF5340 PS "
                              "of the same family states 'Supply 3 V on VDD' for its scenarios)", "unverified"),
        run_current=Figure(3.3e-3, "A", f"{NRF52840_PS} > CPU running, ICPU0: 'CPU running CoreMark @64 MHz from "
                           "flash, Clock = HFXO, Regulator = DC/DC'", "secondary"),
        sleep_current=Figure(2.35e-6, "A", f"{NRF52840_PS} > Sleep, ION_RAMON_EVENT: 'System ON, full 256 kB RAM "
                             "retention, wake on any event'", "secondary"),
        notes="The harness enables the DC/DC regulator (POWER.DCDCEN) as in ICPU0 but runs the CPU from HFINT: it "
              "never starts the 32 MHz crystal, which ICPU0 includes. It idles in WFI with UARTE0 disabled.",
    ),
    sampling=SamplingProfile(
        adc_current=Figure(1.24e-3, "A", f"{NRF52840_PS} > SAADC active, ISAADC,RUN: 'SAADC sampling @ 16 ksps, "
                           "Acquisition time = 20 µs, Clock = HFXO, Regulator = DC/DC' (read on docs.nordicsemi.com, "
                           "ps_nrf52840 parameters.i_saadc); it includes the EasyDMA transfer of every result (the "
                           "PS gives no separate EasyDMA figure); charged for acquisition + conversion of each "
                           "sample", "secondary"),
        acquisition_time_s=10e-6,
        conversion_time=Figure(2e-6, "s", f"{NRF52840_PS} > SAADC electrical specification, tCONV: conversion "
                               "time, '< 2 µs' (upper bound used)", "unverified"),
        wake_up_time=Figure(3e-6, "s", f"{NRF52840_PS} > POWER, tIDLE2CPU: wake-up from System ON IDLE (low-power "
                            "sub-mode) to the CPU executing", "unverified"),
        sleep_current=Figure(3.16e-6, "A", f"{NRF52840_PS} > Sleep, ION_RAMON_RTC: 'System ON, full 256 kB RAM "
                             "retention, wake on RTC (running from LFRC clock)'", "unverified"),
        samples_per_wake_up=64,
        notes="firmware/monitor/source_saadc.c: RTC1 TICK at 32768 / 91 = 360.088 Hz (LFXO) triggers SAADC SAMPLE "
              "through PPI; TACQ 10 µs, 12 bit, gain 1/6; EasyDMA writes a 64-sample ring; the CPU wakes on "
              "END, once the ring is full. The PS's sleep figure is for LFRC, the board runs LFXO (the LFXO draws less). The "
              "console (UARTE0, one line per beat on the DK) is left out: a product would send classes by radio.",
    ),
)

STM32L4R5_DS = "ST DS12023 (STM32L4R5xx datasheet), Supply current characteristics"

STM32L4R5 = BoardProfile(
    name="stm32l4r5",
    title="ST STM32L4R5ZI (NUCLEO-L4R5ZI), the MLPerf Tiny reference board",
    vendor="STMicroelectronics",
    url="https://www.st.com/en/microcontrollers-microprocessors/stm32l4r5zi.html",
    mcu="stm32l4r5zit6",
    cpu="cortex-m4",
    fpu="fpv4-sp-d16",
    clock_hz=120_000_000,
    flash_origin=0x0800_0000,
    flash_bytes=2 * 1024 * 1024,
    ram_origin=0x2000_0000,
    ram_bytes=640 * 1024,
    console="LPUART1, TX on PG7 (AF8, the Nucleo's ST-LINK virtual COM port), 115200 8N1",
    pyocd_target="stm32l4r5zitx",
    pyocd_target_builtin=False,
    energy=EnergyProfile(
        supply_voltage=Figure(None, "V", f"{STM32L4R5_DS}: VDD of the Run-mode tables", "unverified"),
        run_current=Figure(None, "A", f"{STM32L4R5_DS}: IDD(Run), code from flash, 120 MHz, range 1 boost, "
                           "ART accelerator on", "unverified"),
        sleep_current=Figure(None, "A", f"{STM32L4R5_DS}: IDD(Sleep) at 120 MHz (WFI, clocks running)",
                             "unverified"),
        notes="The harness runs from the PLL at 120 MHz on HSI16 in range 1 boost with 5 flash wait states, "
              "prefetch and both ART caches on, and idles in WFI (Sleep mode) after TQ_DONE.",
    ),
)

BOARDS: dict[str, BoardProfile] = {board.name: board for board in (NRF52840, STM32L4R5)}


def get_board(name: str) -> BoardProfile:
    try:
        return BOARDS[name]
    except KeyError:
        raise TinyqiError(f"--board {name}: unknown board; choose one of {', '.join(sorted(BOARDS))}") from None


def board_manifest(board: BoardProfile) -> dict:
    """The PlatformIO board manifest (boards/<name>.json) for `board`."""
    return {
        "build": {
            "cpu": board.cpu,
            "f_cpu": f"{board.clock_hz}L",
            "mcu": board.mcu,
            "tinyqi": {
                "board_src": board.name,
                "flash_origin": board.flash_origin,
                "flash_size": board.flash_bytes,
                "fpu": board.fpu,
                "ram_origin": board.ram_origin,
                "ram_size": board.ram_bytes,
            },
        },
        "frameworks": [],
        "name": board.title,
        "upload": {
            "maximum_ram_size": board.ram_bytes,
            "maximum_size": board.flash_bytes,
            "protocol": "pyocd",
            "protocols": ["pyocd"],
            "pyocd_target": board.pyocd_target,
        },
        "url": board.url,
        "vendor": board.vendor,
    }


def manifest_text(board: BoardProfile) -> str:
    return json.dumps(board_manifest(board), indent=2, sort_keys=True) + "\n"


def write_board_manifests(directory: Path = BOARD_MANIFEST_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(BOARDS):
        path = directory / f"{name}.json"
        path.write_text(manifest_text(BOARDS[name]))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_board_manifests():
        print(written_path, file=sys.stdout)
