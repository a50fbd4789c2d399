"""Cortex-M4 cycle model: static cycles per translated block, plus a pipeline refill for each taken branch.

Sources (docs/emulation.md lists every assumption):
- Arm Cortex-M4 Processor Technical Reference Manual r0p1 (ARM 100166_0001_00_en), section 3.3.1, Table 3-1
  "Processor instruction set summary": data processing, MUL/MLA/MLS and all long and DSP multiplies 1 cycle,
  SDIV/UDIV 2 to 12, LDR 2, LDM/STM/PUSH/POP 1+N, branches 1+P (conditional: 1 when not taken), TBB/TBH 2+P,
  ISB 1+B with B = P, DMB/DSB 1+B with B >= 0; IT can fold onto a preceding 16-bit instruction (0 cycles).
- the same manual, section 3.3.2 "Load/store timings": a load followed by a load or store whose address does not
  use the first load's destination costs one cycle less; STR Rx,[Ry,#imm] is one cycle; nothing pipelines after a
  store; LDRD/STRD do not pipeline; an address computed by the immediately preceding data-processing instruction
  stalls one cycle.
- the same manual, FPU chapter, instruction table: VDIV/VSQRT 14, VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS/VFNMA/VFNMS 3,
  VLDR 2 (double 3), VLDM/VSTM/VPUSH/VPOP 1+N (doubles 1+2N), VMOV between core and FP registers 2, other 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import capstone
from capstone import arm_const as arm

# Instruction classes. Each instruction gets exactly one.
DATA, LOAD, STORE, DOUBLE, MULTIPLE, FP_MEMORY, FP_MULTIPLE, FP_MOVE, FP_MAC, FP_DIVIDE, DIVIDE, BRANCH, \
    TABLE_BRANCH, IT, ISB, BREAKPOINT = range(16)

_CLASS_BY_ID = {}
for _names, _class in (
    ("LDR LDRB LDRH LDRSB LDRSH LDRT LDRBT LDRHT LDRSBT LDRSHT LDREX LDREXB LDREXH", LOAD),
    ("STR STRB STRH STRT STRBT STRHT STREX STREXB STREXH", STORE),
    ("LDRD STRD", DOUBLE),
    ("LDM LDMDB STM STMDB PUSH POP", MULTIPLE),
    ("VLDR VSTR", FP_MEMORY),
    ("VLDMIA VLDMDB VSTMIA VSTMDB VPUSH VPOP", FP_MULTIPLE),
    ("VMOV", FP_MOVE),
    ("VMLA VMLS VNMLA VNMLS VFMA VFMS VFNMA VFNMS", FP_MAC),
    ("VDIV VSQRT", FP_DIVIDE),
    ("SDIV UDIV", DIVIDE),
    ("B BL BX BLX CBZ CBNZ", BRANCH),
    ("TBB TBH", TABLE_BRANCH),
    ("IT", IT),
    ("ISB", ISB),
    ("BKPT", BREAKPOINT),
):
    for _name in _names.split():
        _CLASS_BY_ID[getattr(arm, f"ARM_INS_{_name}")] = _class

_SINGLE_MEMORY = (LOAD, STORE, DOUBLE)
_CORE_REGISTERS = {getattr(arm, f"ARM_REG_R{i}") for i in range(13)} | {
    arm.ARM_REG_SP, arm.ARM_REG_LR, arm.ARM_REG_PC}
_DOUBLE_FP_REGISTERS = {getattr(arm, f"ARM_REG_D{i}") for i in range(32)}


@dataclass(frozen=True)
class TimingModel:
    """The parameters of the model; every figure is explained in docs/emulation.md."""

    branch_refill: int = 2          # P for a taken branch; the TRM gives 1..3
    unaligned_wide_target: int = 1  # extra refill cycle when the target is a 32-bit instruction at addr % 4 == 2
    divide: int = 12                # SDIV/UDIV take 2..12 cycles with early termination: the upper bound
    flash_wait_states: int = 0      # per instruction refill from flash and per data read from flash


@dataclass(frozen=True)
class MemoryOperand:
    """How an instruction forms its address, so an access can be traced back to the instruction that made it."""

    base: int               # capstone register id
    index: int              # capstone register id, 0 when there is none
    displacement: int
    shift: int              # left shift applied to the index register
    post_indexed: bool      # the access uses the base alone; the displacement is applied afterwards


@dataclass(frozen=True)
class Instruction:
    address: int
    size: int
    kind: int
    cycles: int
    writes: frozenset
    address_registers: frozenset
    uses_fpu: bool
    memory: MemoryOperand | None


@dataclass(frozen=True)
class Block:
    """A translated block: its static cost, and the cycles retired before each of its instructions."""

    address: int
    size: int
    count: int
    cycles: int
    before: dict            # instruction offset in the block -> cycles of the block's earlier instructions
    refill: int             # P when this block is entered by a taken branch
    first_fpu: int | None   # offset of the block's first FPU instruction, if any
    accesses: tuple         # (offset, MemoryOperand) of each single load/store, in program order


class BlockCoster:
    """Decodes a block once with capstone and applies the Table 3-1 timings and 3.3.2 pairing rules."""

    def __init__(self, model: TimingModel, flash: range):
        self.model = model
        self.flash = flash
        self._md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        self._md.detail = True

    def decode(self, code: bytes, address: int) -> list[Instruction]:
        instructions, previous = [], None
        for insn in self._md.disasm(code, address):
            current = self._instruction(insn, previous)
            instructions.append(current)
            previous = current
        return instructions

    def block(self, code: bytes, address: int) -> Block:
        instructions = self.decode(code, address)
        before, total = {}, 0
        for insn in instructions:
            before[insn.address - address] = total
            total += insn.cycles
        first = instructions[0] if instructions else None
        accesses = tuple((insn.address - address, insn.memory) for insn in instructions if insn.memory)
        first_fpu = next((insn.address - address for insn in instructions if insn.uses_fpu), None)
        return Block(address, len(code), len(instructions), total, before, self._refill(first), first_fpu, accesses)

    def _refill(self, target: Instruction | None) -> int:
        refill = self.model.branch_refill
        if target is not None:
            if target.size == 4 and target.address % 4 == 2:
                refill += self.model.unaligned_wide_target
            if target.address in self.flash:
                refill += self.model.flash_wait_states
        return refill

    def _instruction(self, insn, previous: Instruction | None) -> Instruction:
        kind = _CLASS_BY_ID.get(insn.id, DATA)
        operands = insn.operands
        _, written = insn.regs_access()
        address_registers = _address_registers(kind, operands)
        cycles = self._cycles(insn, kind, operands, address_registers, previous)
        memory = _memory_operand(insn, operands) if kind in _SINGLE_MEMORY or kind == FP_MEMORY else None
        return Instruction(insn.address, insn.size, kind, cycles, frozenset(written), address_registers,
                           insn.mnemonic.startswith("v"), memory)

    def _cycles(self, insn, kind, operands, address_registers, previous: Instruction | None) -> int:
        if kind in _SINGLE_MEMORY:
            return _single_memory_cycles(kind, operands, address_registers, previous)
        if kind == MULTIPLE:
            return 1 + _register_list_length(insn, operands)
        if kind == FP_MEMORY:
            return 3 if operands[0].reg in _DOUBLE_FP_REGISTERS else 2
        if kind == FP_MULTIPLE:
            registers = [op.reg for op in operands if op.type == arm.ARM_OP_REG]
            if insn.id in _BASE_FIRST:
                registers = registers[1:]
            per_register = 2 if registers and registers[-1] in _DOUBLE_FP_REGISTERS else 1
            return 1 + per_register * len(registers)
        if kind == FP_MOVE:
            return _fp_move_cycles(operands)
        if kind == FP_MAC:
            return 3
        if kind == FP_DIVIDE:
            return 14
        if kind == DIVIDE:
            return self.model.divide
        if kind == TABLE_BRANCH:
            return 2
        if kind == IT:
            return 0 if previous is not None and previous.size == 2 else 1
        if kind == ISB:
            return 1 + self.model.branch_refill
        if kind == BREAKPOINT:
            return 0  # the core halts in debug state; CYCCNT does not count while halted
        return 1


# VLDM/VSTM name the base register first; VPUSH/VPOP list registers only.
_BASE_FIRST = {arm.ARM_INS_VLDMIA, arm.ARM_INS_VLDMDB, arm.ARM_INS_VSTMIA, arm.ARM_INS_VSTMDB}


def _address_registers(kind, operands) -> frozenset:
    if kind in _SINGLE_MEMORY:
        registers = set()
        for op in operands:
            if op.type == arm.ARM_OP_MEM:
                registers.update(r for r in (op.mem.base, op.mem.index) if r)
        return frozenset(registers)
    return frozenset()


def _memory_operand(insn, operands) -> MemoryOperand | None:
    for op in operands:
        if op.type == arm.ARM_OP_MEM:
            shift = op.shift.value if op.mem.index and op.shift.type == arm.ARM_SFT_LSL else 0
            return MemoryOperand(op.mem.base, op.mem.index, op.mem.disp, shift, bool(insn.post_index))
    return None


def _single_memory_cycles(kind, operands, address_registers, previous: Instruction | None) -> int:
    memory = next(op for op in operands if op.type == arm.ARM_OP_MEM)
    if kind == DOUBLE:
        cycles = 3                                   # 1 + N with N = 2, never pipelined
    elif kind == STORE and not memory.mem.index:
        cycles = 1                                   # STR Rx,[Ry,#imm] is always one cycle
    else:
        cycles = 2
        if previous is not None and previous.kind == LOAD \
                and not (previous.writes & address_registers):
            cycles = 1                               # pipelined behind the preceding load
    if previous is not None and previous.kind == DATA and previous.writes & address_registers:
        cycles += 1                                  # no forwarding path into address generation
    return cycles


def _register_list_length(insn, operands) -> int:
    registers = [op for op in operands if op.type == arm.ARM_OP_REG]
    if insn.id in (arm.ARM_INS_PUSH, arm.ARM_INS_POP):
        return len(registers)
    return len(registers) - 1                        # LDM/STM: the first operand is the base register


def _fp_move_cycles(operands) -> int:
    core = sum(1 for op in operands if op.type == arm.ARM_OP_REG and op.reg in _CORE_REGISTERS)
    lane = any(op.type == arm.ARM_OP_REG and op.vector_index != -1 for op in operands)
    if core and not lane:
        return 2    # one float or two floats / one double to or from core registers
    return 1        # register to register, immediate, to or from one half of a double
