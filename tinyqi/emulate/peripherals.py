"""Register models the firmware contract needs from the emulator: core debug and DWT in the system control space,
the nRF52840 peripherals the harness touches (UARTE0 with EasyDMA, CLOCK start tasks) and, for the second board,
the STM32L4 clock-ready flags and LPUART1. Other registers in these windows behave as plain storage, so start-up
code that configures GPIOs, regulators or the NVIC runs unchanged.
"""

from __future__ import annotations

from typing import Callable

SCS_BASE, SCS_SIZE = 0xE0000000, 0x100000
DHCSR, DEMCR, CPACR = 0xE000EDF0, 0xE000EDFC, 0xE000ED88
DWT_CTRL, DWT_CYCCNT = 0xE0001000, 0xE0001004
C_DEBUGEN = 1 << 0          # DHCSR: a debugger is attached (the emulator answers semihosting)
TRCENA = 1 << 24            # DEMCR: enables DWT and ITM
CYCCNTENA = 1 << 0          # DWT_CTRL: the cycle counter runs

# nRF52840 product specification register windows: APB peripherals, GPIO (AHB), FICR/UICR.
NRF52_WINDOWS = ((0x40000000, 0x40000), (0x50000000, 0x1000), (0x10000000, 0x2000))
UARTE0 = 0x40002000
UARTE_TASKS_STARTTX, UARTE_TASKS_STOPTX = UARTE0 + 0x008, UARTE0 + 0x00C
UARTE_EVENTS_TXDRDY, UARTE_EVENTS_ENDTX = UARTE0 + 0x11C, UARTE0 + 0x120
UARTE_EVENTS_TXSTARTED, UARTE_EVENTS_TXSTOPPED = UARTE0 + 0x150, UARTE0 + 0x158
UARTE_TXD_PTR, UARTE_TXD_MAXCNT, UARTE_TXD_AMOUNT = UARTE0 + 0x544, UARTE0 + 0x548, UARTE0 + 0x54C
CLOCK = 0x40000000
# Tasks that complete at once in the emulator: task register -> event registers raised.
INSTANT_TASKS = {
    CLOCK + 0x000: (CLOCK + 0x100,),                     # HFCLKSTART -> HFCLKSTARTED
    CLOCK + 0x008: (CLOCK + 0x104,),                     # LFCLKSTART -> LFCLKSTARTED
    UARTE_TASKS_STOPTX: (UARTE_EVENTS_TXSTOPPED,),
}

MASK32 = 0xFFFFFFFF


class PeripheralMisuse(Exception):
    """The firmware used a peripheral in a way the board would not honour: (what happened, what to do)."""


class RegisterFile:
    """Byte-addressed storage for 32-bit registers, so byte and halfword accesses behave like memory."""

    def __init__(self):
        self._words: dict[int, int] = {}

    def get(self, address: int) -> int:
        return self._words.get(address & ~3, 0)

    def set(self, address: int, value: int) -> None:
        self._words[address & ~3] = value & MASK32

    def read(self, address: int, size: int) -> int:
        shift = (address & 3) * 8
        return (self.get(address) >> shift) & ((1 << (size * 8)) - 1)

    def write(self, address: int, size: int, value: int) -> None:
        shift = (address & 3) * 8
        mask = ((1 << (size * 8)) - 1) << shift
        self.set(address, (self.get(address) & ~mask) | ((value << shift) & mask))


class SystemControlSpace:
    """DHCSR reports a debugger, CPACR is tracked for the FPU check, DWT CYCCNT follows the modelled cycles.

    `now(address)` returns the modelled cycles retired before the instruction accessing `address`.
    """

    def __init__(self, now: Callable[[int], int]):
        self.registers = RegisterFile()
        self._now = now
        self._cyccnt_value = 0      # CYCCNT at the moment of the last change of value or enable
        self._cyccnt_since = 0      # modelled cycle count at that moment

    @property
    def fpu_enabled(self) -> bool:
        cpacr = self.registers.get(CPACR)
        return bool((cpacr >> 20) & 3) and bool((cpacr >> 22) & 3)   # CP10 and CP11 accessible

    def _counting(self) -> bool:
        return bool(self.registers.get(DEMCR) & TRCENA) and bool(self.registers.get(DWT_CTRL) & CYCCNTENA)

    def _cyccnt(self, now: int) -> int:
        if not self._counting():
            return self._cyccnt_value
        return (self._cyccnt_value + now - self._cyccnt_since) & MASK32

    def read(self, address: int, size: int) -> int:
        if address & ~3 == DWT_CYCCNT:
            return (self._cyccnt(self._now(address)) >> ((address & 3) * 8)) & ((1 << (size * 8)) - 1)
        value = self.registers.read(address, size)
        if address & ~3 == DHCSR and address & 3 == 0:
            value |= C_DEBUGEN
        return value

    def write(self, address: int, size: int, value: int) -> None:
        word = address & ~3
        if word in (DWT_CYCCNT, DWT_CTRL, DEMCR):
            now = self._now(address)
            current = self._cyccnt(now)
            if word == DWT_CYCCNT:
                self.registers.set(DWT_CYCCNT, current)
                self.registers.write(address, size, value)
                current = self.registers.get(DWT_CYCCNT)
            else:
                self.registers.write(address, size, value)
            self._cyccnt_value, self._cyccnt_since = current, now
            return
        if word == DHCSR:
            return          # halting-debug control belongs to the debugger, not the firmware
        self.registers.write(address, size, value)


class Nrf52Peripherals:
    """UARTE0 transmits by EasyDMA from RAM into `uart`; start tasks raise their events at once."""

    def __init__(self, read_memory: Callable[[int, int], bytes], ram: range):
        self.registers = RegisterFile()
        self.uart = bytearray()
        self._read_memory = read_memory
        self._ram = ram

    def read(self, address: int, size: int) -> int:
        return self.registers.read(address, size)

    def write(self, address: int, size: int, value: int) -> None:
        self.registers.write(address, size, value)
        if not value or address & ~3 != address:
            return
        if address == UARTE_TASKS_STARTTX:
            self._transmit()
        for event in INSTANT_TASKS.get(address, ()):
            self.registers.set(event, 1)

    def _transmit(self) -> None:
        pointer = self.registers.get(UARTE_TXD_PTR)
        count = self.registers.get(UARTE_TXD_MAXCNT) & 0xFFFF
        if count and (pointer not in self._ram or pointer + count - 1 not in self._ram):
            raise PeripheralMisuse(f"UARTE0 STARTTX with TXD.PTR 0x{pointer:08x} outside RAM",
                                   "EasyDMA reads RAM only, the board would not send this text: copy it to a RAM "
                                   "buffer first")
        self.uart += self._read_memory(pointer, count)
        self.registers.set(UARTE_TXD_AMOUNT, count)
        for event in (UARTE_EVENTS_TXSTARTED, UARTE_EVENTS_TXDRDY, UARTE_EVENTS_ENDTX):
            self.registers.set(event, 1)



# STM32L4+ register windows (ST RM0432 memory map): APB1, APB2 and AHB1 peripherals; GPIO ports on AHB2.
STM32L4_WINDOWS = ((0x40000000, 0x30000), (0x48000000, 0x3000))
RCC_CR, RCC_CFGR = 0x40021000, 0x40021008
RCC_CR_READY = ((1 << 0, 1 << 1), (1 << 8, 1 << 10), (1 << 16, 1 << 17), (1 << 24, 1 << 25))  # MSI, HSI, HSE, PLL
LPUART1_ISR, LPUART1_TDR = 0x4000801C, 0x40008028
LPUART_ISR_TXE_TC = (1 << 7) | (1 << 6)


class Stm32l4Peripherals:
    """Oscillators and the PLL are ready as soon as they are switched on, the system clock switch completes at once,
    and LPUART1 is always ready: bytes written to TDR are collected in `uart`."""

    def __init__(self):
        self.registers = RegisterFile()
        self.uart = bytearray()

    def read(self, address: int, size: int) -> int:
        word = address & ~3
        value = self.registers.get(word)
        if word == RCC_CR:
            for on, ready in RCC_CR_READY:
                value = value | ready if value & on else value & ~ready
        elif word == RCC_CFGR:
            value = (value & ~0xC) | ((value & 3) << 2)     # SWS follows SW
        elif word == LPUART1_ISR:
            value |= LPUART_ISR_TXE_TC
        return (value >> ((address & 3) * 8)) & ((1 << (size * 8)) - 1)

    def write(self, address: int, size: int, value: int) -> None:
        if address & ~3 == LPUART1_TDR:
            self.uart.append(value & 0xFF)
        self.registers.write(address, size, value)
