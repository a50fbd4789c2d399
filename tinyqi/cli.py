"""The `tinyqi` command: a thin layer over the library. One module per command in tinyqi/commands/."""

from __future__ import annotations

import importlib
import os
import sys

import click

from tinyqi.errors import TinyqiError

# Each module defines `command` (a click command or group); the order here is the order in `tinyqi --help`.
COMMAND_MODULES = ["data", "train", "detect", "build", "flash", "emulate", "compress", "ablate", "codegen", "verify", "bench", "sweep", "robust", "cv",
                   "lolo"]


class _Group(click.Group):
    """Turns TinyqiError (and other failures) into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TinyqiError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug in tinyqi: still one line unless the user asks for the traceback
            if os.environ.get("TINYQI_DEBUG"):
                raise
            click.echo(f"error: internal error {type(exc).__name__}: {exc} (set TINYQI_DEBUG=1 for the traceback)",
                       err=True)
            sys.exit(3)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tinyqi")
def main():
    """Quantum-inspired tiny neural networks, compiled to bit-exact sparse int8 C for Cortex-M."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF C++ logs are noise to users


for _name in COMMAND_MODULES:
    main.add_command(importlib.import_module(f"tinyqi.commands.{_name}").command)
