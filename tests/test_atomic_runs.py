"""Issue 11, class 2: a stage's outputs appear together or not at all, and every consumer checks they belong together.

`tinyqi train` and `tinyqi compress` are interrupted (SIGINT to the process group, as Ctrl-C in a terminal does) at
several moments, each found by a file appearing in the stage's hidden staging directory (or a time, during the
compression itself): afterwards the directory is byte for byte the previous complete one (or, for a first run,
absent), or a complete new one that passes check_model_dir; never a mix, never a staging directory left behind; and
the rerun is clean. Then model directories whose files do not belong together are refused, in one line, by codegen,
verify, build (harness and monitor app), flash, bench, robust and compress. In-process tests pin down tinyqi.files.staged_dir itself (the
swap, Ctrl-C during it, leftovers of a killed process, what it refuses to replace).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from tinyqi import files
from tinyqi.errors import TinyqiError
from tinyqi.manifest import MANIFEST, check_model_dir, is_model_dir_output, sha256_file, write_manifest

TRAIN = ("train", "ecg", "--quick", "--sample")
COMPRESS = ("--method", "magnitude-global")
VARIANT = "magnitude-global"
STAGE_FILES_OF_A_RUN = {"model.keras", "model_int8.tflite", "model_float.tflite", "testset.npz", "golden.npz",
                        "metrics.json", "report.md", "confusion_int8.png", MANIFEST}


# --- helpers ---------------------------------------------------------------------------------------------------

def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under `path` (hidden ones too) by relative path, with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} \
        if path.exists() else {}


def hidden_under(path: Path) -> list[str]:
    """Staging directories and temporary files anywhere under `path` (its own hidden siblings too)."""
    found = [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
    if path.exists():
        found += [p for p in path.rglob(".*")]
    return sorted(str(p) for p in found)


def staging(parent: Path, name: str, file: str = "") -> bool:
    """The hidden staging directory of `parent/name` exists (and holds `file`, when given)."""
    return any(parent.glob(f".{name}.partial-*/{file}" if file else f".{name}.partial-*"))


def interrupt(args: tuple[str, ...], when, log: Path, signum: int = signal.SIGINT, limit: float = 300.0):
    """Run `tinyqi *args`; as soon as `when(seconds since start)` is true send `signum` to its process group (Ctrl-C
    reaches the compiler children too). A single Ctrl-C is now and then lost inside native code (seen about once in
    five runs right after model.keras appears, while Keras saves and the TFLite converter runs: the run then simply
    completes and swaps in, which the invariant allows), so, as a user would, Ctrl-C is pressed again every half
    second until tinyqi says it was interrupted. Returns (exit code, whether a signal was sent)."""
    # PYTHONFAULTHANDLER: a native crash (a TensorFlow SIGSEGV was seen once in a few CI runs when Ctrl-C landed in
    # compress's fine-tuning, never reproduced in 14 runs since) leaves the Python stack in the log the test prints.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1"}
    env.pop("TINYQI_DEBUG", None)
    with open(log, "w") as out:  # a file, not a pipe: nothing blocks on a full pipe while we poll
        proc = subprocess.Popen([sys.executable, "-m", "tinyqi", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        start, last = time.monotonic(), None
        while proc.poll() is None and time.monotonic() - start < limit:
            now = time.monotonic() - start
            if last is None and when(now) or (
                    last is not None and signum == signal.SIGINT and now - last >= 0.5
                    and "error: interrupted" not in log.read_text()):
                os.killpg(proc.pid, signum)
                last = now
            time.sleep(0.005)
        code = proc.wait(timeout=limit)
    return code, last is not None


# An interrupted command exits 130 from its KeyboardInterrupt handler; when the repeated Ctrl-C (see interrupt())
# lands while the interpreter is already exiting, the default handler ends it by the signal itself (-SIGINT).
INTERRUPTED = (130, -signal.SIGINT)


def assert_complete(model_dir: Path, stage: str) -> None:
    manifest = check_model_dir(model_dir, stage=stage)
    assert MANIFEST not in manifest["files"] and "golden.npz" in manifest["files"]
    if stage == "train":
        assert STAGE_FILES_OF_A_RUN <= {p.name for p in model_dir.iterdir()}


def assert_old_or_new(path: Path, old: dict[str, bytes], stage: str, code: int) -> str:
    """The previous complete directory byte for byte, or a complete new one; never a mix, nothing left aside."""
    assert hidden_under(path) == []
    if snapshot(path) == old:
        return "old"
    assert code == 0 or (old and code in INTERRUPTED), f"new content after exit {code}"
    assert_complete(path, stage)
    if stage == "train":
        assert not (path / "variants").exists()  # the old run's variants went with the old model
    return "new"


@pytest.fixture(scope="module")
def old_run(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A complete run (seed 1) with one compressed variant and a verify.json: what an interrupted re-run must keep."""
    run = tmp_path_factory.mktemp("old") / "run"
    trained = run_cli(*TRAIN, "--seed", "1", "--out", str(run))
    assert trained.returncode == 0, trained.stderr[-2000:]
    compressed = run_cli("compress", str(run), *COMPRESS)
    assert compressed.returncode == 0, compressed.stderr[-2000:]
    (run / "verify.json").write_text("{}\n")  # a later stage's file: goes with the run
    assert_complete(run, "train")
    assert_complete(run / "variants" / VARIANT, "compress")
    return run, snapshot(run)


def copy_of(old_run, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "ecg"
    shutil.copytree(old_run[0], run)
    assert snapshot(run) == old_run[1]
    return run


# --- SIGINT during `tinyqi train` over a complete run, and during a first run -----------------------------------

def after_staging(parent: Path, name: str, delay: float):
    """A moment `delay` seconds after the staging directory appeared."""
    seen = []

    def when(seconds: float) -> bool:
        if not seen and staging(parent, name):
            seen.append(seconds)
        return bool(seen) and seconds - seen[0] >= delay
    return when


@pytest.mark.slow
@pytest.mark.parametrize("moment", [
    "staging directory created (loading data)",
    "2.5 s later (training under way)",
    "model.keras written (conversion under way)",
    "model_float.tflite written (evaluation under way)",
    "metrics.json written (figure and report under way)",
])
def test_train_interrupted_over_a_complete_run_keeps_it(old_run, tmp_path, moment):
    run = copy_of(old_run, tmp_path)
    if moment.startswith("2.5 s"):
        when = after_staging(run.parent, run.name, 2.5)
    else:
        file = "" if moment.startswith("staging") else moment.split()[0]
        when = lambda _: staging(run.parent, run.name, file)
    code, sent = interrupt((*TRAIN, "--out", str(run)), when, tmp_path / "train.log")
    log = (tmp_path / "train.log").read_text()
    assert sent, f"the moment never came: {log[-1500:]}"
    outcome = assert_old_or_new(run, old_run[1], "train", code)
    if not moment.startswith("metrics"):  # the early moments are well before the swap: the old run stays
        assert outcome == "old" and code in INTERRUPTED, log[-1500:]
        assert log.rstrip().endswith("error: interrupted"), log[-1500:]


@pytest.mark.slow
def test_train_interrupted_first_run_leaves_nothing_and_the_rerun_is_clean(tmp_path):
    run = tmp_path / "runs" / "ecg"
    code, sent = interrupt((*TRAIN, "--out", str(run)), lambda _: staging(run.parent, run.name, "testset.npz"),
                           tmp_path / "train.log")
    assert sent and code in INTERRUPTED, (tmp_path / "train.log").read_text()[-1500:]
    assert not run.exists() and hidden_under(run) == []  # not even a truncated testset.npz

    rerun = run_cli(*TRAIN, "--out", str(run))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_complete(run, "train")
    assert hidden_under(run) == []
    generated = run_cli("codegen", str(run), "--out", str(tmp_path / "gen"))
    assert generated.returncode == 0, generated.stderr


@pytest.mark.slow
def test_a_killed_train_leaves_only_a_hidden_leftover_that_the_rerun_removes(old_run, tmp_path):
    """SIGKILL cannot be caught: the staging directory stays, hidden beside the untouched run, until the next run."""
    run = copy_of(old_run, tmp_path)
    code, sent = interrupt((*TRAIN, "--out", str(run)), lambda _: staging(run.parent, run.name, "model_int8.tflite"),
                           tmp_path / "train.log", signum=signal.SIGKILL)
    assert sent and code == -signal.SIGKILL
    assert snapshot(run) == old_run[1]
    leftovers = hidden_under(run)
    assert len(leftovers) == 1 and ".ecg.partial-" in leftovers[0]
    assert run_cli("codegen", str(run), "--out", str(tmp_path / "gen")).returncode == 0  # the run is still whole

    rerun = run_cli(*TRAIN, "--out", str(run))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_complete(run, "train")
    assert hidden_under(run) == [] and not (run / "variants").exists()


# --- SIGINT during `tinyqi compress` over a complete variant ------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("moment", ["pruning and fine-tuning (no staging directory yet)",
                                    "model.keras written (golden vectors not yet)"])
def test_compress_interrupted_keeps_the_previous_variant(old_run, tmp_path, moment):
    run = copy_of(old_run, tmp_path)
    variants = run / "variants"
    if moment.startswith("pruning"):
        when = lambda seconds: seconds > 4.0  # TensorFlow's import alone takes about 3 s; the pruning ~6 s more
    else:
        when = lambda _: staging(variants, VARIANT, "model.keras")
    code, sent = interrupt(("compress", str(run), *COMPRESS, "--target-sparsity", "0.6"), when,
                           tmp_path / "compress.log")
    log = (tmp_path / "compress.log").read_text()
    assert sent and code in INTERRUPTED, log[-1500:]
    assert snapshot(run) == old_run[1] and hidden_under(run) == []
    assert_complete(variants / VARIANT, "compress")


@pytest.mark.slow
def test_a_killed_compress_is_never_taken_for_a_variant_and_the_rerun_is_clean(old_run, tmp_path):
    run = copy_of(old_run, tmp_path)
    variants = run / "variants"
    shutil.rmtree(variants / VARIANT)  # a first compress of this variant
    code, sent = interrupt(("compress", str(run), *COMPRESS), lambda _: staging(variants, VARIANT, "golden.npz"),
                           tmp_path / "compress.log", signum=signal.SIGKILL)
    assert sent and code == -signal.SIGKILL
    assert [p.name for p in variants.iterdir()] == [p.name for p in variants.glob(f".{VARIANT}.partial-*")]

    from tinyqi.bench.variants import select_variants

    assert [v.name for v in select_variants(run)] == ["float32-dense", "int8-dense"]
    verified = run_cli("verify", str(run))
    assert verified.returncode == 0, verified.stderr
    assert "partial" not in verified.stdout and "variants/" not in verified.stdout

    rerun = run_cli("compress", str(run), *COMPRESS)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert [p.name for p in variants.iterdir()] == [VARIANT] and hidden_under(run) == []
    manifest = check_model_dir(variants / VARIANT, stage="compress")
    assert manifest["base"] == {"model_int8.tflite": sha256_file(run / "model_int8.tflite")}


# --- consumers refuse files that do not belong together -----------------------------------------------------------

def consumers(run: Path, tmp_path: Path, variant: str | None = None) -> list[tuple[str, ...]]:
    model_dir = run if variant is None else run / "variants" / variant
    pick = () if variant is None else ("--variant", variant)
    return [("codegen", str(model_dir), "--out", str(tmp_path / "gen")),
            ("verify", str(run)),
            ("build", "--board", "nrf52840", str(run), *pick, "--out", str(tmp_path / "fw")),
            ("build", "--board", "nrf52840", "--app", "monitor", str(run), *pick, "--sample", "--out",
             str(tmp_path / "fw")),
            ("flash", "--board", "nrf52840", str(run), *pick, "--dry-run"),
            ("bench", "ecg", "--run", str(run), "--no-peers", "--no-job", "--out", str(tmp_path / "bench"))]


def assert_all_refuse(commands, tmp_path: Path, *needles: str) -> None:
    for args in commands:
        result = run_cli(*args)
        assert_one_line_error(result, *needles)
        assert "internal error" not in result.stderr
    assert not any((tmp_path / name).exists() for name in ("gen", "fw", "bench"))


@pytest.mark.slow
def test_golden_vectors_of_another_model_are_refused_everywhere(old_run, tmp_path):
    run = copy_of(old_run, tmp_path)
    shutil.copy(run / "variants" / VARIANT / "golden.npz", run / "golden.npz")
    commands = consumers(run, tmp_path) + [("robust", str(run), "--shifts", "0"), ("compress", str(run), *COMPRESS)]
    assert_all_refuse(commands, tmp_path, f"{run / 'golden.npz'}: does not belong with {run / 'model_int8.tflite'}",
                      "re-run `tinyqi train`")
    assert snapshot(run / "variants") == {k.removeprefix("variants/"): v for k, v in old_run[1].items()
                                         if k.startswith("variants/")}  # compress wrote nothing


@pytest.mark.slow
def test_a_variant_without_its_golden_vectors_is_refused(old_run, tmp_path):
    run = copy_of(old_run, tmp_path)
    golden = run / "variants" / VARIANT / "golden.npz"
    golden.unlink()
    assert_all_refuse(consumers(run, tmp_path, VARIANT), tmp_path, f"{golden}: missing",
                      f"re-run `tinyqi compress {run}`")


@pytest.mark.slow
def test_other_mixes_are_refused(old_run, tmp_path):
    run = copy_of(old_run, tmp_path)
    variant = run / "variants" / VARIANT
    gen = str(tmp_path / "gen")

    # a variant written over its own run
    assert_one_line_error(run_cli("compress", str(run), *COMPRESS, "--out", str(run)), "is the run directory")
    assert snapshot(run) == old_run[1]

    # a CSR table dropped into the run root: not written with its model
    shutil.copy(variant / "csr.json", run / "csr.json")
    assert_one_line_error(run_cli("codegen", str(run), "--out", gen), f"{run / 'csr.json'}: not written with",
                          "manifest.json does not list it")
    (run / "csr.json").unlink()

    # a variant made from another model than the run's (here: the run model replaced by the variant's)
    shutil.copy(variant / "model_int8.tflite", run / "model_int8.tflite")
    assert_one_line_error(run_cli("codegen", str(variant), "--out", gen),
                          f"{variant}: compressed from another model than {run / 'model_int8.tflite'}",
                          f"re-run `tinyqi compress {run}`")
    assert_one_line_error(run_cli("verify", str(run)), f"{run / 'model_int8.tflite'}: does not belong with the rest")

    # a directory without a manifest: written by an older tinyqi (or by hand)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("model_int8.tflite", "golden.npz"):
        shutil.copy(old_run[0] / name, legacy / name)
    assert_one_line_error(run_cli("codegen", str(legacy), "--out", gen), f"{legacy / MANIFEST}: missing",
                          "belong together", "re-run `tinyqi train`")
    assert not Path(gen).exists()


# --- tinyqi.files.staged_dir in process ---------------------------------------------------------------------------

def fill(directory: Path, text: str) -> None:
    (directory / "model_int8.tflite").write_text(text)
    (directory / "golden.npz").write_text(text)
    write_manifest(directory, "train")


def staged(final: Path, text: str) -> None:
    with files.staged_dir(final, is_model_dir_output, "run directory") as stage:
        assert stage.parent == final.parent and stage.name.startswith(f".{final.name}.partial-")
        fill(stage, text)


def test_staged_dir_swaps_the_whole_directory(tmp_path):
    final = tmp_path / "run"
    staged(final, "one")
    (final / "variants" / "v").mkdir(parents=True)
    staged(final, "two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in final.iterdir()) == ["golden.npz", MANIFEST, "model_int8.tflite"]
    assert (final / "golden.npz").read_text() == "two"
    check_model_dir(final)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
def test_ctrl_c_during_the_swap_waits_for_it(tmp_path, monkeypatch, exchange):
    final = tmp_path / "run"
    staged(final, "one")
    real = files._exchange

    def interrupted_exchange(a, b):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C at the worst moment
        return real(a, b) if exchange else False

    monkeypatch.setattr(files, "_exchange", interrupted_exchange)
    with pytest.raises(KeyboardInterrupt):
        staged(final, "two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # swapped, and the old one removed, then Ctrl-C
    assert (final / "golden.npz").read_text() == "two"
    check_model_dir(final)


def test_an_error_or_ctrl_c_while_writing_leaves_the_old_directory(tmp_path):
    final = tmp_path / "run"
    staged(final, "one")
    before = snapshot(final)
    for failure in (TinyqiError("bad"), KeyboardInterrupt()):
        with pytest.raises(type(failure)):
            with files.staged_dir(final, is_model_dir_output, "run directory") as stage:
                (stage / "model_int8.tflite").write_text("half")
                raise failure
        assert snapshot(final) == before and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_leftovers_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live_pid = os.getppid()
    for name in (f".run.partial-{dead_pid}", f".run.old-{dead_pid}", f".run.partial-{live_pid}",
                 f".other.partial-{dead_pid}"):
        (tmp_path / name).mkdir()
        fill(tmp_path / name, "stale")
    staged(tmp_path / "run", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".run.partial-{live_pid}", f".other.partial-{dead_pid}", "run"])
    assert (tmp_path / "run" / "golden.npz").read_text() == "new"

    # killed between the two renames of a swap without renameat2: the previous directory is put back
    shutil.rmtree(tmp_path / "run")
    (tmp_path / f".run.old-{dead_pid}").mkdir()
    fill(tmp_path / f".run.old-{dead_pid}", "previous")
    files.remove_stale(tmp_path / "run")
    assert (tmp_path / "run" / "golden.npz").read_text() == "previous"
    check_model_dir(tmp_path / "run")


def test_staged_dir_refuses_what_is_not_its_output(tmp_path, monkeypatch):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(TinyqiError, match="exists and is not a run directory .* choose another place"):
        staged(mine, "x")
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert_one_line_error(run_cli(*TRAIN, "--out", str(mine)), "exists and is not a run directory")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    with pytest.raises(TinyqiError, match="is the current directory or holds it"):
        staged(tmp_path, "x")


def test_single_files_are_replaced_whole(tmp_path):
    path = tmp_path / "verify.json"
    files.write_json(path, {"a": 1})
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(path) as tmp:
            tmp.write_text('{"a": ')
            raise KeyboardInterrupt
    assert path.read_text() == '{\n  "a": 1\n}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["verify.json"]
    files.write_npz(tmp_path / "golden.npz", {"x": np.arange(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden.npz", "verify.json"]
