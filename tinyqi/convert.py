"""Float Keras model -> full-integer int8 .tflite (and float32 .tflite), plus the reference interpreters.

Reference paths, never the default XNNPACK one (it differs by 1 LSB on some models):
  - LiteRT with OpResolverType.BUILTIN_REF: our batch evaluation path;
  - TFLM's Python interpreter (tflite_micro): the microcontroller reference every C kernel must match bit-exactly.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import numpy as np

from tinyqi.errors import TinyqiError
from tinyqi.tflite_model import Tensor, TfliteModel, parse_tflite

# Ops TFLM runs and tinyqi's C runtime implements; a converted model with anything else is rejected here.
SUPPORTED_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "ADD", "MUL",
    "TANH", "LOGISTIC", "SOFTMAX", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "QUANTIZE", "CONCATENATION",
}
TFLM_ARENA_BYTES = 256 * 1024


def batch1_clone(model):
    """The same function with a static batch of 1 (TFLM and the C runtime need static shapes), and with each
    interference phase folded into a bias (_phase_folds)."""
    import keras

    folds = _phase_folds(model)
    inputs = [keras.Input(shape=t.shape[1:], batch_size=1, name=t.name.split(":")[0]) for t in model.inputs]
    clone = keras.models.clone_model(model, input_tensors=inputs if len(inputs) > 1 else inputs[0],
                                     clone_function=lambda layer: _cloned_layer(layer, folds))
    for layer in model.layers:
        if layer.name in folds or not layer.weights:
            continue
        weights = layer.get_weights()
        for folded in (n for n, into in folds.items() if into == layer.name):
            weights[1] = weights[1] + model.get_layer(folded).get_weights()[0]
        clone.get_layer(layer.name).set_weights(weights)
    return clone


def _phase_folds(model) -> dict[str, str]:
    """Interference layer -> the Dense whose bias takes its phase: tanh(x + phase) after a Dense, or after an Add of
    a Dense and other terms, is tanh of the same sum with the phase in that Dense's bias. Folded, the device runs a
    TANH alone; unfolded after an Add, the converter keeps a second int8 ADD (two rescales and a requantisation per
    channel: about 1,200 cycles of the ECG QINN's ~43,000 on a Cortex-M4). The float function is the same."""
    from keras import layers

    from tinyqi.models.qinn import Interference

    def read_once(layer) -> bool:  # called once, and its output read by one layer only
        return len(layer._inbound_nodes) == 1 and len(layer._outbound_nodes) == 1

    def biased_dense(layer) -> bool:
        return isinstance(layer, layers.Dense) and layer.use_bias and read_once(layer)

    folds = {}
    for layer in model.layers:
        if not isinstance(layer, Interference):
            continue
        source = layer.input._keras_history.operation
        terms = [t._keras_history.operation for t in source.input] if isinstance(source, layers.Add) else [source]
        into = next((t for t in terms if biased_dense(t)), None)
        if into is not None and read_once(source):  # nothing else reads the sum the phase moves into
            folds[layer.name] = into.name
    return folds


def _cloned_layer(layer, folds: dict[str, str]):
    from keras import layers

    if layer.name in folds:
        return layers.Activation("tanh", name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def to_int8_tflite(model, representative: list[np.ndarray], max_samples: int = 500,
                   input_scale: float | None = None) -> bytes:
    """Full-integer int8 conversion (int8 inputs and outputs), calibrated on `max_samples` rows drawn evenly
    (fixed seed) from the whole representative set: datasets are ordered by record, the first rows are not.

    `input_scale`: every input gets exactly this scale and zero point 0, for inputs that a device computes as
    int8 already (the ECG chain): the float inputs are then multiples of the scale in [-128, 127] steps."""
    import tensorflow as tf

    model1 = batch1_clone(model)
    rows = np.random.default_rng(0).permutation(len(representative[0]))[:max_samples]
    representative = [x[np.sort(rows)] for x in representative]
    if input_scale is not None:
        representative = [_with_full_range_row(x, input_scale) for x in representative]
    n = len(representative[0])

    names = [t.name.split(":")[0] for t in model1.inputs]

    def calibration():  # keyed by input name: the converter's signature order is not the Keras order
        for i in range(n):
            yield {name: x[i : i + 1].astype(np.float32) for name, x in zip(names, representative)}

    converter = tf.lite.TFLiteConverter.from_keras_model(model1)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    tflite = _convert(converter)
    check_tflm_compatible(parse_tflite(tflite))
    if input_scale is not None:
        _check_input_scale(parse_tflite(tflite), input_scale)
    keras_input_positions(parse_tflite(tflite))  # fails early when inputs cannot be matched
    return tflite


def _with_full_range_row(x: np.ndarray, scale: float) -> np.ndarray:
    """The calibration rows plus a copy of the first with one element at each end of the int8 range: the
    converter then calibrates the input to exactly [-128, 127] * scale, i.e. that scale and zero point 0."""
    extra = x[:1].copy().reshape(1, -1)
    extra[0, 0], extra[0, 1] = -128 * scale, 127 * scale
    return np.concatenate([x, extra.reshape((1,) + x.shape[1:])])


def _check_input_scale(model: TfliteModel, scale: float) -> None:
    for i in model.inputs:
        t = model.tensor(i)
        if not np.isclose(float(t.scale[0]), scale, rtol=1e-6, atol=0) or int(t.zero_point[0]) != 0:
            raise TinyqiError(f"input tensor '{t.name}': quantised with scale {float(t.scale[0]):g} and zero point "
                              f"{int(t.zero_point[0])}, the device computes int8 with scale {scale:g} and zero point "
                              "0; internal error: report it")


def to_float_tflite(model) -> bytes:
    import tensorflow as tf

    return _convert(tf.lite.TFLiteConverter.from_keras_model(batch1_clone(model)))


def _convert(converter) -> bytes:
    try:
        with native_output_silenced():
            return bytes(converter.convert())
    except Exception as exc:  # the converter's own message names the unsupported layer/op
        if "KeyboardInterrupt" in str(exc):  # Ctrl-C inside the converter's C++ comes back wrapped by pybind11
            raise KeyboardInterrupt from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TinyqiError(f"TFLite conversion failed: {first}; use layers that lower to TFLM builtin ops") from None


@contextmanager
def native_output_silenced():
    """TensorFlow's C++ code (the converter, the libraries as they load) prints pages of signatures and absl log
    lines straight to fds 1/2; users see progress instead."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def check_tflm_compatible(model: TfliteModel) -> None:
    """Reject what TFLM would refuse or, worse, run silently wrong."""
    for op in model.operators:
        if op.op not in SUPPORTED_OPS:
            out = model.tensor(op.outputs[0]).name
            raise TinyqiError(f"op {op.op} (output tensor '{out}') is not supported by tinyqi's TFLM/C path; "
                              "change the layer that produces it")
    for t in model.tensors:
        if t.is_sparse:
            raise TinyqiError(f"tensor '{t.name}' carries TFLite sparsity metadata, which TFLM runs silently wrong; "
                              "export pruned weights as dense int8 + tinyqi CSR tables")


def keras_input_positions(model: TfliteModel) -> list[int]:
    """For each .tflite input (in the flatbuffer's order), the position of the Keras input it came from.

    The converter does not keep the Keras input order, so model builders name inputs `in0_<what>`,
    `in1_<what>`, ...; float arrays stay in Keras order, everything int8 (TFLM, golden vectors, C) uses the
    .tflite order, and this mapping is the one place that translates.
    """
    if len(model.inputs) == 1:
        return [0]
    positions = []
    for i in model.inputs:
        m = re.search(r"(?:^|_)in(\d+)_", model.tensor(i).name)
        if m is None:
            raise TinyqiError(f"input tensor '{model.tensor(i).name}': name Keras inputs in0_..., in1_... so tinyqi "
                              "can match them to the .tflite inputs")
        positions.append(int(m.group(1)))
    return positions


def quantize_input(tensor: Tensor, x: np.ndarray) -> np.ndarray:
    """The single float -> int8 input quantisation every consumer uses (see docs/architecture.md)."""
    if tensor.dtype != np.int8 or tensor.scale.size == 0:
        raise TinyqiError(f"input tensor '{tensor.name}': {np.dtype(tensor.dtype).name} without int8 quantisation; "
                          "give the full-integer int8 model (model_int8.tflite)")
    if not np.all(np.isfinite(x)):  # NaN would become an int8 0 without a word
        raise TinyqiError(f"input tensor '{tensor.name}': {int(np.count_nonzero(~np.isfinite(x)))} NaN/Inf input "
                          "values; remove or repair those samples")
    scale, zero_point = float(tensor.scale[0]), int(tensor.zero_point[0])
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def dequantize(tensor: Tensor, q: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) - int(tensor.zero_point[0])) * float(tensor.scale[0])


def model_inputs(model: TfliteModel, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Float arrays in Keras input order -> the same values in the model's input shapes, in .tflite input order,
    after checking they fit: one array per input, as many rows in each, the input's size per row."""
    if len(xs) != len(model.inputs):
        raise TinyqiError(f"model has {len(model.inputs)} inputs but {len(xs)} arrays were given; use the test "
                          "set of the run this model comes from")
    row_count(xs)
    arrays = []
    for index, position in zip(model.inputs, keras_input_positions(model)):
        t = model.tensor(index)
        x = np.asarray(xs[position]) if position < len(xs) else None
        if x is None or x.ndim == 0 or x[0].size != int(np.prod(t.shape[1:])):
            given = "none" if x is None else f"{x.shape[1:]}" if x.ndim else "a scalar"
            raise TinyqiError(f"input tensor '{t.name}': takes {t.shape[1:]} per sample, the data gives {given}; "
                              "use the test set of the run this model comes from")
        arrays.append(x.reshape((len(x),) + t.shape[1:]))
    return arrays


def row_count(xs: list[np.ndarray]) -> int:
    """The number of samples, the same in every input array: an input with fewer rows would leave the interpreters
    running later samples on stale inputs."""
    rows = {len(x) for x in xs}
    if len(rows) != 1:
        raise TinyqiError(f"the input arrays have {', '.join(map(str, sorted(rows))) or 'no'} rows; every input "
                          "needs one row per sample")
    return rows.pop()


def quantize_inputs(model: TfliteModel, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Float arrays in Keras input order -> int8 arrays in .tflite input order (what TFLM and C take)."""
    return [quantize_input(model.tensor(i), x) for i, x in zip(model.inputs, model_inputs(model, xs))]


def run_litert_ref(tflite: bytes, xs: list[np.ndarray]) -> np.ndarray:
    """Outputs of LiteRT's reference kernels for int8 (or float) inputs, one row per sample."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    ins = it.get_input_details()
    out = it.get_output_details()[0]
    rows = []
    for i in range(row_count(xs)):
        for d, x in zip(ins, xs):
            it.set_tensor(d["index"], x[i : i + 1])
        it.invoke()
        rows.append(it.get_tensor(out["index"])[0].copy())
    return np.stack(rows)


def run_tflm(tflite: bytes, xs: list[np.ndarray]) -> np.ndarray:
    """Outputs of TFLM's Python interpreter (reference kernels), one row per sample: the bit-exact target."""
    from tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tflite, arena_size=TFLM_ARENA_BYTES)
    rows = []
    for i in range(row_count(xs)):
        for k, x in enumerate(xs):
            it.set_input(x[i : i + 1], k)
        it.invoke()
        rows.append(it.get_output(0)[0].copy())
    return np.stack(rows)
