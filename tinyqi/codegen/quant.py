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


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel, in double precision.

    A per-tensor filter scale is broadcast to every channel, as TFLM does for CONV_2D and DEPTHWISE_CONV_2D.
    """
    scales = filter_scales if len(filter_scales) > 1 else np.repeat(filter_scales, channels)
    pairs = [quantize_multiplier(float(np.float32(input_scale)) * float(np.float32(s))
                                 / float(np.float32(output_scale))) for s in scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def fully_connected_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                                channels: int) -> tuple[list[int], list[int]]:
    """TFLM's FULLY_CONNECTED: per-channel scales in double; a per-tensor scale multiplies in float32 first
    (GetQuantizedConvolutionMultipler casts input_scale * filter_scale, a float product, to double)."""
    if len(filter_scales) > 1:
        return conv_multipliers(input_scale, filter_scales, output_scale, channels)
    product = float(np.float32(input_scale) * np.float32(filter_scales[0]))
    m, s = quantize_multiplier(product / float(np.float32(output_scale)))
    return [m] * channels, [s] * channels


def _quantize_f32(scale: float, zero_point: int, value: float) -> int:
    return int(zero_point) + tflite_round(float(np.float32(value) / np.float32(scale)))


def activation_range_s8(activation: int, scale: float, zero_point: int, where: str) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output."""
    if activation == ACT_NONE:
        return INT8_MIN, INT8_MAX
    if activation == ACT_RELU:
        return max(INT8_MIN, _quantize_f32(scale, zero_point, 0.0)), INT8_MAX
    if activation == ACT_RELU6:
        return (max(INT8_MIN, _quantize_f32(scale, zero_point, 0.0)),
                min(INT8_MAX, _quantize_f32(scale, zero_point, 6.0)))
    if activation == ACT_RELU_N1_TO_1:
        return (max(INT8_MIN, _quantize_f32(scale, zero_point, -1.0)),
                min(INT8_MAX, _quantize_f32(scale, zero_point, 1.0)))
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
