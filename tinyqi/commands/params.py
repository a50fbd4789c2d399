"""Option types shared by the commands: each refuses a bad value with one TinyqiError line naming the option,
before any work starts (click's own messages span several lines)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import click

from tinyqi.errors import TinyqiError

MAX_SEED = 2**32 - 1  # numpy's and Keras' seeds are 32-bit unsigned
SEED_TODO = f"give a seed from 0 to {MAX_SEED}"


def _option(param) -> str:
    return param.opts[0] if param is not None and param.opts else "value"


class _Type(click.ParamType):
    def fail_with(self, value, param, what: str) -> TinyqiError:
        return TinyqiError(f"{_option(param)} {value}: {what}")


class IntAtLeast(_Type):
    name = "integer"

    def __init__(self, minimum: int, todo: str):
        self.minimum, self.todo = minimum, todo

    def convert(self, value, param, ctx):
        number = _integer(self, value, param, self.todo)
        if number < self.minimum:
            raise self.fail_with(value, param, f"must be at least {self.minimum}; {self.todo}")
        return number


class Seed(_Type):
    name = "integer"

    def convert(self, value, param, ctx):
        number = _integer(self, value, param, SEED_TODO)
        check_seed(number, _option(param))
        return number


class Seeds(_Type):
    name = "seeds"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            seeds = tuple(int(s, 10) for s in str(value).split(","))
        except ValueError:
            raise self.fail_with(value, param, "give comma-separated integers, e.g. 0,1,2") from None
        for seed in seeds:
            check_seed(seed, _option(param))
        return seeds


class PositiveFloat(_Type):
    name = "number"

    def __init__(self, todo: str):
        self.todo = todo

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail_with(value, param, f"not a number; {self.todo}") from None
        if not (math.isfinite(number) and number > 0):
            raise self.fail_with(value, param, f"must be a positive number; {self.todo}")
        return number


class DataDir(_Type):
    """A data root: it may not exist yet (fetch creates it, train says what is missing), but it is no file."""

    name = "directory"

    def convert(self, value, param, ctx):
        path = Path(value)
        if path.exists() and not path.is_dir():
            raise self.fail_with(value, param, "is a file, not a directory; give the folder that holds <dataset>/")
        return str(value)


class ExistingDir(_Type):
    name = "directory"

    def convert(self, value, param, ctx):
        path = Path(value)
        if not path.is_dir():
            raise self.fail_with(value, param, "no such directory; give the folder that holds the files")
        return path


class OutDir(_Type):
    """A directory the command may create or fill: not a file, not under a file, and writable (_check_writable in
    the nearest existing folder)."""

    name = "directory"

    def convert(self, value, param, ctx):
        path = Path(value)
        if path.exists() and not path.is_dir():
            raise self.fail_with(value, param, "is a file; give a directory")
        existing = next(p for p in [path, *path.absolute().parents] if p.exists())
        if not existing.is_dir():
            raise self.fail_with(value, param, f"{existing} is a file, so nothing can be created under it; "
                                               "give another directory")
        _check_writable(self, value, param, existing, "give a writable directory")
        return path


class OutFile(_Type):
    """A file the command writes at the end (written aside, then renamed): not a directory, in an existing,
    writable directory; checked before any work starts."""

    name = "file"

    def convert(self, value, param, ctx):
        path = Path(value)
        if path.is_dir():
            raise self.fail_with(value, param, "is a directory; give a file name, e.g. cv.json")
        if not path.absolute().parent.is_dir():
            raise self.fail_with(value, param, f"{path.absolute().parent} is not a directory; create it first or "
                                               "give a file in an existing one")
        _check_writable(self, value, param, path.absolute().parent, "give a file in a writable directory")
        return path


def _check_writable(kind: _Type, value, param, folder: Path, todo: str) -> None:
    """Creating and removing a temporary file in `folder`, which is what writing will need (os.access answers yes
    to root even on a read-only folder)."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise kind.fail_with(value, param, f"cannot write in {folder} ({exc.strerror}); {todo}") from None


def check_seed(seed: int, option: str) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise TinyqiError(f"{option} {seed}: out of range; {SEED_TODO}")


def _integer(kind: _Type, value, param, todo: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 10)
    except ValueError:
        raise kind.fail_with(value, param, f"not an integer; {todo}") from None


EPOCHS = IntAtLeast(1, "give the number of training epochs, e.g. 30 (or --quick)")
MEMBERS = IntAtLeast(1, "give how many models to average, e.g. 3 (1: a single model)")
SEED = Seed()
SEEDS = Seeds()
PER_MINUTE = PositiveFloat("give how many inferences run per minute, e.g. 72 (one per heart beat)")
DATA_DIR = DataDir()
SOURCE_DIR = ExistingDir()
OUT_DIR = OutDir()
OUT_FILE = OutFile()
