"""`tinyqi flash`: build the harness and upload it through PlatformIO's upload target, which runs pyOCD.

pyOCD (PyPI) drives CMSIS-DAP, J-Link and ST-Link probes; it is optional, so it is looked up at run time. Before
anything is built the probe is checked with `pyocd list`, so a missing tool or probe costs one line, not a build.
The uploaded ELF is the one the emulator runs: the harness prints over the board console and, when a debugger is
attached, over semihosting (docs/firmware.md).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile
from tinyqi.firmware.build import (REPO_ROOT, FirmwareLayout, PioCommand, check_project, generate_model_sources,
                                   pio_run_command)
from tinyqi.firmware.monitor import generate_monitor_sources
from tinyqi.firmware.pio_core import default_core_dir, prepare_core
from tinyqi.manifest import check_model_dir
from tinyqi.signal.stream import Excerpt

NO_PROBE_MARKERS = ("no available debug probes", "no connected debug probes")


@dataclass(frozen=True)
class FlashPlan:
    board: BoardProfile
    model_dir: Path | None  # None: the platformio.ini default model (the hand-written test fixture)
    layout: FirmwareLayout | None
    core_dir: Path
    upload: PioCommand
    float_model: bool = False  # the float32 model (FPU baseline) instead of the int8 one
    environment: str | None = None  # a monitor app's platformio.ini env; None: the board's own (the harness)
    excerpts: tuple[Excerpt, ...] = ()  # the monitor's recorded stream (--source stream)

    def describe(self) -> list[str]:
        """The exact steps, as lines a user can read or paste into a shell."""
        lines = []
        if self.model_dir is not None and self.environment is not None:
            records = ", ".join(f"{e.record} samples {e.start}..{e.start + len(e.adc) - 1}" for e in self.excerpts)
            lines.append(f"# generate C: tinyqi.firmware.monitor.generate_monitor_sources('{self.model_dir}', "
                         f"'{self.layout.model_src}', excerpts) with records: {records or 'none (SAADC)'}")
        elif self.model_dir is not None:
            model = (f", golden=tinyqi.modeldir.golden_vectors('{self.model_dir}', float_model=True)[0], "
                     "float_model=True") if self.float_model else ""
            lines.append(f"# generate C: tinyqi.codegen.generate('{self.model_dir}', '{self.layout.model_src}', "
                         f"use_csr=True{model})")
        lines.append("# build and upload through PlatformIO's upload target:")
        lines.append(self.upload.shell())
        lines.append(f"# the upload target runs: {sys.executable} -m pyocd " + " ".join(pyocd_flash_args(self)))
        return lines


def pyocd_flash_args(plan: FlashPlan) -> list[str]:
    """Mirror of UPLOADERFLAGS/UPLOADCMD in firmware/platform/builder/main.py."""
    env = plan.environment or plan.board.name
    elf = plan.layout.elf if plan.layout else REPO_ROOT / ".pio" / "build" / env / "firmware.elf"
    return ["flash", "--no-wait", "--target", plan.board.pyocd_target, "--format", "elf", str(elf)]


def plan_flash(board: BoardProfile, model_dir: Path | None, out_dir: Path | None, core_dir: Path | None,
               profile: bool, float_model: bool = False, environment: str | None = None,
               excerpts: tuple[Excerpt, ...] = ()) -> FlashPlan:
    """The harness (default) or the app of platformio.ini env `environment` (the monitor: with `excerpts` for its
    recorded stream)."""
    check_project()
    core = core_dir or default_core_dir()
    if model_dir is None:
        upload = pio_run_command(board, core, None, None, profile, ("upload",), environment)
        return FlashPlan(board, None, None, core, upload, environment=environment)
    check_model_dir(model_dir)  # --dry-run too: no plan for a directory whose files do not belong together
    layout = FirmwareLayout(out_dir.resolve(), environment or board.name)
    upload = pio_run_command(board, core, layout.model_src, layout.build_dir, profile, ("upload",), environment)
    return FlashPlan(board, model_dir, layout, core, upload, float_model, environment, excerpts)


def require_pyocd(board: BoardProfile) -> None:
    if importlib.util.find_spec("pyocd") is None:
        raise TinyqiError("pyocd: not installed; `pip install pyocd` to flash over CMSIS-DAP, J-Link or ST-Link "
                          f"(then, for {board.name}: connect the board's debug USB port)")


def require_probe(board: BoardProfile) -> None:
    listing = subprocess.run([sys.executable, "-m", "pyocd", "list"], capture_output=True, text=True)
    output = (listing.stdout + listing.stderr).lower()
    if listing.returncode != 0 or any(marker in output for marker in NO_PROBE_MARKERS):
        raise TinyqiError(f"flash --board {board.name}: pyocd finds no debug probe; connect the board's debug USB "
                          "port (and check `pyocd list`)")
    if not board.pyocd_target_builtin:
        raise_if_pack_missing(board)


def raise_if_pack_missing(board: BoardProfile) -> None:
    targets = subprocess.run([sys.executable, "-m", "pyocd", "list", "--targets"], capture_output=True, text=True)
    if board.pyocd_target not in targets.stdout.lower():
        raise TinyqiError(f"pyocd: target {board.pyocd_target} is not installed; run "
                          f"`pyocd pack install {board.pyocd_target}` once (needs the internet)")


def flash(plan: FlashPlan) -> None:
    require_pyocd(plan.board)
    require_probe(plan.board)
    prepare_core(plan.core_dir)
    if plan.model_dir is not None and plan.environment is not None:
        generate_monitor_sources(plan.model_dir, plan.layout.model_src, plan.excerpts)
    elif plan.model_dir is not None:
        generate_model_sources(plan.model_dir, plan.layout.model_src, plan.float_model)
    plan.upload.run(plan.layout.log if plan.layout else REPO_ROOT / ".pio" / "tinyqi-flash.log")
