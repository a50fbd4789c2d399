"""Emulation stage: run the firmware ELF under Unicorn (with a Cortex-M4 cycle model), QEMU or Renode, and parse
the harness lines into per-vector classes, outputs and cycles. Entry point: `run_firmware`."""

from tinyqi.emulate.run import ENGINES, EmulationResult, resolve_elf, run_firmware, target_for_board

__all__ = ["ENGINES", "EmulationResult", "resolve_elf", "run_firmware", "target_for_board"]
