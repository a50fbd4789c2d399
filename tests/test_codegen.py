"""tinyqi.codegen: deterministic output with provenance, clear errors, a planned arena, golden vectors, CLI."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from test_kernels import VECTORS, make_model_dir, pruned_two_input, random_inputs, two_input_ecg_like

from tinyqi import csr
from tinyqi.errors import TinyqiError
from tinyqi.tflite_model import load_tflite


@pytest.fixture(scope="module")
def csr_dir(tmp_path_factory):
    """A pruned two-input model with CSR tables and golden.npz (as `tinyqi train` / `compress` write them, with
    their manifest.json)."""
    from tinyqi.manifest import write_manifest
    from tinyqi.modeldir import write_golden

    model_dir, xs = make_model_dir(tmp_path_factory.mktemp("csr"), pruned_two_input)
    csr.write_tables(model_dir / "model_int8.tflite",
                     csr.tables_from_tflite(load_tflite(model_dir / "model_int8.tflite"), max_density=0.5))
    y = np.arange(VECTORS) % 5
    write_golden(model_dir, (model_dir / "model_int8.tflite").read_bytes(), xs, y, 5)
    write_manifest(model_dir, "compress")
    return model_dir


def test_generated_c_is_byte_identical(csr_dir, tmp_path):
    from tinyqi.codegen import generate

    first = generate(csr_dir, tmp_path / "a")
    second = generate(csr_dir, tmp_path / "b")
    assert [f.name for f in first] == ["model_data.h", "model_data.c", "golden_data.h", "golden_data.c"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_provenance_banner(csr_dir, tmp_path):
    from tinyqi import __version__
    from tinyqi.codegen import generate

    generate(csr_dir, tmp_path)
    head = (tmp_path / "model_data.c").read_text()[:600]
    assert f"tinyqi {__version__}" in head
    assert hashlib.sha256((csr_dir / "model_int8.tflite").read_bytes()).hexdigest() in head
    assert hashlib.sha256((csr_dir / "csr.npz").read_bytes()).hexdigest() in head
    assert "do not edit" in head


def test_arena_is_planned_smaller_than_naive_and_never_overlaps_live_buffers(csr_dir):
    from tinyqi.codegen import build_program

    program, _ = build_program(csr_dir)
    assert program.arena_bytes < program.naive_bytes
    buffers = list(program.buffers.values())
    assert program.arena_bytes >= max(b.offset + b.nbytes for b in buffers)
    for i, a in enumerate(buffers):
        for b in buffers[i + 1 :]:
            live_together = a.first <= b.last and b.first <= a.last
            bytes_overlap = a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes
            assert not (live_together and bytes_overlap), (a, b)


def test_reshapes_are_aliases_not_copies(csr_dir):
    from tinyqi.codegen import build_program

    program, _ = build_program(csr_dir)
    ops = load_tflite(csr_dir / "model_int8.tflite").op_names()
    assert "RESHAPE" in ops
    covered = [int(i) for call in program.calls for i in call.layer_name.split(":")[0].split("+")]
    assert sorted(covered) == [i for i, op in enumerate(ops) if op != "RESHAPE"]


def test_conv_absorbs_the_following_1x2_max_pool(csr_dir):
    """codegen.fuse: CONV_2D + MAX_POOL_2D 1x2/2 becomes one call writing the pool's output (no conv buffer); the
    kernel tests and tinyqi verify check it stays bit-exact with TFLM running both ops."""
    from tinyqi.codegen import build_program

    program, _ = build_program(csr_dir)
    ops = load_tflite(csr_dir / "model_int8.tflite").op_names()
    fused = [call for call in program.calls if call.layer_name.endswith("+max_pool_2d")]
    assert fused and all(ops[int(i)] == op for call in fused
                         for i, op in zip(call.layer_name.split(":")[0].split("+"), ("CONV_2D", "MAX_POOL_2D")))
    assert not any(call.kernel == "tq_max_pool2d_s8" for call in program.calls)


def test_a_multiplier_of_one_or_more_keeps_conv_and_pool_apart(csr_dir, monkeypatch):
    """Pooling accumulators before requantising is exact only for monotonic requantisation; a positive shift (a left
    shift that may wrap) must keep the two calls."""
    from tinyqi.codegen import build_program, ops_s8

    real = ops_s8.conv_multipliers

    def with_a_left_shift(*args):
        mults, shifts = real(*args)
        return mults, [1, *list(shifts)[1:]]

    monkeypatch.setattr(ops_s8, "conv_multipliers", with_a_left_shift)
    program, _ = build_program(csr_dir)
    assert not any("+" in call.layer_name for call in program.calls)
    assert any(call.kernel == "tq_max_pool2d_s8" for call in program.calls)


def test_header_declares_the_documented_api(csr_dir, tmp_path):
    from tinyqi.codegen import generate

    generate(csr_dir, tmp_path)
    header = (tmp_path / "model_data.h").read_text()
    for needle in ("#define TQ_MODEL_INPUT_COUNT 2", "#define TQ_MODEL_INPUT0_SIZE 5",
                   "#define TQ_MODEL_INPUT1_SIZE 128",
                   "#define TQ_MODEL_OUTPUT_SIZE 5", "#define TQ_MODEL_ARENA_BYTES", "#define TQ_MODEL_LAYER_COUNT",
                   "tq_model_io_t *tq_model_input(int index);", "const tq_model_io_t *tq_model_output(void);",
                   "void tq_model_invoke(void);", "extern const char *const tq_model_layer_names"):
        assert needle in header, needle
    assert re.search(r"typedef int8_t tq_model_io_t;", header)


def test_golden_vectors_run_on_the_host(csr_dir, tmp_path):
    """golden_data.c + model_data.c + runtime: every embedded input gives its embedded TFLM output."""
    import subprocess

    from tinyqi.codegen import generate
    from tinyqi.verify import HostBuild

    generate(csr_dir, tmp_path)
    main = tmp_path / "golden_main.c"
    main.write_text("""#include <string.h>
#include "golden_data.h"
void tq_profile_layer_end(int layer) { (void)layer; }
int main(void) {
    int bad = 0;
    for (int v = 0; v < TQ_GOLDEN_COUNT; ++v) {
        memcpy(tq_model_input(0), tq_golden_input0[v], TQ_MODEL_INPUT0_SIZE);
        memcpy(tq_model_input(1), tq_golden_input1[v], TQ_MODEL_INPUT1_SIZE);
        tq_model_invoke();
        bad += memcmp(tq_model_output(), tq_golden_output[v], TQ_MODEL_OUTPUT_SIZE) != 0;
    }
    return bad == 0 && TQ_GOLDEN_COUNT == 20 && tq_golden_index[0] >= 0 ? 0 : 1;
}
""")
    build = HostBuild(tmp_path / "build")
    exe = build.link(tmp_path, [tmp_path / "model_data.c", tmp_path / "golden_data.c", main], "golden_host")
    assert subprocess.run([str(exe)]).returncode == 0


def test_golden_of_another_model_is_rejected(csr_dir, tmp_path):
    from tinyqi.codegen import generate

    wrong = {"input0": np.zeros((2, 7), np.int8), "input1": np.zeros((2, 128), np.int8),
             "output": np.zeros((2, 5), np.int8)}
    with pytest.raises(TinyqiError, match="golden 'input0'"):
        generate(csr_dir, tmp_path, golden=wrong)


def test_float_model_generates_float_api_and_golden(csr_dir, tmp_path):
    from tinyqi.codegen import generate
    from tinyqi.modeldir import golden_vectors

    golden, source = golden_vectors(csr_dir, float_model=True)
    files = generate(csr_dir, tmp_path, golden=golden, float_model=True, golden_source=source)
    header = (tmp_path / "model_data.h").read_text()
    assert "#define TQ_MODEL_IO_FLOAT 1" in header and "typedef float tq_model_io_t;" in header
    assert "tq_conv2d_f32(" in (tmp_path / "model_data.c").read_text()
    assert "golden_data.c" in [f.name for f in files]
    assert "const float tq_golden_input0" in (tmp_path / "golden_data.c").read_text()


def _leaky_relu_tflite() -> bytes:
    """A valid int8 model whose LEAKY_RELU tinyqi does not implement (built without convert's op check)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inp = keras.Input((8,), batch_size=1, name="in0_x")
    out = keras.layers.Dense(4)(keras.layers.LeakyReLU(negative_slope=0.1, name="leaky")(inp))
    model = keras.Model(inp, out)
    xs = random_inputs([(8,)], count=50)[0]

    def calibration():
        for i in range(50):
            yield [xs[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def test_unsupported_op_names_op_and_tensor(tmp_path):
    from tinyqi.codegen import generate
    from tinyqi.tflite_model import parse_tflite

    tflite = _leaky_relu_tflite()
    (tmp_path / "model_int8.tflite").write_bytes(tflite)
    model = parse_tflite(tflite)
    leaky = next(op for op in model.operators if op.op == "LEAKY_RELU")
    with pytest.raises(TinyqiError) as err:
        generate(tmp_path, tmp_path / "c")
    message = str(err.value)
    assert "LEAKY_RELU" in message and model.tensor(leaky.outputs[0]).name in message
    assert "supported:" in message


def test_cli_codegen_writes_files_and_reports_arena(csr_dir, tmp_path):
    result = run_cli("codegen", str(csr_dir), "--out", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "model_data.c").is_file() and (tmp_path / "c" / "golden_data.c").is_file()
    assert "CSR" in result.stdout and "arena" in result.stdout


def test_cli_codegen_missing_model_is_one_line_error(tmp_path):
    assert_one_line_error(run_cli("codegen", str(tmp_path), "--out", str(tmp_path / "c")), "model_int8.tflite")


def test_two_input_model_inputs_in_tflite_order(tmp_path):
    """tq_model_input(k) follows the .tflite input order (what golden.npz and quantize_inputs use)."""
    from tinyqi.codegen import build_program

    model_dir, _ = make_model_dir(tmp_path / "m", two_input_ecg_like, with_float=False)
    program, _ = build_program(model_dir)
    model = load_tflite(model_dir / "model_int8.tflite")
    assert program.input_sizes == [int(np.prod(model.tensor(i).shape)) for i in model.inputs]
