"""The built-in engine: Unicorn runs the firmware ELF, and capstone-costed blocks give modelled Cortex-M4 cycles.

Memory: the board's flash (read/execute) and RAM, the system control space (debug, DWT, SCB) and the SoC's
peripheral register windows (nRF52 or STM32L4) as callback-backed registers (peripherals.py). Execution starts at the
reset vector with the initial SP from vector 0, in Thumb M-class mode, and stops on semihosting SYS_EXIT, on any
other BKPT, on WFI/WFE (the harness enables no interrupt to wake it), or when the instruction budget or the wall-clock
limit is spent. A fault stops the run with one line naming PC and function.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import unicorn.arm_const
from capstone import arm_const as arm
from unicorn import (UC_ARCH_ARM, UC_HOOK_BLOCK, UC_HOOK_INTR, UC_HOOK_MEM_FETCH_PROT, UC_HOOK_MEM_READ,
                     UC_HOOK_MEM_UNMAPPED, UC_HOOK_MEM_WRITE_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_PROT,
                     UC_MEM_WRITE_UNMAPPED, UC_MODE_MCLASS, UC_MODE_THUMB, UC_PROT_ALL, UC_PROT_EXEC, UC_PROT_READ,
                     Uc, UcError)
from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP, \
    UC_CPU_ARM_CORTEX_M4
from unicorn.unicorn_const import UC_ERR_INSN_INVALID

from tinyqi.emulate.cycles import Block, BlockCoster, MemoryOperand, TimingModel
from tinyqi.emulate.elf import ElfImage
from tinyqi.emulate.peripherals import (NRF52_WINDOWS, SCS_BASE, SCS_SIZE, STM32L4_WINDOWS, Nrf52Peripherals,
                                        PeripheralMisuse, Stm32l4Peripherals, SystemControlSpace)
from tinyqi.emulate.result import STOP_BREAKPOINT, STOP_BUDGET, STOP_EXIT, STOP_SLEEP, STOP_TIMEOUT, RawRun
from tinyqi.emulate.semihosting import BKPT_SEMIHOSTING, Semihosting, UnsupportedOperation
from tinyqi.emulate.target import Target
from tinyqi.errors import TinyqiError

DEFAULT_BUDGET = 500_000_000      # instructions; about two minutes at the measured speed
DEFAULT_TIMEOUT = 600.0           # wall-clock seconds: the budget's two minutes, with room for a busy machine
EXCP_SWI, EXCP_BKPT = 2, 7        # QEMU's exception numbers for SVC and BKPT, as Unicorn reports them
EXCEPTION_NAMES = {1: "undefined instruction", 2: "SVC", 3: "prefetch abort", 4: "data abort",
                   8: "exception return"}
PAGE = 0x1000
SLEEP_INSTRUCTIONS = {0xBF30, 0xBF20}      # WFI, WFE (16-bit): Unicorn halts on them with nothing to wake the core
_UC_REGISTER = {getattr(arm, f"ARM_REG_R{i}"): getattr(unicorn.arm_const, f"UC_ARM_REG_R{i}") for i in range(13)} | {
    arm.ARM_REG_SP: UC_ARM_REG_SP, arm.ARM_REG_LR: UC_ARM_REG_LR, arm.ARM_REG_PC: UC_ARM_REG_PC}


class UnicornEngine:
    name = "unicorn"

    def __init__(self, target: Target, budget: int = DEFAULT_BUDGET, timing: TimingModel | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.target = target
        self.budget = budget
        self.timing = timing or TimingModel(flash_wait_states=target.flash_wait_states)
        self.timeout = timeout

    def run(self, elf: str | Path) -> RawRun:
        return _Run(ElfImage(elf), self.target, self.timing, self.budget).execute(self.timeout)


class _State:
    """The counters the block hook updates; slots keep the hot path cheap."""

    __slots__ = ("cycles", "instructions", "block", "block_start", "fallthrough", "stop", "fault")

    def __init__(self, entry: int):
        self.cycles = 0
        self.instructions = 0
        self.block: Block | None = None
        self.block_start = 0            # cycles when the current block was entered, refill included
        self.fallthrough = entry        # where execution continues if the current block does not branch
        self.stop: str | None = None
        self.fault: str | None = None


class _Run:
    def __init__(self, image: ElfImage, target: Target, timing: TimingModel, budget: int):
        self.image, self.target, self.budget = image, target, budget
        self.coster = BlockCoster(timing, target.flash)
        self.costs: dict[int, tuple] = {}
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
        self.sp, self.entry = self._vectors()
        self.state = _State(self.entry)
        self._execution, self._seen = None, {}
        self.scs = SystemControlSpace(self._now)
        self.semihosting = Semihosting(self._read, bytearray())
        self.peripherals, self.windows = self._peripheral_model()
        self._map_memory()
        self._install_hooks(timing.flash_wait_states)

    # ---- set-up -------------------------------------------------------------------------------------------
    def _vectors(self) -> tuple[int, int]:
        sp = self.image.read_word(self.target.flash_base)
        reset = self.image.read_word(self.target.flash_base + 4)
        if not reset & 1 or (reset & ~1) not in self.target.flash:
            raise TinyqiError(f"{self.image.path}: reset vector 0x{reset:08x} is not a Thumb address in "
                              f"{self.target.name} flash; link the vector table at 0x{self.target.flash_base:08x}")
        if not self.target.ram_base < sp <= self.target.ram_base + self.target.ram_size:
            raise TinyqiError(f"{self.image.path}: initial SP 0x{sp:08x} is outside {self.target.name} RAM; "
                              "check the linker script's stack symbol")
        return sp, reset & ~1

    def _peripheral_model(self):
        if self.target.peripherals == "nrf52":
            return Nrf52Peripherals(self._read, self.target.ram), NRF52_WINDOWS
        if self.target.peripherals == "stm32l4":
            return Stm32l4Peripherals(), STM32L4_WINDOWS
        raise TinyqiError(f"unicorn engine: no peripheral model for board {self.target.name}; "
                          "add one to tinyqi/emulate/peripherals.py")

    def _map_memory(self) -> None:
        target = self.target
        self.uc.mem_map(target.flash_base, _pages(target.flash_size), UC_PROT_READ | UC_PROT_EXEC)
        self.uc.mem_map(target.ram_base, _pages(target.ram_size), UC_PROT_ALL)
        for segment in self.image.segments:
            end = segment.address + len(segment.data)
            if not any(segment.address in r and end - 1 in r for r in (target.flash, target.ram)):
                raise TinyqiError(f"{self.image.path}: segment 0x{segment.address:08x}-0x{end:08x} lies outside "
                                  f"{target.name} flash and RAM; build the ELF for this board")
            self.uc.mem_write(segment.address, segment.data)
        self.uc.mmio_map(SCS_BASE, SCS_SIZE, self._scs_read, None, self._scs_write, None)
        for base, size in self.windows:
            self.uc.mmio_map(base, size, self._peripheral_read, base, self._peripheral_write, base)

    def _install_hooks(self, flash_wait_states: int) -> None:
        self.uc.hook_add(UC_HOOK_BLOCK, self._block_hook())
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT, self._on_bad_access)
        if flash_wait_states:
            self.uc.hook_add(UC_HOOK_MEM_READ, self._flash_read_hook(flash_wait_states),
                             begin=self.target.flash_base, end=self.target.flash_base + self.target.flash_size - 1)

    # ---- run ----------------------------------------------------------------------------------------------
    def execute(self, timeout: float) -> RawRun:
        """Runs until the firmware stops, the budget is spent or `timeout` wall-clock seconds have passed (Unicorn
        stops the run from its own timer thread, so the block hook pays nothing for it)."""
        self.uc.reg_write(UC_ARM_REG_SP, self.sp)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            self.uc.emu_start(self.entry | 1, 0xFFFFFFFF, timeout=max(int(timeout * 1e6), 1))
        except UcError as exc:
            if self.state.fault is None:
                self.state.fault = self._describe_error(exc)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        if self.state.fault is not None:
            raise TinyqiError(self.state.fault)
        if self.state.stop is None:
            self.state.stop = self._unrequested_stop(seconds >= timeout)
        return RawRun(engine=UnicornEngine.name, uart=_text(self.peripherals.uart),
                      semihosting=_text(self.semihosting.output), exit_code=self.semihosting.exit_code,
                      stop_reason=self.state.stop, instructions=self.state.instructions, cycles=self.state.cycles,
                      seconds=seconds, cpu_seconds=cpu_seconds)

    def _unrequested_stop(self, out_of_time: bool) -> str:
        """Why emu_start returned when no hook stopped it: the core slept (WFI/WFE) or the wall clock ran out."""
        if struct.unpack("<H", self._read(self._pc() - 2, 2))[0] in SLEEP_INSTRUCTIONS:
            return STOP_SLEEP
        if out_of_time:
            return STOP_TIMEOUT
        raise TinyqiError(self._at(self._pc(), "emulation ended without SYS_EXIT, BKPT, WFI, budget or timeout",
                                   "report this as a tinyqi bug"))

    def _block_hook(self):
        """Per translated block: static cost, plus the refill when the previous block branched away."""
        state, costs, budget, decode = self.state, self.costs, self.budget, self._decode

        def on_block(uc, address, size, _user_data):
            cost = costs.get(address)
            if cost is None or cost[0] != size:
                cost = decode(address, size)
                if cost is None:
                    return
            _, cycles, count, refill, block = cost
            start = state.cycles
            if address != state.fallthrough:
                start += refill
            state.block_start = start
            state.block = block
            state.cycles = start + cycles
            state.fallthrough = address + size
            state.instructions += count
            if state.instructions > budget:
                state.stop = STOP_BUDGET
                uc.emu_stop()

        return on_block

    def _decode(self, address: int, size: int) -> tuple | None:
        """Costs a block on its first execution; the hook's cache entry is (size, cycles, count, refill, block)."""
        block = self.coster.block(bytes(self.uc.mem_read(address, size)), address)
        if block.first_fpu is not None and not self.scs.fpu_enabled:
            self._stop_with_fault(self._at(address + block.first_fpu,
                                           "FPU instruction executed before CPACR enables CP10/CP11",
                                           "the board raises a NOCP UsageFault here: enable the FPU in start-up"))
            return None
        cost = self.costs[address] = (block.size, block.cycles, block.count, block.refill, block)
        return cost

    def _now(self, address: int) -> int:
        """Modelled cycles retired before the instruction that is accessing `address` (for DWT CYCCNT)."""
        block = self.state.block
        if block is None:
            return self.state.cycles
        return self.state.block_start + block.before[self._access_offset(block, address)]

    def _access_offset(self, block: Block, address: int) -> int:
        """Which instruction of the current block is accessing `address`, as an offset in the block.

        Unicorn does not update PC inside a block, but the registers are current: the accessing instruction is one
        whose address operands yield `address`; when several do, their accesses come in program order.
        """
        execution = (self.state.instructions, block.address)
        if execution != self._execution:
            self._execution, self._seen = execution, {}
        matches = [offset for offset, memory in block.accesses
                   if self._effective_address(memory, block.address + offset) == address]
        seen = self._seen.get(address, 0)
        self._seen[address] = seen + 1
        return matches[min(seen, len(matches) - 1)] if matches else 0

    def _effective_address(self, memory: MemoryOperand, pc: int) -> int:
        base = (pc + 4) & ~3 if memory.base == arm.ARM_REG_PC else self.uc.reg_read(_UC_REGISTER[memory.base])
        if memory.post_indexed:
            return base
        index = self.uc.reg_read(_UC_REGISTER[memory.index]) << memory.shift if memory.index else 0
        return (base + memory.displacement + index) & 0xFFFFFFFF

    def _flash_read_hook(self, wait_states: int):
        state = self.state

        def on_flash_read(_uc, _access, _address, _size, _value, _user_data):
            state.cycles += wait_states
            state.block_start += wait_states   # later instructions of the block retire later too

        return on_flash_read

    # ---- memory-mapped registers --------------------------------------------------------------------------
    def _scs_read(self, _uc, offset, size, _user_data):
        return self.scs.read(SCS_BASE + offset, size)

    def _scs_write(self, _uc, offset, size, value, _user_data):
        self.scs.write(SCS_BASE + offset, size, value)

    def _peripheral_read(self, _uc, offset, size, base):
        return self.peripherals.read(base + offset, size)

    def _peripheral_write(self, _uc, offset, size, value, base):
        try:
            self.peripherals.write(base + offset, size, value)
        except PeripheralMisuse as exc:
            what, hint = exc.args
            block = self.state.block
            self._stop_with_fault(self._at(block.address + self._access_offset(block, base + offset), what, hint))

    def _read(self, address: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(address, size))

    # ---- breakpoints, semihosting and faults --------------------------------------------------------------
    def _on_interrupt(self, uc, number, _user_data):
        pc = self._pc()
        if number != EXCP_BKPT:
            name = EXCEPTION_NAMES.get(number, f"CPU exception {number}")
            at = pc - 2 if number == EXCP_SWI else pc     # SVC reports its return address; Thumb SVC is 16-bit
            self._stop_with_fault(self._at(at, name, "the board would enter its exception handler here"))
            return
        if struct.unpack("<H", self._read(pc, 2))[0] != BKPT_SEMIHOSTING:
            self.state.stop = STOP_BREAKPOINT
            uc.emu_stop()
            return
        try:
            result = self.semihosting.call(uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1))
        except UnsupportedOperation as exc:
            self._stop_with_fault(self._at(pc, f"{exc} is not supported", "the firmware contract uses SYS_WRITEC, "
                                           "SYS_WRITE0, SYS_EXIT and SYS_EXIT_EXTENDED only"))
            return
        except UcError:
            self._stop_with_fault(self._at(pc, "semihosting parameter points to unmapped memory",
                                           "check the pointer passed in r1"))
            return
        uc.reg_write(UC_ARM_REG_R0, result)
        if self.semihosting.exit_code is not None:
            self.state.stop = STOP_EXIT
            uc.emu_stop()
            return
        uc.reg_write(UC_ARM_REG_PC, (pc + 2) | 1)

    def _on_bad_access(self, uc, access, address, _size, _value, _user_data):
        block = self.state.block
        pc = block.address + self._access_offset(block, address) if block else self._pc()
        if access == UC_MEM_FETCH_UNMAPPED:
            lr = uc.reg_read(UC_ARM_REG_LR)
            message = self._at(lr, f"jump to unmapped address 0x{address:08x} (return address shown)",
                               "check function pointers and the stack")
        elif access == UC_MEM_WRITE_PROT:
            message = self._at(pc, f"write to flash at 0x{address:08x}",
                               "flash is read-only to the CPU: put the variable in RAM")
        else:
            verb = "write to" if access == UC_MEM_WRITE_UNMAPPED else "read of"
            message = self._at(pc, f"{verb} unmapped address 0x{address:08x}",
                               "the board raises a BusFault (HardFault) here: check the pointer")
        self.state.fault = message
        return False

    def _describe_error(self, exc: UcError) -> str:
        pc = self._pc()
        if exc.errno == UC_ERR_INSN_INVALID:
            return self._at(pc, "undefined instruction",
                            "the board raises a UsageFault (HardFault) here: check the build flags (-mcpu=cortex-m4)")
        return self._at(pc, f"emulation error ({exc})", "the board would fault here")

    def _stop_with_fault(self, message: str) -> None:
        if self.state.fault is None:
            self.state.fault = message
        self.uc.emu_stop()

    def _at(self, address: int, what: str, hint: str) -> str:
        return f"{self.image.path.name}: {what} at pc 0x{address & ~1:08x} ({self.image.describe(address)}); {hint}"

    def _pc(self) -> int:
        return self.uc.reg_read(UC_ARM_REG_PC)


def _pages(size: int) -> int:
    return (size + PAGE - 1) // PAGE * PAGE


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")
