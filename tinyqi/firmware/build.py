"""Firmware build: a model directory -> generated C -> the harness built offline by PlatformIO -> ELF size report.

Layout of a build (`out_dir`, by default <model dir>/firmware/<board>[-float][-profile]/: -float for the float32
model, the FPU baseline; -profile with -DTQ_PROFILE):
  model_src/   model_data.c/.h and golden_data.c/.h from tinyqi.codegen
  pio/         PlatformIO build directory; the ELF is pio/<board>/firmware.elf (and firmware.map next to it)
  size.json    SizeReport of the ELF
The PlatformIO project is the repository's platformio.ini; `pio` always runs against the offline core prepared
by tinyqi.firmware.pio_core, with the model directory passed in $TINYQI_MODEL_SRC.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import is_hidden, write_json
from tinyqi.firmware.boards import BoardProfile, get_board
from tinyqi.firmware.pio_core import default_core_dir, pio_environment, prepare_core
from tinyqi.firmware.size_report import SizeReport, analyse_elf
from tinyqi.manifest import check_model_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILE = REPO_ROOT / "platformio.ini"
MODEL_FILE = "model_int8.tflite"
FLOAT_MODEL_FILE = "model_float.tflite"
GOLDEN_FILE = "golden.npz"
PROFILE_FLAG = "-DTQ_PROFILE"


@dataclass(frozen=True)
class BuildResult:
    board: str
    elf: Path
    flash_bytes: int
    ram_bytes: int
    breakdown: SizeReport


@dataclass(frozen=True)
class FirmwareLayout:
    out_dir: Path
    board: str  # the PlatformIO env built (the board's name for the harness): the ELF lands in pio/<env>/

    @property
    def model_src(self) -> Path:
        return self.out_dir / "model_src"

    @property
    def build_dir(self) -> Path:
        return self.out_dir / "pio"

    @property
    def elf(self) -> Path:
        return self.build_dir / self.board / "firmware.elf"

    @property
    def size_json(self) -> Path:
        return self.out_dir / "size.json"

    @property
    def log(self) -> Path:
        return self.out_dir / "pio-run.log"


@dataclass(frozen=True)
class PioCommand:
    """One `pio run` invocation and the variables it adds to the caller's environment."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    label: str  # short form for messages, e.g. "pio run -e nrf52840 -t upload"

    def shell(self) -> str:
        """The command as one shell line, for --dry-run and error messages."""
        assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in self.env)
        return f"{assignments} {shlex.join(self.argv)}"

    def run(self, log_path: Path) -> None:
        """Run from the repository root; on failure keep the full output in `log_path` and raise one line."""
        completed = subprocess.run(self.argv, env={**os.environ, **dict(self.env)}, cwd=REPO_ROOT,
                                   capture_output=True, text=True)
        if completed.returncode != 0:
            output = completed.stdout + completed.stderr
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(output)
            raise TinyqiError(f"{self.label}: {first_error_line(output)}; full log in {log_path}")


def first_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() and not line.startswith("="):
            return line
    return lines[-1] if lines else "failed without output"


def check_project() -> None:
    if not PROJECT_FILE.is_file():
        raise TinyqiError(f"{PROJECT_FILE}: not found; the firmware is built from a tinyqi source checkout")


def pio_run_command(board: BoardProfile, core_dir: Path, model_src: Path | None, build_dir: Path | None,
                    profile: bool, targets: tuple[str, ...] = (), environment: str | None = None) -> PioCommand:
    """`pio run` for `board` (platformio.ini env `environment`, default the board's own: the harness); without
    `model_src` it builds the platformio.ini default model."""
    environment = environment or board.name
    env = {name: value for name, value in pio_environment(core_dir).items() if name.startswith("PLATFORMIO_")}
    if build_dir is not None:
        env["PLATFORMIO_BUILD_DIR"] = str(build_dir)
    if model_src is not None:
        env["TINYQI_MODEL_SRC"] = str(model_src)
    if profile:
        env["PLATFORMIO_BUILD_FLAGS"] = PROFILE_FLAG
    argv = [sys.executable, "-m", "platformio", "run", "--project-dir", str(REPO_ROOT), "--environment", environment]
    label = f"pio run -e {environment}"
    for target in targets:
        argv += ["--target", target]
        label += f" -t {target}"
    return PioCommand(tuple(argv), tuple(sorted(env.items())), label)


def model_directory(run_dir: Path, variant: str | None) -> Path:
    """RUN_DIR itself, or RUN_DIR/variants/<variant>: a directory holding model_int8.tflite."""
    if not run_dir.is_dir():
        raise TinyqiError(f"{run_dir}: no such run directory; train one with `tinyqi train <task>`")
    model_dir = run_dir if variant is None else run_dir / "variants" / variant
    if not model_dir.is_dir():
        variants = sorted(path.name for path in (run_dir / "variants").glob("*")
                          if path.is_dir() and not is_hidden(path))
        raise TinyqiError(f"{model_dir}: no such variant; available: {', '.join(variants) or 'none'} "
                          "(create them with `tinyqi compress`)")
    if not (model_dir / MODEL_FILE).is_file():
        raise TinyqiError(f"{model_dir}: no {MODEL_FILE}; this is not a model directory (see docs/architecture.md)")
    return model_dir


def default_out_dir(model_dir: Path, board: BoardProfile, profile: bool = False, float_model: bool = False) -> Path:
    """<model dir>/firmware/<board>[-float][-profile]: no kind of build overwrites another."""
    return model_dir / "firmware" / (board.name + ("-float" if float_model else "") + ("-profile" if profile else ""))


def as_board(board: str | BoardProfile) -> BoardProfile:
    return get_board(board) if isinstance(board, str) else board


def generate_model_sources(model_dir: Path, model_src: Path, float_model: bool = False) -> None:
    """The int8 model with its CSR tables, or (float_model) the float32 model with TFLM's float golden outputs."""
    from tinyqi.codegen import generate  # imported here: codegen loads the .tflite stack
    from tinyqi.modeldir import golden_vectors

    check_model_dir(model_dir)  # the golden vectors are this model's, the CSR tables this model's
    if not (model_dir / GOLDEN_FILE).is_file():
        raise TinyqiError(f"{model_dir}: no {GOLDEN_FILE}; the harness checks the model against golden vectors, "
                          "which `tinyqi train` (run directory) and `tinyqi compress` (variants) write")
    if float_model and not (model_dir / FLOAT_MODEL_FILE).is_file():
        raise TinyqiError(f"{model_dir}: no {FLOAT_MODEL_FILE}; the float32 build needs the float model that "
                          "`tinyqi train` writes into the run directory (variants have none)")
    golden, source = golden_vectors(model_dir, float_model)
    generate(model_dir, model_src, use_csr=True, golden=golden, float_model=float_model, golden_source=source)


def compile_firmware(model_src: Path, board: str | BoardProfile, out_dir: Path, core_dir: Path | None = None,
                     profile: bool = False, environment: str | None = None) -> BuildResult:
    """Build the harness (or the app of platformio.ini env `environment`) around a directory of generated C
    (model_data.c/.h, golden_data.c/.h)."""
    check_project()
    board = as_board(board)
    layout = FirmwareLayout(out_dir.resolve(), environment or board.name)
    core = prepare_core(core_dir or default_core_dir())
    command = pio_run_command(board, core, model_src.resolve(), layout.build_dir, profile, (), environment)
    command.run(layout.log)
    report = analyse_elf(layout.elf, board)
    write_json(layout.size_json, report.as_dict(), sort_keys=True)
    return BuildResult(board.name, layout.elf, report.flash_bytes, report.ram_bytes, report)


def build(model_dir: Path, board: str | BoardProfile, out_dir: Path, core_dir: Path | None = None,
          profile: bool = False, float_model: bool = False) -> BuildResult:
    """codegen for `model_dir` (its int8 model, or with float_model its float32 model), then the firmware for
    `board` in `out_dir`."""
    board = as_board(board)
    layout = FirmwareLayout(out_dir.resolve(), board.name)
    generate_model_sources(model_dir, layout.model_src, float_model)
    return compile_firmware(layout.model_src, board, out_dir, core_dir, profile)
