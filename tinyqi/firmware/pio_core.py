"""An offline PlatformIO core directory, so `pio run` never needs the PlatformIO registry.

PlatformIO resolves two packages from its registry that this project provides locally instead:
  - `toolchain-gccarmnoneeabi`: a package folder whose bin/ holds symlinks to Debian's arm-none-eabi tools;
  - `tool-scons`, the build engine every `pio run` starts: a launcher for the SCons already installed in this Python.
The core finds `tool-scons` by owner "platformio" and a version matching its own pin (platformio/dependencies.py),
so the folder carries PlatformIO's install metadata file `.piopm` naming that owner. That file format is
PlatformIO-internal: this module is written against platformio==6.2.0 (pinned in pyproject.toml).

The core lives where platformio.ini's `core_dir` says (`.pio/core` in the clone), so a plain `pio run` in the
clone finds it without PLATFORMIO_CORE_DIR; the core's own settings turn off the upgrade check (it stalls ~60 s
offline) and telemetry. tinyqi's own `pio` calls set the same through `pio_environment()`.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
from pathlib import Path

from tinyqi.errors import TinyqiError

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE_DIR_ENV = "TINYQI_PIO_CORE"
TOOLCHAIN_PACKAGE = "toolchain-gccarmnoneeabi"
SCONS_PACKAGE = "tool-scons"
TOOLCHAIN_PREFIX = "arm-none-eabi-"
TOOLCHAIN_TOOLS = ("addr2line", "ar", "as", "cpp", "g++", "gcc", "gcc-ar", "gcc-nm", "gcc-ranlib", "ld", "nm",
                   "objcopy", "objdump", "ranlib", "readelf", "size", "strip")
APT_HINT = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
# The weekly upgrade check stalls ~60 s offline; days between checks, as PlatformIO's setting counts them.
OFFLINE_SETTINGS = {"check_platformio_interval": 36500, "enable_telemetry": False}

SCONS_LAUNCHER = '''\
# Written by tinyqi (tinyqi/firmware/pio_core.py): PlatformIO runs this file with its own Python;
# it starts the SCons installed in that Python (the `scons` wheel pinned in requirements.lock).
import sys

from SCons.Script.Main import main

sys.exit(main())
'''


def default_core_dir() -> Path:
    """$TINYQI_PIO_CORE, else the clone's own core, the one a plain `pio run` there uses (project_core_dir).

    One core per clone: platformio.ini names the platform by a relative `symlink://` URI, and a core remembers the
    first directory that URI resolved to, so two clones sharing a core would build with one clone's platform.
    """
    if os.environ.get(CORE_DIR_ENV):
        return Path(os.environ[CORE_DIR_ENV]).expanduser().resolve()
    return project_core_dir(REPO_ROOT)


def project_core_dir(project_dir: Path) -> Path:
    """`core_dir` of the [platformio] section of project_dir/platformio.ini, resolved as PlatformIO does when `pio`
    runs in project_dir (${PROJECT_DIR} is that directory)."""
    ini = Path(project_dir) / "platformio.ini"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini)
        value = parser.get("platformio", "core_dir")
    except (configparser.Error, OSError) as exc:
        raise TinyqiError(f"{ini}: no readable [platformio] core_dir ({exc}); restore platformio.ini from the "
                          "repository") from None
    return (Path(project_dir) / value.replace("${PROJECT_DIR}", str(project_dir))).resolve()


def pio_environment(core_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PLATFORMIO_CORE_DIR": str(core_dir),
        "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
        "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
    })
    return env


def find_cross_gcc() -> Path:
    gcc = shutil.which(TOOLCHAIN_PREFIX + "gcc")
    if gcc is None:
        raise TinyqiError(f"{TOOLCHAIN_PREFIX}gcc: not found on PATH; install it with `{APT_HINT}`")
    return Path(gcc).resolve()


def semver_of_gcc(gcc: Path) -> str:
    """PlatformIO's toolchain version scheme: GCC 12.2.1 -> 1.120201.0."""
    dumped = subprocess.run([str(gcc), "-dumpfullversion"], capture_output=True, text=True, check=True).stdout
    major, minor, patch = (int(part) for part in dumped.strip().split("."))
    return f"1.{major}{minor:02d}{patch:02d}.0"


def semver_of_scons() -> str:
    """PlatformIO's tool-scons version scheme: SCons 4.11.1 -> 4.41101.0."""
    import SCons  # the wheel installed next to platformio

    major, minor, patch = (int(part) for part in SCons.__version__.split(".")[:3])
    return f"{major}.{major}{minor:02d}{patch:02d}.0"


def required_scons_spec() -> str:
    from platformio.dependencies import get_core_dependencies

    return get_core_dependencies()[SCONS_PACKAGE]


def check_scons_matches_platformio(version: str) -> None:
    import semantic_version

    wanted = required_scons_spec()
    if semantic_version.Version(version) not in semantic_version.SimpleSpec(wanted):
        raise TinyqiError(f"scons: this Python has tool-scons {version}, PlatformIO wants {wanted}; install the "
                          "scons version pinned in requirements.lock")


def write_package(folder: Path, name: str, version: str, kind: str, owner: str | None, description: str) -> None:
    """package.json (what PlatformIO shows) and .piopm (how it matches the package to a requirement)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"name": name, "version": version, "description": description}
    (folder / "package.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    spec = {"owner": owner, "id": None, "name": name, "requirements": None, "uri": None}
    metadata = {"type": kind, "name": name, "version": version, "spec": spec}
    (folder / ".piopm").write_text(json.dumps(metadata, sort_keys=True) + "\n")


def replace_symlink(link: Path, target: Path) -> None:
    temporary = link.with_name(link.name + ".tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, link)


def prepare_toolchain(packages: Path, gcc: Path) -> Path:
    folder = packages / TOOLCHAIN_PACKAGE
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLCHAIN_TOOLS:
        real = gcc.parent / (TOOLCHAIN_PREFIX + tool)
        if real.exists():
            replace_symlink(bin_dir / real.name, real.resolve())
    write_package(folder, TOOLCHAIN_PACKAGE, semver_of_gcc(gcc), "tool", None,
                  f"Symlinks to the system arm-none-eabi toolchain in {gcc.parent} (tinyqi offline build)")
    return folder


def prepare_scons(packages: Path) -> Path:
    version = semver_of_scons()
    check_scons_matches_platformio(version)
    folder = packages / SCONS_PACKAGE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scons.py").write_text(SCONS_LAUNCHER)
    write_package(folder, SCONS_PACKAGE, version, "tool", "platformio",
                  "Launcher for the SCons installed in PlatformIO's Python (tinyqi offline build)")
    return folder


def write_offline_settings(core_dir: Path) -> None:
    """The settings a `pio` call without pio_environment() reads from the core: no upgrade check, no telemetry.
    PlatformIO keeps them under "settings" in <core>/appstate.json (platformio/app.py) and, like it, a damaged
    state file counts as empty."""
    path = core_dir / "appstate.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        state = {}
    state = state if isinstance(state, dict) else {}
    settings = state.setdefault("settings", {})
    if any(settings.get(name) != value for name, value in OFFLINE_SETTINGS.items()):  # else PlatformIO's file stays
        settings.update(OFFLINE_SETTINGS)
        path.write_text(json.dumps(state, sort_keys=True) + "\n")


def prepare_core(core_dir: Path | None = None) -> Path:
    """Create or refresh the offline core; cheap and idempotent, so callers run it before every build."""
    core_dir = (core_dir or default_core_dir()).resolve()
    packages = core_dir / "packages"
    prepare_toolchain(packages, find_cross_gcc())
    prepare_scons(packages)
    write_offline_settings(core_dir)
    return core_dir


def main() -> None:
    import sys

    try:
        core_dir = prepare_core(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    except TinyqiError as exc:
        sys.exit(f"error: {exc}")
    print(f"offline PlatformIO core ready: {core_dir}")
    if core_dir == project_core_dir(REPO_ROOT):
        print(f"a plain `pio run -e nrf52840` in {REPO_ROOT} uses it (platformio.ini names it)")
    else:
        print(f"for a plain `pio run`, first: export PLATFORMIO_CORE_DIR={core_dir}")


if __name__ == "__main__":
    main()
