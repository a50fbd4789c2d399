"""TFLite Micro's kernel-preparation arithmetic, ported so the device never needs floating point.

TFLM computes each kernel's multipliers, shifts and clamp ranges in its Prepare() step from the float scales of
the tensors. tinyqi does the same work here, once, at code-generation time, reproducing the exact float32/float64
expressions of TFLM's kernel_util.cc / quantization_util.cc so the integers match bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from tinyqi.errors import TinyqiError

INT8_MIN, INT8_MAX = -128, 127
FLOAT32_MAX = float(np.finfo(np.float32).max)
# tq_requantize() shifts a uint32 left by a positive shift before the multiply, which C defines below 32 bits only;
# right shifts beyond 31 never reach it (quantize_multiplier flushes those multipliers to zero, as TFLM does).
MAX_LEFT_SHIFT = 31

# TFLite's ActivationFunctionType values (schema.fbs).
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
# TFLite's Padding values.
PADDING_SAME, PADDING_VALID = 0, 1


def tflite_round(x: float) -> int:
    """std::round (TfLiteRound): half away from zero, exact for any double."""
    magnitude = abs(x)
    floor = math.floor(magnitude)
    rounded = floor + 1 if magnitude - floor >= 0.5 else floor
    return int(rounded) if x >= 0 else -int(rounded)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLM QuantizeMultiplier: real = multiplier * 2^(shift - 31) with multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    fixed = tflite_round(mantissa * (1 << 31))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def check_quantization(tensor, where: str) -> None:
    """What TFLM's int8 kernels assume of an int8 tensor, checked before any multiplier is derived from it: positive
    finite scales, one zero point per scale inside int8, one scale unless the tensor is a constant (per-channel
    weights)."""
    scales, zero_points = tensor.scale, tensor.zero_point
    what = f"int8 tensor '{tensor.name}'"
    if scales.size == 0 or zero_points.size != scales.size:
        raise TinyqiError(f"{where}: {what} has {scales.size} scales and {zero_points.size} zero points; "
                          "convert the model with full-integer quantisation")
    if scales.size > 1 and tensor.data is None:
        raise TinyqiError(f"{where}: {what} has {scales.size} scales; int8 activations are quantised per tensor, "
                          "re-convert the model")
    bad = [float(s) for s in scales if not (math.isfinite(float(s)) and s > 0)]
    if bad:
        raise TinyqiError(f"{where}: {what} has scale {bad[0]:g}; scales must be positive finite numbers, "
                          "re-convert the model")
    outside = [int(z) for z in zero_points if not INT8_MIN <= z <= INT8_MAX]
    if outside:
        raise TinyqiError(f"{where}: {what} has zero point {outside[0]}, outside int8; re-convert the model")


def checked_multiplier(real: float, where: str, what: str) -> tuple[int, int]:
    """quantize_multiplier for a rescale tq_requantize() applies, refusing what the runtime cannot compute."""
    if not (math.isfinite(real) and real >= 0):
        raise TinyqiError(f"{where}: {what} = {real!r} is not a finite non-negative multiplier; "
                          "re-convert the model with valid scales")
    multiplier, shift = quantize_multiplier(real)
    if shift > MAX_LEFT_SHIFT:
        raise TinyqiError(f"{where}: {what} = {real:g} needs a requantisation shift of {shift} bits, the runtime "
                          f"shifts at most {MAX_LEFT_SHIFT}; re-convert the model with calibrated scales")
    return multiplier, shift


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                     channels: int, where: str) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel, in double precision.

    A per-tensor filter scale is broadcast to every channel, as TFLM does for CONV_2D and DEPTHWISE_CONV_2D.
    """
    if len(filter_scales) not in (1, channels):
        raise TinyqiError(f"{where}: the filter has {len(filter_scales)} scales for {channels} output channels; "
                          "give one per tensor or one per channel")
    scales = filter_scales if len(filter_scales) > 1 else np.repeat(filter_scales, channels)
    pairs = [checked_multiplier(float(np.float32(input_scale)) * float(np.float32(s))
                                / float(np.float32(output_scale)), where,
                                f"input scale {input_scale:g} * filter scale {s:g} (channel {c}) / output scale "
                                f"{output_scale:g}") for c, s in enumerate(scales)]
    return [m for m, _ in pairs], [s for _, s in pairs]


def fully_connected_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                                channels: int, where: str) -> tuple[list[int], list[int]]:
    """TFLM's FULLY_CONNECTED: per-channel scales in double; a per-tensor scale multiplies in float32 first
    (GetQuantizedConvolutionMultipler casts input_scale * filter_scale, a float product, to double)."""
    if len(filter_scales) > 1:
        return conv_multipliers(input_scale, filter_scales, output_scale, channels, where)
    with np.errstate(over="ignore"):  # an overflow to inf is refused by checked_multiplier
        product = float(np.float32(input_scale) * np.float32(filter_scales[0]))
    m, s = checked_multiplier(product / float(np.float32(output_scale)), where,
                              f"input scale {input_scale:g} * filter scale {filter_scales[0]:g} / output scale "
                              f"{output_scale:g}")
    return [m] * channels, [s] * channels


def _quantize_f32(scale: float, zero_point: int, value: float, where: str) -> int:
    with np.errstate(over="ignore"):
        steps = float(np.float32(value) / np.float32(scale))
    if not math.isfinite(steps):
        raise TinyqiError(f"{where}: the activation bound {value:g} is {steps} steps of the output scale {scale:g}; "
                          "re-convert the model with a calibrated output scale")
    return int(zero_point) + tflite_round(steps)


def activation_range_s8(activation: int, scale: float, zero_point: int, where: str) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output."""
    if activation == ACT_NONE:
        return INT8_MIN, INT8_MAX
    if activation == ACT_RELU:
        return max(INT8_MIN, _quantize_f32(scale, zero_point, 0.0, where)), INT8_MAX
    if activation == ACT_RELU6:
        return (max(INT8_MIN, _quantize_f32(scale, zero_point, 0.0, where)),
                min(INT8_MAX, _quantize_f32(scale, zero_point, 6.0, where)))
    if activation == ACT_RELU_N1_TO_1:
        return (max(INT8_MIN, _quantize_f32(scale, zero_point, -1.0, where)),
                min(INT8_MAX, _quantize_f32(scale, zero_point, 1.0, where)))
    raise TinyqiError(f"{where}: fused activation {activation} is not supported by TFLM's int8 kernels; "
                      "use NONE, RELU, RELU6 or RELU_N1_TO_1")


def activation_range_f32(activation: int, where: str) -> tuple[float, float]:
    ranges = {ACT_NONE: (-FLOAT32_MAX, FLOAT32_MAX), ACT_RELU: (0.0, FLOAT32_MAX), ACT_RELU6: (0.0, 6.0),
              ACT_RELU_N1_TO_1: (-1.0, 1.0)}
    if activation not in ranges:
        raise TinyqiError(f"{where}: fused activation {activation} is not supported; "
                          "use NONE, RELU, RELU6 or RELU_N1_TO_1")
    return ranges[activation]


def window_padding(padding: int, in_size: int, filter_size: int, stride: int, dilation: int, out_size: int,
                   where: str) -> int:
    """The "before" padding TFLM uses (ComputePaddingWithOffset), after checking TFLM's output size."""
    effective = (filter_size - 1) * dilation + 1
    if padding == PADDING_SAME:
        expected = (in_size + stride - 1) // stride
    elif padding == PADDING_VALID:
        expected = (in_size + stride - effective) // stride
    else:
        raise TinyqiError(f"{where}: padding type {padding} is unknown; use SAME or VALID")
    if expected != out_size:
        raise TinyqiError(f"{where}: output size {out_size} does not match TFLite's {expected} for this padding; "
                          "re-convert the model")
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2
