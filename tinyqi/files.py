"""Stage files: deterministic writers (the same content always gives byte-identical files, no timestamps) and
readers that turn a missing, truncated or foreign file into one TinyqiError naming it.

Nothing is written in place. A single file is written beside its final name and renamed over it (`atomic_path`:
a reader sees the old file or the new one, never a truncated one). A stage that writes a whole directory (`tinyqi
train`: the run, `tinyqi compress`: a variant) writes it as a hidden sibling and swaps it in (`staged_dir`): the
old complete directory or the new complete one, never a mix. Hidden names (`.<name>.partial-<pid>`,
`.<name>.old-<pid>`, `.<name>.tmp-<pid><suffix>`) are never a stage's output: listings skip them (`is_hidden`).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import json
import os
import re
import shutil
import signal
import threading
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tinyqi.errors import TinyqiError

# What a damaged .npz raises from numpy, zipfile and zlib while it is opened or read.
_NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (datasets and stage files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """np.savez with sorted entries and a fixed zip date (np.savez stamps the current time); atomic."""
    path = Path(path)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_json(path: str | Path, data: dict, sort_keys: bool = False) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


# ---------------------------------------------------------------- writing aside, then renaming

def is_hidden(path: str | Path) -> bool:
    """A name no stage writes as output: the temporary files and directories below, or any other dot-name."""
    return Path(path).name.startswith(".")


@contextmanager
def atomic_path(path: str | Path):
    """A temporary name beside `path` (same directory, same suffix, so writers that go by it still work) to write
    to; renamed over `path` when the block ends normally, removed when it raises (Ctrl-C included). A block that
    writes nothing removes `path`: no stale file of an earlier run stays behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if tmp.exists():
            os.replace(tmp, path)
        else:
            path.unlink(missing_ok=True)
    except BaseException:
        with deferred_interrupts():
            tmp.unlink(missing_ok=True)
        raise


@contextmanager
def deferred_interrupts():
    """Ctrl-C (SIGINT) and SIGTERM held back until the block ends, then delivered as usual: a rename-and-clean-up
    sequence is never cut in half. Python runs signal handlers in the main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, frame: received.append(number))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: not set from Python
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


@contextmanager
def staged_dir(final: str | Path, replaceable, what: str):
    """A directory to write a whole stage output into, swapped in for `final` when the block ends normally.

    The block writes into a hidden sibling `.<name>.partial-<pid>` (same parent, so the swap is a rename). At the
    end the sibling is exchanged with `final` in one atomic renameat2(RENAME_EXCHANGE) where the kernel and file
    system have it (else: old directory renamed aside, new one renamed in, a moment without `final`), then the old
    directory, now hidden, is deleted: everything in it went with it. If the block raises (Ctrl-C included) the
    sibling is deleted and `final` is untouched. Leftovers of a killed process (SIGKILL, power loss) are hidden
    siblings whose pid is gone: deleted the next time a stage writes `final`.

    An existing non-empty `final` is replaced only when `replaceable(final)` says it is what this stage writes;
    anything else is refused (`what` names the stage output for that message), so no folder of the user's is ever
    swapped away."""
    final = Path(final)
    target = check_replaceable(final, replaceable, what)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinyqiError(f"{final}: cannot create its folder {parent} ({_reason(exc)}); choose another "
                          "place") from None
    remove_stale(target)
    tmp = parent / f".{target.name}.partial-{os.getpid()}"
    swapped = False
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            tmp.mkdir()
        except OSError as exc:
            raise TinyqiError(f"{final}: cannot write beside it in {parent} ({_reason(exc)}); choose another "
                              "place") from None
        yield tmp
        with deferred_interrupts():
            try:
                old = _swap_in(tmp, target)
            except OSError as exc:
                raise TinyqiError(f"{final}: cannot put the new {what} in its place ({_reason(exc)}); check the "
                                  "permissions of it and its folder") from None
            swapped = True
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if not swapped:
            with deferred_interrupts():
                shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_replaceable(final: str | Path, replaceable, what: str) -> Path:
    """Where staged_dir(final, ...) will swap its directory in (symlinks resolved), after refusing a `final` it must
    not replace: a file, the current directory, or a non-empty directory `replaceable` does not recognise."""
    final = Path(final)
    target = Path(os.path.realpath(final))  # a symlinked run directory: its target is what gets replaced
    if target.exists() and not target.is_dir():
        raise TinyqiError(f"{final}: is a file, not a directory; choose another place for the {what}")
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise TinyqiError(f"{final}: is the current directory or holds it, and the {what} replaces it as a whole; "
                          "run tinyqi from another directory or choose another place")
    if target.is_dir() and any(target.iterdir()) and not replaceable(target):
        raise TinyqiError(f"{final}: exists and is not a {what} (no tinyqi stage files in it); the {what} would "
                          "replace it as a whole, so choose another place, or empty or delete it first")
    return target


_STAGING = re.compile(r"\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)")


def remove_stale(target: Path) -> None:
    """Delete hidden siblings of `target` left by a process that no longer runs (or by this one). An `.old-`
    sibling while `target` is missing is the complete previous directory of a process killed between the two
    renames of a swap without renameat2: it is put back instead."""
    try:
        entries = sorted(target.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _STAGING.fullmatch(entry.name)
        if not match or match["name"] != target.name or _running_elsewhere(int(match["pid"])):
            continue
        if match["kind"] == "old" and not target.exists():
            try:
                os.rename(entry, target)
            except OSError:
                pass  # left hidden; the swap still puts a complete directory in place
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _running_elsewhere(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def _swap_in(new: Path, target: Path) -> Path | None:
    """`new` renamed to `target`; returns where the previous `target` now is (None: there was none)."""
    if not target.exists():
        os.rename(new, target)
        return None
    if _exchange(new, target):
        return new
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(aside, target)  # the old directory back in its place
        raise
    return aside


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def read_npz(path: str | Path, todo: str) -> dict[str, np.ndarray]:
    """Every array of an .npz; `todo` is what the user should do when the file is missing or damaged."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise TinyqiError(f"{path}: a single .npy array, not an .npz archive; {todo}")
        with archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise TinyqiError(f"{path}: missing; {todo}") from None
    except _NPZ_ERRORS as exc:
        raise TinyqiError(f"{path}: unreadable ({_reason(exc)}); {todo}") from None


def read_json(path: str | Path, todo: str) -> dict:
    """A JSON object from `path`; `todo` is what the user should do when the file is missing or damaged."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TinyqiError(f"{path}: missing; {todo}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TinyqiError(f"{path}: unreadable ({_reason(exc)}); {todo}") from None
    if not isinstance(data, dict):
        raise TinyqiError(f"{path}: holds a JSON {type(data).__name__}, not an object; {todo}")
    return data


def require(data: dict, path: str | Path, keys: dict[str, type | tuple[type, ...]], todo: str) -> None:
    """Each dotted key (`dataset.sample`) must exist in `data` with one of the given types."""
    for key, kind in keys.items():
        value = data
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise TinyqiError(f"{path}: no '{key}'; {todo}")
            value = value[part]
        if not isinstance(value, kind):
            raise TinyqiError(f"{path}: '{key}' is {value!r}, not {_type_names(kind)}; {todo}")


def _type_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _reason(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
