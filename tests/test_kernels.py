"""Host-compiled C runtime + generated model == TFLM's Python interpreter, under ASan + UBSan.

Small Keras models with random weights and random calibration data cover every op the lowering supports; each is
converted to int8 (and float32), generated to C, compiled with the host gcc and run on a few hundred random
vectors. The reference is TFLM itself, never a Python re-implementation. The model builders and `make_model_dir`
are shared with test_kernels_csr.py, test_codegen.py and test_verify.py.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VECTORS = 300

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


# --- model builders (Keras 3, random weights); each returns (model, input shapes without batch) -----------------

def two_input_ecg_like(seed: int = 0):
    """Like the ECG baseline: beat + RR features; Conv1D (RESHAPE + CONV_2D), MAX_POOL, MEAN, FC, ADD, SOFTMAX."""
    import keras

    keras.utils.set_random_seed(seed)
    beat, rr = keras.Input((128, 1), name="in0_beat"), keras.Input((5,), name="in1_rr")
    x = keras.layers.Conv1D(8, 7, strides=2, activation="relu")(beat)
    x = keras.layers.MaxPooling1D(2)(x)
    x = keras.layers.Conv1D(16, 5, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    h = keras.layers.Add()([keras.layers.Dense(16)(x), keras.layers.Dense(16, use_bias=False)(rr)])
    h = keras.layers.Activation("relu")(h)
    out = keras.layers.Dense(5, activation="softmax")(h)
    return keras.Model([beat, rr], out), [(128, 1), (5,)]


def same_padding_tanh(seed: int = 1):
    """SAME padding with strides and dilation, depthwise (multiplier 2), average pool, RELU6, TANH."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((90, 3), name="in0_signal")
    x = keras.layers.Conv1D(6, 5, strides=2, padding="same", activation="relu6")(inp)
    x = keras.layers.DepthwiseConv1D(3, padding="same", depth_multiplier=2)(x)
    x = keras.layers.AveragePooling1D(3, strides=2, padding="same")(x)
    x = keras.layers.Conv1D(8, 3, dilation_rate=2, padding="same", activation="tanh")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(12, activation="tanh")(x)
    out = keras.layers.Dense(4, activation="softmax")(x)
    return keras.Model(inp, out), [(90, 3)]


def single_channel_convs(seed: int = 5):
    """Convolutions over one input channel (the runtime's own path for at most 8 taps): strides 1-3, 3 to 9 taps,
    VALID and SAME, with a fused max-pool after an odd output width, and rows whose last windows end at the input's
    end (read through a copy there)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((63, 1), name="in0_signal")
    pooled = keras.layers.MaxPooling1D(2)(keras.layers.Conv1D(4, 7, strides=2, activation="relu")(inp))
    branches = [pooled,
                keras.layers.Conv1D(3, 8, padding="same")(inp),
                keras.layers.Conv1D(2, 3, strides=3, activation="relu")(inp),
                keras.layers.Conv1D(2, 9, activation="tanh")(inp)]  # 9 taps: the blocked path
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(b) for b in branches])
    out = keras.layers.Dense(4, activation="softmax")(x)
    return keras.Model(inp, out), [(63, 1)]


def image_mul_concat(seed: int = 2):
    """2-D convolutions (SAME), LOGISTIC, MUL, CONCATENATION, 2-D MAX_POOL (SAME), separable conv, 2-D MEAN."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((10, 9, 2), name="in0_image")
    a = keras.layers.Conv2D(5, (3, 3), padding="same", activation="relu")(inp)
    b = keras.layers.Conv2D(5, (2, 2), padding="same", activation="sigmoid")(inp)
    x = keras.layers.Multiply()([a, b])
    x = keras.layers.Concatenate()([x, a])
    x = keras.layers.MaxPooling2D((2, 2), padding="same")(x)
    x = keras.layers.SeparableConv2D(6, (3, 3), strides=(2, 1))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3)(x)
    return keras.Model(inp, out), [(10, 9, 2)]


def magnitude_prune(model, sparsity: float = 0.7):
    """Zero the smallest-magnitude kernel weights of every Conv/Dense layer (zeros survive int8 quantisation)."""
    import keras

    skip = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense)) and not isinstance(
                layer, skip):
            weights = layer.get_weights()
            kernel = weights[0]
            threshold = np.quantile(np.abs(kernel), sparsity)
            weights[0] = np.where(np.abs(kernel) <= threshold, 0.0, kernel).astype(kernel.dtype)
            layer.set_weights(weights)
    return model


def pruned_conv2d(seed: int = 3):
    """3x3 convolutions (SAME and strided VALID) and dense layers, pruned to 70 % zeros."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3), name="in0_image")
    x = keras.layers.Conv2D(16, (3, 3), padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(16, (3, 3), strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    out = keras.layers.Dense(5)(x)
    return magnitude_prune(keras.Model(inp, out)), [(12, 12, 3)]


def pruned_two_input(seed: int = 4):
    model, shapes = two_input_ecg_like(seed)
    return magnitude_prune(model), shapes


def pruned_edge_convs(seed: int = 6):
    """The CSR convolution's corners, pruned to 70 % zeros: dilation with a fused max-pool, a row of 3 pixels
    (stride 4) and a pooled row of 1 (2 pixels), 9 taps x 32 channels (2-byte column indices), RELU6, a filter row
    of zeros only, clamps narrower than int8 (outputs quantised for the concatenation), shifts beyond -20, and an ADD
    that broadcasts one pixel over eight. Flattened, not averaged, so that outputs in the wrong place show."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((20, 4), name="in0_signal")
    a = keras.layers.MaxPooling1D(2)(keras.layers.Conv1D(6, 3, dilation_rate=2, activation="relu")(inp))  # 8 x 6
    b = keras.layers.Conv1D(5, 9, strides=4)(inp)  # 3 pixels
    c = keras.layers.MaxPooling1D(2)(keras.layers.Conv1D(3, 7, activation="relu")(a))  # 2 pixels -> 1
    d = keras.layers.Conv1D(4, 9)(keras.layers.Conv1D(32, 1, activation="relu")(inp))  # 288 columns
    e = keras.layers.Conv1D(4, 3, activation="relu6")(inp)
    f = keras.layers.Conv1D(3, 3, activation="relu", name="zero_row")(a)
    g = keras.layers.Add()([keras.layers.Conv1D(3, 1)(a),
                            keras.layers.GlobalAveragePooling1D(keepdims=True)(keras.layers.Conv1D(3, 1)(a))])
    # outputs with their own quantisation (not a concatenation's): 18 pixels pooled, rows of 9 and 7 (the CSR
    # walks of four pixels: last walks overlapping by 2, 3 and 1 pixels)
    h = keras.layers.MaxPooling1D(2)(keras.layers.Conv1D(4, 3, activation="relu")(inp))
    i, j = keras.layers.Conv1D(3, 1)(h), keras.layers.Conv1D(3, 3)(h)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(t) for t in (a, b, c, d, e, f, g, i, j)])  # in order
    out = keras.layers.Dense(4, activation="softmax")(x)
    model = keras.Model(inp, out)
    layer = model.get_layer("zero_row")
    kernel, bias = layer.get_weights()
    model = magnitude_prune(model)
    # its filter row 1 all zeros, the other two at 45 %: the table's density stays near the others' 30 %
    kept = np.abs(kernel) >= np.quantile(np.abs(kernel[..., [0, 2]]), 0.55)
    kept[..., 1] = False
    layer.set_weights([np.where(kept, kernel, 0.0).astype(kernel.dtype), bias + 0.3])
    return model, [(20, 4)]


def random_inputs(shapes, count: int = VECTORS, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(count,) + tuple(s)).astype(np.float32) for s in shapes]


def make_model_dir(path, builder, with_float: bool = True, tflite: bytes | None = None):
    """A run-like directory: model_int8.tflite (+ model_float.tflite) and testset.npz; returns (path, xs)."""
    from tinyqi import convert
    from tinyqi.files import write_npz

    model, shapes = builder()
    xs = random_inputs(shapes)
    path.mkdir(parents=True, exist_ok=True)
    (path / "model_int8.tflite").write_bytes(tflite or convert.to_int8_tflite(model, xs))
    if with_float:
        (path / "model_float.tflite").write_bytes(convert.to_float_tflite(model))
    arrays = {f"x{k}": x for k, x in enumerate(xs)}
    arrays.update(y=np.zeros(len(xs[0]), dtype=np.int64), class_names=np.array(["N", "S", "V", "F", "Q"]))
    write_npz(path / "testset.npz", arrays)
    return path, xs


def per_tensor_int8_tflite(builder) -> bytes:
    """Full-integer int8 with per-tensor weight scales (the converter's per-channel default switched off)."""
    import tensorflow as tf

    from tinyqi import convert

    model, shapes = builder()
    xs = random_inputs(shapes)
    model1 = convert.batch1_clone(model)
    names = [t.name.split(":")[0] for t in model1.inputs]

    def calibration():
        for i in range(200):
            yield {n: x[i : i + 1] for n, x in zip(names, xs)}

    converter = tf.lite.TFLiteConverter.from_keras_model(model1)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel = True
    return bytes(converter.convert())


# --- tests --------------------------------------------------------------------------------------------------------

DENSE_MODELS = {"two_input_ecg_like": two_input_ecg_like, "same_padding_tanh": same_padding_tanh,
                "image_mul_concat": image_mul_concat, "single_channel_convs": single_channel_convs}


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    from tinyqi.verify import HostBuild

    build = HostBuild(tmp_path_factory.mktemp("host"))
    build.runtime_objects()
    return build


@pytest.fixture(scope="module", params=sorted(DENSE_MODELS))
def model_case(request, tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp(request.param), DENSE_MODELS[request.param])


def test_int8_c_matches_tflm(model_case, host_build):
    from tinyqi.verify import verify_model

    model_dir, xs = model_case
    result = verify_model(model_dir, xs, host_build, model_dir.name)
    assert result["vectors"] == VECTORS
    assert result["sanitizers"]["findings"] == 0, result["sanitizers"]["reports"]
    assert result["dense_mismatches"] == 0
    assert result["csr_mismatches"] is None  # no CSR tables in these directories


def test_float_c_matches_tflm_float(model_case, host_build):
    from tinyqi.verify import verify_float

    model_dir, xs = model_case
    result = verify_float(model_dir, xs, host_build)
    assert result["sanitizers"]["findings"] == 0, result["sanitizers"]["reports"]
    assert result["within_tolerance"], result
    assert result["argmax_agreement"] == 1.0


def test_per_tensor_weight_scales_match_tflm(tmp_path, host_build):
    """Per-tensor FULLY_CONNECTED multiplies the scales in float32 first (TFLM GetQuantizedConvolutionMultipler)."""
    from tinyqi.tflite_model import parse_tflite
    from tinyqi.verify import verify_model

    tflite = per_tensor_int8_tflite(two_input_ecg_like)
    model = parse_tflite(tflite)
    assert all(len(model.tensor(op.inputs[1]).scale) == 1 for op in model.operators
               if op.op in ("CONV_2D", "FULLY_CONNECTED"))
    model_dir, xs = make_model_dir(tmp_path / "per_tensor", two_input_ecg_like, with_float=False, tflite=tflite)
    result = verify_model(model_dir, xs, host_build, "per_tensor")
    assert result["dense_mismatches"] == 0 and result["sanitizers"]["findings"] == 0


def test_litert_fully_connected_rounds_in_double_precision(tmp_path):
    """Why LiteRT's BUILTIN_REF differs from TFLM (docs/runtime.md): its reference FULLY_CONNECTED rescales the
    int32 accumulator with round(acc * in_scale * w_scale / out_scale) in double precision, while TFLM (and
    tinyqi) use the 31-bit fixed-point multiplier. Checked per FULLY_CONNECTED op on LiteRT's own tensors."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from tinyqi import convert
    from tinyqi.codegen.fixedpoint import requantize
    from tinyqi.codegen.quant import conv_multipliers, tflite_round
    from tinyqi.tflite_model import parse_tflite

    model, shapes = two_input_ecg_like(seed=0)
    xs = random_inputs(shapes)
    tflite = convert.to_int8_tflite(model, xs)
    parsed = parse_tflite(tflite)
    q = convert.quantize_inputs(parsed, xs)
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    double_rule = fixed_rule = total = 0
    for row in range(VECTORS):
        for detail, x in zip(it.get_input_details(), q):
            it.set_tensor(detail["index"], x[row : row + 1])
        it.invoke()
        for op in (o for o in parsed.operators if o.op == "FULLY_CONNECTED"):
            tin, w, tout = parsed.tensor(op.inputs[0]), parsed.tensor(op.inputs[1]), parsed.tensor(op.outputs[0])
            x = it.get_tensor(op.inputs[0]).astype(np.int64).ravel() - int(tin.zero_point[0])
            acc = w.data.astype(np.int64) @ x
            got = it.get_tensor(op.outputs[0]).astype(np.int64).ravel()
            mults, shifts = conv_multipliers(float(tin.scale[0]), w.scale, float(tout.scale[0]), w.shape[0], op.op)
            for c in range(w.shape[0]):
                real = float(tin.scale[0]) * float(w.scale[c]) / float(tout.scale[0])
                zp = int(tout.zero_point[0])
                double_rule += min(max(tflite_round(acc[c] * real) + zp, -128), 127) == got[c]
                fixed_rule += min(max(requantize(int(acc[c]), mults[c], shifts[c]) + zp, -128), 127) == got[c]
                total += 1
    assert double_rule == total  # LiteRT: double-precision rescale, every output
    assert fixed_rule < total  # TFLM's fixed-point rule disagrees with LiteRT on some outputs


def test_mean_with_equal_input_and_output_quantisation_matches_tflm(tmp_path, host_build):
    """Some TFLM releases took a truncating path for MEAN when input and output quantisation are equal; the
    converter rarely produces that case, so the .tflite is edited to force it."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from tinyqi import convert
    from tinyqi.verify import verify_model

    model, shapes = two_input_ecg_like(seed=0)
    flat = schema.ModelT.InitFromPackedBuf(bytearray(convert.to_int8_tflite(model, random_inputs(shapes))), 0)
    graph = flat.subgraphs[0]
    mean = next(op for op in graph.operators
                if flat.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.MEAN)
    source, target = graph.tensors[mean.inputs[0]].quantization, graph.tensors[mean.outputs[0]].quantization
    target.scale, target.zeroPoint = list(source.scale), list(source.zeroPoint)
    builder = flatbuffers.Builder(0)
    builder.Finish(flat.Pack(builder), file_identifier=b"TFL3")
    model_dir, xs = make_model_dir(tmp_path / "mean", two_input_ecg_like, with_float=False,
                                   tflite=bytes(builder.Output()))
    result = verify_model(model_dir, xs, host_build, "mean")
    assert result["dense_mismatches"] == 0 and result["sanitizers"]["findings"] == 0


@pytest.mark.parametrize("padding", [0, 1])  # TFLite SAME, VALID
@pytest.mark.parametrize("geometry", [((1, 1, 128, 1), 7, 2, 1), ((1, 12, 11, 3), 3, 1, 1), ((1, 9, 9, 2), 3, 2, 2),
                                      ((1, 4, 5, 8), 2, 1, 1)])
def test_scratch_size_is_what_the_runtime_asks_for(geometry, padding, tmp_path, host_build):
    """codegen sizes the padding scratch in Python (shapes.Window); it must equal tq_conv2d_s8_get_buffer_size()."""
    import subprocess
    from types import SimpleNamespace

    from tinyqi.codegen.program import render
    from tinyqi.codegen.shapes import Window

    shape, kernel, stride, dilation = geometry
    kh = 1 if shape[1] == 1 else kernel

    def out_size(size: int, k: int) -> int:  # TFLite's ComputeOutSize
        effective = (k - 1) * dilation + 1
        return (size + stride - 1) // stride if padding == 0 else (size + stride - effective) // stride

    options = SimpleNamespace(padding=padding, strideH=stride, strideW=stride, dilationHFactor=dilation,
                              dilationWFactor=dilation)
    win = Window.from_op(shape, (1, out_size(shape[1], kh), out_size(shape[2], kernel), 4), kh, kernel, options, "t")
    main = tmp_path / "scratch_main.c"
    main.write_text(f"""#include <stdio.h>
#include "tinyqi.h"
void tq_profile_layer_end(int layer) {{ (void)layer; }}
int main(void) {{
    static const tq_conv2d_s8_params_t p = {{.window = {render(win.c_value(), {})}}};
    printf("%d", (int)tq_conv2d_s8_get_buffer_size(&p));
    return 0;
}}
""")
    exe = host_build.link(tmp_path, [main], "scratch")
    assert int(subprocess.run([str(exe)], capture_output=True, text=True).stdout) == win.padded_bytes_s8
