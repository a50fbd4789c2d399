"""Bad input, issue 11: every case ends with a non-zero exit and one line on stderr naming the file, option or layer
and what to do, leaves no partial output, and never reaches `internal error`. Property-based tests (hypothesis)
drive the .tflite, CSR, golden and test-set loaders and codegen's quantisation checks with >= 1000 hostile
examples each: every one is either accepted (and then computable by the runtime) or refused with a TinyqiError.

Models are hand-built with TFLite's schema (tests/tflite_builder.py): no TensorFlow, exact control over every
tensor's type and quantisation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tflite_builder import chain_model, conv_model

from tinyqi.errors import TinyqiError
from tinyqi.files import write_npz
from tinyqi.manifest import write_manifest
from tinyqi.tflite_model import parse_tflite

EXAMPLES = 1000
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
VECTORS = 12


# --- fixtures: a model directory and a run directory built from the hand-made chain model ------------------------

def chain_inputs(count: int = VECTORS) -> np.ndarray:
    """Float inputs of the chain model, one row per sample (Keras order: its single input)."""
    return np.random.default_rng(2).normal(scale=0.8, size=(count, 2, 4)).astype(np.float32)


def seal(model_dir: Path, stage: str = "train") -> Path:
    """manifest.json of the directory as it is now. Tests that damage a stage file seal it again: the manifest would
    refuse the changed file first (tests/test_atomic_runs.py); here the loader's own check is what is tested."""
    write_manifest(model_dir, stage)
    return model_dir


def make_run(path: Path, spec=None, golden: bool = True) -> Path:
    """A run-like model directory: model_int8.tflite, testset.npz and golden.npz (TFLM outputs) of `spec`, sealed
    with its manifest.json as `tinyqi train` leaves it."""
    from tinyqi import convert
    from tinyqi.modeldir import write_golden

    path.mkdir(parents=True, exist_ok=True)
    tflite = (spec or chain_model()).to_bytes()
    (path / "model_int8.tflite").write_bytes(tflite)
    xs, y = [chain_inputs()], np.arange(VECTORS) % 3
    write_npz(path / "testset.npz", {"x0": xs[0], "y": y, "class_names": np.array(["A", "B", "C"])})
    if golden:
        write_golden(path, tflite, xs, y, 3)
        assert convert.run_tflm(tflite, convert.quantize_inputs(parse_tflite(tflite), xs)).shape == (VECTORS, 3)
    return seal(path)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_run(tmp_path / "run")


def with_quantisation(spec, tensor: str, scale: list[float], zero_point: list[int] | None = None):
    spec.tensors[tensor].scale = scale
    spec.tensors[tensor].zero_point = zero_point if zero_point is not None else [0] * len(scale)
    return spec


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


def assert_refused(result, *needles: str) -> None:
    """One-line error, and never the `internal error` of a bug."""
    assert_one_line_error(result, *needles)
    assert "internal error" not in result.stderr, result.stderr


# --- 1. quantisation the runtime cannot compute is refused by codegen ---------------------------------------------

# An output scale that makes the FULLY_CONNECTED rescale of channel 0 (input 0.015, filter 0.01) 2^37.5: a
# requantisation shift of 38 bits.
SHIFT_38 = 0.015 * 0.01 / 2 ** 37.5


@pytest.mark.parametrize("tensor, scale, needles", [
    ("fc", [SHIFT_38], ["op 1 FULLY_CONNECTED", "output tensor 'fc'", "shift of 38 bits"]),
    ("fc", [-0.05], ["op 1 FULLY_CONNECTED", "tensor 'fc'", "scale -0.05"]),
    ("fc", [0.0], ["tensor 'fc'", "has scale 0;"]),
    ("w", [0.01, float("nan"), 0.02], ["tensor 'w'", "scale nan"]),
    ("mean", [float("inf")], ["op 0 MEAN", "tensor 'mean'", "scale inf"]),
    ("w", [0.01, 0.02], ["op 1 FULLY_CONNECTED", "2 scales for 3 output channels"]),
    ("requant", [1e-30], ["op 4 QUANTIZE", "shift of", "re-convert"]),
    ("tanh", [0.01], ["op 5 TANH", "needs scale 0.0078125"]),
])
def test_codegen_refuses_quantisation_the_runtime_cannot_compute(tmp_path, tensor, scale, needles):
    model = make_run(tmp_path / "model", with_quantisation(chain_model(), tensor, scale), golden=False)
    out = tmp_path / "gen"
    assert_refused(run_cli("codegen", str(model), "--out", str(out)), "model_int8.tflite", *needles)
    assert not out.exists()


def test_codegen_refuses_a_zero_point_outside_int8(tmp_path):
    spec = with_quantisation(chain_model(), "add", [0.08], [300])
    model = make_run(tmp_path / "model", spec, golden=False)
    assert_refused(run_cli("codegen", str(model), "--out", str(tmp_path / "gen")), "tensor 'add'", "zero point 300")


def test_softmax_input_below_what_tflm_can_rescale_is_refused(tmp_path):
    spec = chain_model()
    spec.ops[-1].options.beta = 1e-9
    model = make_run(tmp_path / "model", spec, golden=False)
    assert_refused(run_cli("codegen", str(model), "--out", str(tmp_path / "gen")), "op 7 SOFTMAX", "beta 1e-09",
                   "2^-27")


def test_build_refuses_before_platformio(tmp_path):
    model = make_run(tmp_path / "model")  # golden vectors of the valid model, then the model swapped
    (model / "model_int8.tflite").write_bytes(with_quantisation(chain_model(), "fc", [SHIFT_38]).to_bytes())
    seal(model)
    out = tmp_path / "fw"
    assert_refused(run_cli("build", "--board", "nrf52840", str(model), "--out", str(out)), "shift of 38 bits")
    assert not out.exists()


# --- 3. a failed fetch leaves no dataset folder; an empty folder is no data ---------------------------------------

def test_failed_fetch_leaves_no_dataset_folder(tmp_path):
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    (copy_dir / "100.atr").write_bytes(b"not an annotation file")
    root = tmp_path / "root"
    assert_refused(run_cli("data", "fetch", "mitdb", "--from", str(copy_dir), "--data-dir", str(root)), "100.atr")
    assert not (root / "mitdb").exists()


def test_fetch_gathers_aside_resumes_and_renames_when_complete(tmp_path, monkeypatch):
    from tinyqi.data import store

    source = tmp_path / "source"
    source.mkdir()
    contents = {"a.dat": b"first", "b.dat": b"second"}
    for name, data in contents.items():
        (source / name).write_bytes(data)
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    monkeypatch.setattr(store, "checksums", lambda name: sums)
    (source / "b.dat").rename(source / "b.hidden")
    with pytest.raises(TinyqiError, match=r"b\.dat: missing from the local copy"):
        store.fetch("mitdb", "", from_dir=source, data_dir=tmp_path / "root")
    assert not (tmp_path / "root" / "mitdb").exists()
    assert (tmp_path / "root" / ".mitdb.partial" / "a.dat").read_bytes() == b"first"  # kept for the retry
    (source / "b.hidden").rename(source / "b.dat")
    (source / "a.dat").unlink()  # the retry must not need it again
    target = store.fetch("mitdb", "", from_dir=source, data_dir=tmp_path / "root")
    assert sorted(p.name for p in target.iterdir()) == ["a.dat", "b.dat"]
    assert not (tmp_path / "root" / ".mitdb.partial").exists()


def test_an_empty_dataset_folder_means_the_bundled_sample(tmp_path, monkeypatch):
    from tinyqi.data import store
    from tinyqi.pipeline import TrainOptions, resolve_sample
    from tinyqi.tasks import get_task

    monkeypatch.delenv("TINYQI_DATA", raising=False)
    monkeypatch.setattr(store, "DEFAULT_ROOT", tmp_path)
    (tmp_path / "mitdb").mkdir()
    task, opts = get_task("ecg"), TrainOptions("ecg", tmp_path / "run")
    assert resolve_sample(task, opts) is True
    (tmp_path / "mitdb" / "100.hea").write_text("100 2 360 650000\n")
    assert resolve_sample(task, opts) is False  # some data is there: the loader says what is missing


# --- 4. options that were ignored or unvalidated ----------------------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["train", "ecg", "--epochs", "0"], ["--epochs 0", "at least 1"]),
    (["train", "ecg", "--epochs", "-3"], ["--epochs -3"]),
    (["train", "ecg", "--seed", "-1"], ["--seed -1", "0 to 4294967295"]),
    (["train", "ecg", "--seed", "1099511627776"], ["--seed 1099511627776"]),
    (["lolo", "vibration", "--epochs", "0"], ["--epochs 0"]),
    (["compress", "RUN", "--seed", "-1"], ["--seed -1"]),
    (["ablate", "ecg", "--seeds", "0,-1"], ["--seeds -1"]),
    (["emulate", "ELF", "--budget", "-5"], ["--budget -5", "at least 1"]),
    (["emulate", "ELF", "--budget", "0"], ["--budget 0"]),
    (["emulate", "ELF", "--timeout", "-1"], ["--timeout -1", "positive"]),
    (["emulate", "ELF", "--timeout", "nan"], ["--timeout nan"]),
    (["emulate", "ELF", "--per-minute", "-72"], ["--per-minute -72"]),
    (["bench", "ecg", "--per-minute", "0"], ["--per-minute 0"]),
])
def test_bad_option_values_are_one_line(tmp_path, args, needles):
    (tmp_path / "elf").write_bytes(b"")
    args = [str(tmp_path / "elf") if a == "ELF" else str(tmp_path) if a == "RUN" else a for a in args]
    assert_refused(run_cli(*args, "--out", str(tmp_path / "out")) if args[0] in ("train", "lolo") else
                   run_cli(*args), *needles)
    assert not (tmp_path / "out").exists()


def fake_trained_run(path: Path, sample: bool = True) -> Path:
    """What compress reads before any data or TensorFlow: model.keras (an archive), metrics.json, the .tflite."""
    path.mkdir(parents=True)
    with zipfile.ZipFile(path / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"weights")
    metrics = {"task": "ecg", "dataset": {"sample": sample, "split": "inter-patient", "source": str(path / "mitdb")},
               "training": {"epochs": 1}}
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / "model_int8.tflite").write_bytes(chain_model().to_bytes())
    return seal(path)


def test_compress_refuses_a_data_dir_it_would_ignore(tmp_path):
    run = fake_trained_run(tmp_path / "run")
    assert_refused(run_cli("compress", str(run), "--data-dir", "/nonexistent"), "--data-dir /nonexistent",
                   "bundled sample")
    assert not (run / "variants").exists()


def test_compress_refuses_a_data_dir_that_does_not_exist(tmp_path):
    run = fake_trained_run(tmp_path / "run", sample=False)
    assert_refused(run_cli("compress", str(run), "--data-dir", str(tmp_path / "nowhere")), "no such directory")


# --- 5. verify checks the model as codegen does, before TFLM runs it ----------------------------------------------

def model_with_io(dtype) -> bytes:
    """The chain model whose input (and output) tensors are `dtype` instead of int8."""
    spec = chain_model()
    for name in ("in0_x", "y"):
        spec.tensors[name].dtype = dtype
    return spec.to_bytes()


@pytest.mark.parametrize("tflite, needles", [
    (lambda: chain_model(np.float32).to_bytes(), ["model input 'in0_x' is float32, expected int8"]),
    (lambda: model_with_io(np.uint8), ["model input 'in0_x' is uint8"]),
    (lambda: model_with_io(np.int16), ["model input 'in0_x' is int16"]),
])
def test_verify_refuses_what_codegen_refuses_before_tflm(run_dir, tflite, needles):
    (run_dir / "model_int8.tflite").write_bytes(tflite())
    seal(run_dir)
    assert_refused(run_cli("verify", str(run_dir)), "model_int8.tflite", *needles)
    assert not (run_dir / "verify.json").exists()


def test_verify_passes_on_the_hand_built_model(run_dir):
    """The control: the same run directory with its valid model is bit-exact with TFLM."""
    result = run_cli("verify", str(run_dir))
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "verify.json").read_text())
    assert summary["dense_mismatches"] == 0 and summary["sanitizers"]["findings"] == 0


# --- 6. stage files are checked, not trusted ----------------------------------------------------------------------

def rewrite_npz(path: Path, **changes) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del arrays[key]
    write_npz(path, arrays)


@pytest.mark.parametrize("change, needles", [
    (lambda d: rewrite_npz(d / "golden.npz", input0=np.zeros((VECTORS, 2, 4), np.int16)),
     ["golden.npz", "'input0' is int16"]),
    (lambda d: rewrite_npz(d / "golden.npz", output=None), ["golden.npz", "lack 'output'"]),
    (lambda d: rewrite_npz(d / "golden.npz", output=np.zeros((0, 3), np.int8)), ["golden.npz", "no vectors"]),
    (lambda d: rewrite_npz(d / "golden.npz", label=np.zeros(VECTORS, np.float32)), ["golden.npz", "'label'"]),
    (lambda d: (d / "golden.npz").write_bytes(b""), ["golden.npz", "unreadable"]),
    (lambda d: (d / "golden.npz").write_bytes(b"PK\x03\x04 truncated"), ["golden.npz", "unreadable"]),
])
def test_codegen_checks_golden_vectors_and_writes_nothing(run_dir, tmp_path, change, needles):
    change(run_dir)
    seal(run_dir)
    out = tmp_path / "gen"
    assert_refused(run_cli("codegen", str(run_dir), "--out", str(out)), *needles, "regenerate golden.npz")
    assert not out.exists()


@pytest.mark.parametrize("change, needles", [
    (lambda d: rewrite_npz(d / "testset.npz", x0=np.where(np.arange(VECTORS * 8).reshape(VECTORS, 2, 4) == 17,
                                                            np.nan, chain_inputs())),
     ["testset.npz", "'x0' has 1 NaN/Inf values (first in row 2)"]),
    (lambda d: rewrite_npz(d / "testset.npz", x0=np.full((VECTORS, 2, 4), np.inf, np.float32)), ["NaN/Inf"]),
    (lambda d: rewrite_npz(d / "testset.npz", x1=chain_inputs(VECTORS - 1)), ["'x1' has 11 rows", "12 labels"]),
    (lambda d: rewrite_npz(d / "testset.npz", y=None), ["testset.npz", "no array 'y'"]),
    (lambda d: rewrite_npz(d / "testset.npz", y=np.full(VECTORS, 7)), ["labels run from 7 to 7 for 3 classes"]),
    (lambda d: (d / "testset.npz").write_bytes(b"garbage"), ["testset.npz", "unreadable"]),
    (lambda d: (d / "testset.npz").write_bytes(b""), ["testset.npz", "unreadable"]),
])
def test_verify_checks_the_test_set(run_dir, change, needles):
    change(run_dir)
    seal(run_dir)
    assert_refused(run_cli("verify", str(run_dir)), *needles)
    assert not (run_dir / "verify.json").exists()


def pruned_dir(tmp_path: Path) -> Path:
    """The chain model directory with a CSR table for its FULLY_CONNECTED weights."""
    from tinyqi import csr
    from tinyqi.tflite_model import load_tflite

    spec = chain_model()
    spec.tensors["w"].data = np.where(np.arange(12).reshape(3, 4) % 3 == 0, 0, spec.tensors["w"].data).astype(np.int8)
    model_dir = make_run(tmp_path / "pruned", spec)
    csr.write_tables(model_dir / "model_int8.tflite", csr.tables_from_tflite(load_tflite(model_dir /
                                                                                          "model_int8.tflite")))
    return seal(model_dir)


def edit_npz(path: Path, key: str, change) -> None:
    with np.load(path) as z:
        rewrite_npz(path, **{key: change(z[key])})


def edit_csr_json(model_dir: Path, **entry_changes) -> None:
    index = json.loads((model_dir / "csr.json").read_text())
    for key, value in entry_changes.items():
        if value is None:
            del index["tensors"][0][key]
        else:
            index["tensors"][0][key] = value
    (model_dir / "csr.json").write_text(json.dumps(index))


@pytest.mark.parametrize("change, needles", [
    (lambda d: edit_csr_json(d, tensor_index=None), ["csr.json", "no 'tensor_index'"]),
    (lambda d: edit_csr_json(d, tensor_index=99), ["csr.json", "tensor 99", "has 13"]),
    (lambda d: edit_csr_json(d, shape="3x4"), ["csr.json", "'shape' is '3x4'"]),
    (lambda d: edit_npz(d / "csr.npz", "t3.row_ptr", lambda a: a.astype(np.float64)),
     ["csr.json", "t3.row_ptr is float64"]),
    (lambda d: edit_npz(d / "csr.npz", "t3.row_ptr", lambda a: a[::-1].copy()), ["t3.row_ptr does not delimit 3 rows"]),
    (lambda d: edit_npz(d / "csr.npz", "t3.col_idx", lambda a: np.full_like(a, 9)), ["t3.col_idx reaches column 9"]),
    (lambda d: edit_npz(d / "csr.npz", "t3.col_idx", lambda a: np.zeros_like(a)), ["not increasing within a row"]),
    (lambda d: rewrite_npz(d / "csr.npz", **{"t3.values": None}), ["csr.npz", "no array 't3.values'"]),
    (lambda d: (d / "csr.npz").write_bytes(b""), ["csr.npz", "unreadable"]),
    (lambda d: (d / "csr.json").write_text("{"), ["csr.json", "unreadable"]),
])
def test_codegen_checks_csr_tables(tmp_path, change, needles):
    model_dir = pruned_dir(tmp_path)
    change(model_dir)
    seal(model_dir)
    out = tmp_path / "gen"
    assert_refused(run_cli("codegen", str(model_dir), "--out", str(out)), *needles, "tinyqi compress")
    assert not out.exists()


@pytest.mark.parametrize("change, needles", [
    (lambda d: (d / "metrics.json").write_text(""), ["metrics.json", "unreadable"]),
    (lambda d: (d / "metrics.json").write_text("[1, 2]"), ["metrics.json", "JSON list"]),
    (lambda d: (d / "metrics.json").write_text('{"task": "ecg"}'), ["metrics.json", "no 'dataset.sample'"]),
    (lambda d: (d / "model.keras").write_bytes(b"not a zip"), ["model.keras", "not a readable Keras archive"]),
    (lambda d: (d / "model.keras").write_bytes((d / "model.keras").read_bytes()[:40]), ["model.keras"]),
])
def test_compress_checks_the_run_files_first(tmp_path, change, needles):
    run = fake_trained_run(tmp_path / "run")
    change(run)
    seal(run)
    assert_refused(run_cli("compress", str(run)), *needles)
    assert not (run / "variants").exists()


def test_bench_checks_metrics_json(tmp_path):
    run = fake_trained_run(tmp_path / "run")
    (run / "metrics.json").write_text('{"task": 3}')
    assert_refused(run_cli("bench", "ecg", "--run", str(run)), "metrics.json", "'task' is 3")


# --- 7. bad places ------------------------------------------------------------------------------------------------

def unwritable_dir(tmp_path: Path) -> Path:
    """A folder nothing can be created in: /sys for root (who may write anywhere else), else a read-only folder."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("args, needles", [
    (["train", "ecg", "--data-dir", "FILE"], ["--data-dir", "is a file"]),
    (["data", "fetch", "mitdb", "--data-dir", "FILE"], ["--data-dir", "is a file"]),
    (["data", "fetch", "mitdb", "--from", "FILE"], ["--from", "no such directory"]),
    (["compress", "RUN", "--data-dir", "FILE"], ["--data-dir", "is a file"]),
    (["train", "ecg", "--out", "FILE/run"], ["--out", "is a file, so nothing can be created under it"]),
    (["codegen", "RUN", "--out", "FILE"], ["--out", "is a file"]),
    (["compress", "RUN", "--out", "FILE/x/y"], ["--out", "is a file"]),
    (["train", "ecg", "--out", "UNWRITABLE/run"], ["--out", "cannot write in", "writable directory"]),
    (["codegen", "RUN", "--out", "UNWRITABLE/gen"], ["--out", "cannot write in"]),
])
def test_bad_places_are_one_line(tmp_path, args, needles):
    (tmp_path / "file").write_text("a file")
    run = fake_trained_run(tmp_path / "run")
    places = {"FILE": str(tmp_path / "file"), "RUN": str(run), "UNWRITABLE": str(unwritable_dir(tmp_path))}
    args = [re.sub("FILE|RUN|UNWRITABLE", lambda m: places[m.group(0)], a) for a in args]
    before = files_under(tmp_path)
    assert_refused(run_cli(*args), *needles)
    assert files_under(tmp_path) == before


# --- 9. the library API raises TinyqiError; emulate checks the firmware's lines -----------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"elf": "DIR"}, "a directory, not an ELF"),
    ({"elf": "ELF", "board": 123}, "board 123: give a board name"),
    ({"elf": "ELF", "budget": None}, "budget None: the instruction budget must be a positive integer"),
    ({"elf": "ELF", "budget": -1}, "budget -1"),
    ({"elf": "ELF", "timeout": 0}, "timeout 0: give a positive number of seconds"),
    ({"elf": "ELF", "timeout": "soon"}, "timeout 'soon'"),
    ({"elf": "ELF", "engine": "bochs"}, "unknown engine"),
])
def test_run_firmware_arguments(tmp_path, kwargs, message):
    from tinyqi.emulate import run_firmware

    (tmp_path / "x.elf").write_bytes(b"\x7fELF")
    kwargs["elf"] = tmp_path if kwargs["elf"] == "DIR" else tmp_path / "x.elf"
    with pytest.raises(TinyqiError, match=re.escape(message)):
        run_firmware(**kwargs)


@pytest.mark.parametrize("golden, message", [
    ({}, "golden argument: golden vectors lack 'input0'"),
    ({"input0": np.zeros((2, 2, 4), np.int8)}, "lack 'output'"),
    ({"input0": np.zeros((2, 8), np.int8), "output": np.zeros((2, 3), np.float64)}, "'output' is float64"),
    ({"input0": np.zeros((2, 8), np.int8), "output": np.zeros((3, 3), np.int8)}, "expected 3 rows of 8"),
    ([1, 2], "must be a dict of arrays, not list"),
])
def test_generate_checks_golden_arguments_before_writing(run_dir, tmp_path, golden, message):
    from tinyqi.codegen import generate

    with pytest.raises(TinyqiError, match=re.escape(message)):
        generate(run_dir, tmp_path / "gen", golden=golden)
    assert not (tmp_path / "gen").exists()


@pytest.mark.parametrize("text, message", [
    ("TQ v=0 class=7 out=1,2,3 cycles=5 ok=1\nTQ_DONE vectors=1 mismatches=0 cycles_total=5", "class=7 of 3 outputs"),
    ("TQ v=1 class=0 out=1,2 cycles=5 ok=1\nTQ_DONE vectors=1 mismatches=0 cycles_total=5", "v=1 where v=0"),
    ("TQ v=0 class=0 out=1,2 cycles=5 ok=1\nTQ v=1 class=0 out=1 cycles=5 ok=1", "1 outputs where the first"),
])
def test_emulate_does_not_trust_impossible_harness_lines(text, message):
    from tinyqi.emulate.output import parse_output

    with pytest.raises(TinyqiError, match=re.escape(message)):
        parse_output(text, "fw.elf on unicorn")


def test_unicorn_stops_at_its_wall_clock_limit(harness_elf):
    from tinyqi.emulate import run_firmware
    from tinyqi.emulate.result import STOP_TIMEOUT
    from tinyqi.emulate.run import target_for_board
    from tinyqi.emulate.unicorn_engine import UnicornEngine
    from tinyqi.firmware.boards import NRF52840

    run = UnicornEngine(target_for_board(NRF52840), timeout=0.001).run(harness_elf)
    assert run.stop_reason == STOP_TIMEOUT and "TQ_DONE" not in run.text
    with pytest.raises(TinyqiError, match=r"stopped \(timeout\).*raise --timeout"):
        run_firmware(harness_elf, timeout=0.001)
    assert run_firmware(harness_elf).bit_exact  # the default limit leaves the harness all the time it needs


# --- 10. TensorFlow's own log lines stay off stderr ---------------------------------------------------------------

ABSL_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|oneDNN|WARNING:absl|tensorflow", re.MULTILINE)


def test_loading_tensorflow_prints_nothing():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", "from tinyqi.train import import_tensorflow; import_tensorflow()"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.slow
def test_train_and_compress_keep_tensorflow_logs_off_stderr(tmp_path):
    """With the CLI's own TF_CPP_MIN_LOG_LEVEL (3), which the oneDNN notices used to ignore."""
    run = tmp_path / "run"
    trained = run_cli("train", "ecg", "--quick", "--epochs", "1", "--out", str(run))
    assert trained.returncode == 0, trained.stderr
    assert not ABSL_LINE.search(trained.stderr), trained.stderr
    compressed = run_cli("compress", str(run), "--method", "magnitude-global")
    assert compressed.returncode == 0, compressed.stderr
    assert not ABSL_LINE.search(compressed.stderr), compressed.stderr


# --- property-based: loaders and quantisation checks never fail with anything but TinyqiError -------------------

def hostile_floats():
    return st.one_of(st.floats(min_value=2 ** -14, max_value=1.0), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.0, -0.0, 1e-45, 1e-38, 3.4e38, -1.0, 2 ** -40, 2 ** 40]))


def hostile_zero_points():
    return st.one_of(st.integers(-128, 127), st.integers(-2 ** 40, 2 ** 40))


def check_accepted_program(program) -> None:
    """What the runtime needs of every multiplier and shift it gets (tq_requantize.h)."""
    def walk(value, name=""):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, key)
        elif isinstance(value, np.ndarray):
            walk(value.tolist(), name)
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif isinstance(value, int) and "shift" in name:
            assert -31 <= value <= 31, (name, value)
        elif isinstance(value, int) and "multiplier" in name:
            assert 0 <= value < 2 ** 31, (name, value)

    for call in program.calls:
        for definition in call.definitions:
            walk(definition.value, definition.name.rsplit("_", 1)[-1] if definition.is_array else "")


@pytest.fixture(scope="module")
def parsed_models():
    return [parse_tflite(chain_model().to_bytes()), parse_tflite(conv_model().to_bytes())]


def test_property_codegen_quantisation_checks(parsed_models):
    from tinyqi.codegen.lower import lower

    counted = []

    @PROPERTY
    @given(which=st.integers(0, 1), data=st.data())
    def run(which, data):
        model = copy.deepcopy(parsed_models[which])
        for t in model.tensors:
            if t.dtype == np.int8 and data.draw(st.booleans()):
                count = t.scale.size if data.draw(st.booleans()) else data.draw(st.integers(0, 4))
                with np.errstate(over="ignore"):  # values beyond float32 become inf, one more hostile scale
                    t.scale = np.array(data.draw(st.lists(hostile_floats(), min_size=count, max_size=count)),
                                       np.float32)
                t.zero_point = np.array(data.draw(st.lists(hostile_zero_points(), min_size=count, max_size=count)))
        try:
            check_accepted_program(lower(model, "prop.tflite", "s8", {}))
        except TinyqiError:
            pass
        counted.append(1)

    run()
    assert len(counted) >= EXAMPLES


def test_property_tflite_loader_and_lowering():
    """Corrupted .tflite bytes through the parser and, when they parse, codegen's lowering and arena plan."""
    from tinyqi.codegen import arena
    from tinyqi.codegen.lower import lower

    models = [chain_model().to_bytes(), conv_model().to_bytes()]
    counted = []

    @PROPERTY
    @given(which=st.integers(0, 1), data=st.data())
    def run(which, data):
        mutated = bytearray(models[which])
        for position, value in data.draw(st.lists(st.tuples(st.integers(0, len(mutated) - 1), st.integers(0, 255)),
                                                  min_size=1, max_size=8)):
            mutated[position] = value
        cut = data.draw(st.one_of(st.none(), st.integers(0, len(mutated))))
        try:
            program = lower(parse_tflite(bytes(mutated[:cut])), "prop.tflite", "s8", {})
            arena.plan(program.buffers)
        except TinyqiError:
            pass
        counted.append(1)

    run()
    assert len(counted) >= EXAMPLES


def arrays(dtypes, max_rows: int = 4, max_width: int = 9):
    """Arrays of one value, one or two dimensions, of a dtype among `dtypes` (NaN and 300 cast as numpy casts)."""
    shapes = st.one_of(st.tuples(st.integers(0, max_rows)), st.tuples(st.integers(0, max_rows),
                                                                       st.integers(1, max_width)))
    fills = st.one_of(st.integers(-300, 300), st.sampled_from([np.nan, np.inf, 0.5]))
    return st.builds(lambda dtype, shape, fill: _filled(shape, fill, dtype), st.sampled_from(dtypes), shapes, fills)


def _filled(shape, fill, dtype) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.full(shape, fill).astype(dtype)


def test_property_golden_loader_and_check(run_dir, tmp_path):
    from tinyqi.codegen import build_program
    from tinyqi.codegen.golden import check_golden, load_golden

    program, _ = build_program(run_dir)
    counted = []
    keys = st.sampled_from(["input0", "input1", "output", "label", "index"])
    dtypes = [np.int8, np.int16, np.uint8, np.float32, np.float64, np.int64]

    @PROPERTY
    @given(golden=st.dictionaries(keys, arrays(dtypes)), garbage=st.one_of(st.none(), st.binary(max_size=64)))
    def run(golden, garbage):
        path = tmp_path / "golden.npz"
        if garbage is None:
            write_npz(path, golden)
        else:
            path.write_bytes(garbage)
        try:
            check_golden(load_golden(path), program, str(path))
        except TinyqiError:
            pass
        counted.append(1)

    run()
    assert len(counted) >= EXAMPLES


def test_property_testset_loader(tmp_path):
    from tinyqi.modeldir import load_testset

    counted = []
    keys = st.sampled_from(["x0", "x1", "x3", "y", "class_names"])
    dtypes = [np.float32, np.float64, np.int8, np.int64, np.uint8]

    @PROPERTY
    @given(arrays_=st.dictionaries(keys, st.one_of(arrays(dtypes), st.just(np.array(["A", "B"])))))
    def run(arrays_):
        write_npz(tmp_path / "testset.npz", arrays_)
        try:
            xs, y, names = load_testset(tmp_path)
        except TinyqiError:
            pass
        else:
            assert all(len(x) == len(y) and np.all(np.isfinite(x)) for x in xs)
            assert 0 <= y.min() and y.max() < len(names)
        counted.append(1)

    run()
    assert len(counted) >= EXAMPLES


def test_property_csr_loader(tmp_path):
    from tinyqi import csr
    from tinyqi.tflite_model import load_tflite

    model_dir = pruned_dir(tmp_path)
    index = json.loads((model_dir / "csr.json").read_text())
    with np.load(model_dir / "csr.npz") as z:
        tables = {k: z[k] for k in z.files}
    model = load_tflite(model_dir / "model_int8.tflite")
    counted = []
    json_values = st.one_of(st.none(), st.integers(-3, 20), st.text(max_size=3), st.lists(st.integers(-1, 5),
                                                                                             max_size=3))

    @PROPERTY
    @given(entry_edits=st.dictionaries(st.sampled_from(["key", "tensor_index", "name", "shape", "scales",
                                                         "zero_points"]), json_values, max_size=2),
           array_edits=st.dictionaries(st.sampled_from(sorted(tables)),
                                       st.one_of(st.none(), st.lists(st.integers(-2, 300), max_size=10).map(np.array),
                                                 st.lists(st.integers(0, 12), max_size=10).map(
                                                     lambda v: np.array(v, np.uint8))), max_size=2))
    def run(entry_edits, array_edits):
        entry = {**index["tensors"][0], **{k: v for k, v in entry_edits.items() if v is not None}}
        for key in [k for k, v in entry_edits.items() if v is None]:
            del entry[key]
        (model_dir / "csr.json").write_text(json.dumps({**index, "tensors": [entry]}))
        arrays_ = {k: v for k, v in {**tables, **array_edits}.items() if v is not None}
        write_npz(model_dir / "csr.npz", arrays_)
        try:
            for table in csr.read_tables(model_dir, model):
                assert np.array_equal(table.to_dense(), model.tensor(table.tensor_index).data)
        except TinyqiError:
            pass
        counted.append(1)

    run()
    assert len(counted) >= EXAMPLES


def test_library_train_refuses_zero_epochs(tmp_path):
    from tinyqi.pipeline import TrainOptions, train_task
    from tinyqi.ui import Ui

    with pytest.raises(TinyqiError, match="epochs 0: must be at least 1"):
        train_task(TrainOptions("ecg", tmp_path / "run", epochs=0, sample=True), Ui())
    assert not (tmp_path / "run").exists()
