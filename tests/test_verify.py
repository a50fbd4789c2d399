"""`tinyqi verify`: every model directory of a run, dense and CSR, against TFLM under ASan + UBSan."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from test_kernels import VECTORS, make_model_dir, pruned_two_input

from tinyqi import csr
from tinyqi.tflite_model import load_tflite


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run root (dense int8 + float) with one CSR variant, like `tinyqi train` + `tinyqi compress` leave it (each
    with its manifest.json)."""
    import shutil

    from tinyqi.manifest import sha256_file, write_manifest

    root, _ = make_model_dir(tmp_path_factory.mktemp("run"), pruned_two_input)
    variant = root / "variants" / "pruned70"
    variant.mkdir(parents=True)
    shutil.copy(root / "model_int8.tflite", variant / "model_int8.tflite")
    csr.write_tables(variant / "model_int8.tflite",
                     csr.tables_from_tflite(load_tflite(variant / "model_int8.tflite"), max_density=0.5))
    write_manifest(variant, "compress", base_sha256=sha256_file(root / "model_int8.tflite"))
    write_manifest(root, "train")
    return root


@pytest.fixture(scope="module")
def summary(run_dir):
    from tinyqi.verify import verify_run

    return verify_run(run_dir)


def test_every_model_and_build_matches_tflm(summary):
    from tinyqi.verify import passed

    assert summary["vectors"] == VECTORS
    assert [m["model"] for m in summary["models"]] == [".", "variants/pruned70"]
    assert summary["dense_mismatches"] == 0
    assert summary["csr_mismatches"] == 0
    assert summary["sanitizers"] == {"enabled": ["address", "undefined"], "findings": 0}
    root, variant = summary["models"]
    assert root["csr_mismatches"] is None and variant["csr_layers"] >= 4
    assert summary["float"]["within_tolerance"]
    assert passed(summary)


def test_verify_json_is_written(run_dir, summary):
    written = json.loads((run_dir / "verify.json").read_text())
    assert written == json.loads(json.dumps(summary))
    assert {"vectors", "dense_mismatches", "csr_mismatches", "sanitizers", "models"} <= set(written)


def test_sanitizers_catch_an_out_of_bounds_read(run_dir, tmp_path):
    """A generated model that reads past the arena must be reported, not pass silently."""
    from tinyqi import convert
    from tinyqi.codegen import build_program, write_model
    from tinyqi.hostc import HostBuild, run_host

    program, provenance = build_program(run_dir)
    write_model(program, provenance, tmp_path)
    source = tmp_path / "model_data.c"
    text = source.read_text()
    tail = text[text.index("const int8_t *tq_model_output(void)"):]
    broken = tail.replace(tail[tail.index("return"):tail.index(";") + 1],
                          f"return tq_arena.s8 + {program.arena_bytes};", 1)
    source.write_text(text.replace(tail, broken))
    model = load_tflite(run_dir / "model_int8.tflite")
    xs = [np.load(run_dir / "testset.npz")[f"x{k}"][:3] for k in range(2)]
    exe = HostBuild(tmp_path / "build").executable(tmp_path, program.input_sizes)
    _, problem = run_host(exe, convert.quantize_inputs(model, xs), np.int8, program.output_size)
    assert "AddressSanitizer" in problem


def test_cli_verify_prints_table_and_succeeds(run_dir):
    result = run_cli("verify", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "variants/pruned70" in result.stdout and "verify.json" in result.stdout


def test_cli_verify_fails_on_mismatch(run_dir, monkeypatch):
    from click.testing import CliRunner

    from tinyqi import verify
    from tinyqi.cli import main

    def mismatching(_run_dir):
        return {"vectors": 1, "dense_mismatches": 1, "csr_mismatches": None,
                "sanitizers": {"enabled": [], "findings": 0}, "float": None,
                "models": [{"model": ".", "vectors": 1, "dense_mismatches": 1, "csr_mismatches": None,
                            "sanitizers": {"findings": 0}, "dense_arena_bytes": 0}]}

    monkeypatch.setattr(verify, "verify_run", mismatching)
    assert CliRunner().invoke(main, ["verify", str(run_dir)]).exit_code == 1


def test_cli_verify_without_testset_is_one_line_error(tmp_path):
    assert_one_line_error(run_cli("verify", str(tmp_path)), "testset.npz")
