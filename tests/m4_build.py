"""A signal chain compiled for the Cortex-M4F as the firmware compiles it, for the chain tests of both tasks
(test_signal_chain.py: ECG, test_signal_vibration.py): which FPU instructions and soft-float calls it holds, and
the size of its state there."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

RUNTIME = REPO / "firmware" / "lib" / "tinyqi"
ARM_CC = "arm-none-eabi-gcc"
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2", "-falign-loops=4",
             "-std=c99", "-Wall", "-Wextra", "-Werror"]
needs_arm_cc = pytest.mark.skipif(shutil.which(ARM_CC) is None, reason=f"{ARM_CC} not installed")


@dataclass(frozen=True)
class M4Build:
    hard: list[Path]  # the sources' objects, hard-float ABI (the firmware's)
    soft: list[Path]  # the same, soft-float ABI: a float operation would call a libgcc helper
    state_size: int  # sizeof the state, as the probe measured it (hard-float ABI)

    def fpu_instructions(self) -> list[str]:
        disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", *map(str, self.hard)], capture_output=True,
                                     text=True, check=True).stdout
        return [line for line in disassembly.splitlines() if re.search(r"\t(v[a-z]+|vmrs|vmsr)(\.\S+)?\s", line)]

    def soft_undefined(self) -> str:
        """`nm -u` of the soft-float objects: every function they call outside themselves."""
        return subprocess.run(["arm-none-eabi-nm", "-u", *map(str, self.soft)], capture_output=True, text=True,
                              check=True).stdout


def m4_build(sources: list[Path], state: str, header: str, out: Path) -> M4Build:
    """`sources` compiled with the firmware's flags (and -Werror) under both float ABIs, and a probe of sizeof(`state`)
    (declared in `header`) compiled with them."""
    probe = out / "size.c"
    probe.write_text(f'#include "{header}"\nchar state_size[sizeof({state})];\n')
    objects = {abi: [_compile(src, abi, out) for src in [*sources, probe]] for abi in ("hard", "soft")}
    size = subprocess.run(["arm-none-eabi-nm", "-S", str(objects["hard"][-1])], capture_output=True, text=True,
                          check=True).stdout
    return M4Build(objects["hard"][:-1], objects["soft"][:-1], int(size.split()[1], 16))


def _compile(source: Path, abi: str, out: Path) -> Path:
    flags = [f for f in ARM_FLAGS if not f.startswith("-mfloat-abi")] + [f"-mfloat-abi={abi}"]
    if abi == "soft":
        flags.remove("-mfpu=fpv4-sp-d16")
    obj = out / f"{source.stem}-{abi}.o"
    result = subprocess.run([ARM_CC, *flags, f"-I{RUNTIME / 'include'}", "-c", str(source), "-o", str(obj)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return obj
