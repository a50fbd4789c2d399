"""What an engine needs to know about a board: its memory map, clock, flash wait states, and peripheral model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    flash_base: int
    flash_size: int
    ram_base: int
    ram_size: int
    clock_hz: int
    flash_wait_states: int = 0
    peripherals: str = "nrf52"      # register model of the SoC's peripheral space: "nrf52", "stm32l4" or "none"

    @property
    def flash(self) -> range:
        return range(self.flash_base, self.flash_base + self.flash_size)

    @property
    def ram(self) -> range:
        return range(self.ram_base, self.ram_base + self.ram_size)
