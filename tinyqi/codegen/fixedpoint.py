"""gemmlowp's fixed-point arithmetic as TFLM's int8 TANH, LOGISTIC and SOFTMAX use it, on Python integers.

Used at code-generation time only: TANH and LOGISTIC become 256-entry tables (one per op, for that op's input
quantisation), and SOFTMAX gets its integer parameters. tests/test_kernels_lut.py checks the tables against TFLM
itself on all 256 inputs. The C runtime implements the same primitives for SOFTMAX (tq_softmax_s8.c) and
tq_requantize() (tq_requantize.h); names match.

A value with n integer bits is an int32 holding value * 2^(31 - n) ("Qn").
"""

from __future__ import annotations

import math

import numpy as np

from tinyqi.codegen.quant import quantize_multiplier, tflite_round
from tinyqi.errors import TinyqiError

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _wrap_int32(x: int) -> int:
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def _truncating_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _truncating_div(ab + nudge, 1 << 31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def requantize(x: int, multiplier: int, shift: int) -> int:
    """TFLM MultiplyByQuantizedMultiplier (double rounding), the same as tq_requantize()."""
    shifted = _wrap_int32(x * (1 << max(shift, 0)))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), max(-shift, 0))


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    if exponent > 0:
        threshold = (1 << (31 - exponent)) - 1
        if x > threshold:
            return INT32_MAX
        if x < -threshold:
            return INT32_MIN
        return x << exponent
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    return x


def rescale(x: int, src_integer_bits: int, dst_integer_bits: int) -> int:
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a: int, b: int) -> int:
    total = a + b
    return _truncating_div(total + (1 if total >= 0 else -1), 2)


_mul = saturating_rounding_doubling_high_mul
_ONE_Q0 = INT32_MAX
_BARREL = {-2: 1672461947, -1: 1302514674, 0: 790015084, 1: 290630308, 2: 39332535, 3: 720401, 4: 242}


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    constant_term, constant_1_over_3 = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + _mul(constant_term, x + poly)


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a <= 0 in Q<integer_bits>; result in Q0."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _BARREL.items():
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = _mul(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return _ONE_Q0 if a == 0 else result


def _newton_reciprocal_q2(half_denominator: int) -> int:
    x = 1515870810 + _mul(half_denominator, -1010580540)  # 48/17 - 32/17 * d, Q2
    for _ in range(3):
        one_minus_dx = (1 << 29) - _mul(half_denominator, x)
        x = x + rescale(_mul(x, one_minus_dx), 4, 2)
    return x


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return rescale(_newton_reciprocal_q2(rounding_half_sum(a, _ONE_Q0)), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return rescale(_newton_reciprocal_q2(rounding_half_sum(a, _ONE_Q0)) - (1 << 29), 2, 0)


def tanh(a: int, integer_bits: int) -> int:
    if a == 0:
        return 0
    negative_magnitude = a if a < 0 else -a
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(negative_magnitude, integer_bits + 1))
    return -t if a < 0 else t


def logistic(a: int, integer_bits: int) -> int:
    if a == 0:
        return 1 << 30
    magnitude = a if a > 0 else -a
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-magnitude, integer_bits))
    return positive if a > 0 else _ONE_Q0 - positive


# --- kernel preparation (TFLM tanh.cc, logistic_common.cc, softmax_common.cc, quantization_util.cc) -----------

_LUT_INPUT_INTEGER_BITS = 4


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
                    / (1 << input_left_shift))
    return math.floor(max_rescaled)


def _lut_input_params(input_scale: float, where: str) -> tuple[int, int, int]:
    real = float(np.float32(input_scale)) * float(1 << (31 - _LUT_INPUT_INTEGER_BITS))
    mantissa, left_shift = math.frexp(real)
    # TFLM's CalculateInputRadius shifts a 64-bit 1 left by this: a negative or 64-bit shift has no defined result.
    if not 0 <= left_shift < 63:
        raise TinyqiError(f"{where}: input scale {input_scale:g} gives an input shift of {left_shift} bits, outside "
                          "the 0..62 TFLM's int8 TANH/LOGISTIC can compute; re-convert the model")
    multiplier = _wrap_int32(tflite_round(mantissa * (1 << 31)))  # the C++ static_cast wraps 2^31 the same way
    return multiplier, left_shift, calculate_input_radius(_LUT_INPUT_INTEGER_BITS, left_shift)


def _lut(input_scale: float, input_zero_point: int, function, output_fraction_bits: int,
         output_offset: int, where: str) -> np.ndarray:
    multiplier, left_shift, radius = _lut_input_params(input_scale, where)
    table = np.zeros(256, dtype=np.int8)
    for value in range(-128, 128):
        x = value - int(input_zero_point)
        if x <= -radius:
            out = -128
        elif x >= radius:
            out = 127
        else:
            q4 = requantize(x, multiplier, left_shift)
            raw = function(q4, _LUT_INPUT_INTEGER_BITS)
            out = min(max(rounding_divide_by_pot(raw, 31 - output_fraction_bits) + output_offset, -128), 127)
        table[value & 0xFF] = out
    return table


def tanh_table(input_scale: float, input_zero_point: int, where: str = "TANH") -> np.ndarray:
    """TFLM's int8 TANH (output scale 1/128, zero point 0) for every input, indexed by (uint8_t)input."""
    return _lut(input_scale, input_zero_point, tanh, 7, 0, where)


def logistic_table(input_scale: float, input_zero_point: int, where: str = "LOGISTIC") -> np.ndarray:
    """TFLM's int8 LOGISTIC (output scale 1/256, zero point -128) for every input, indexed by (uint8_t)input."""
    return _lut(input_scale, input_zero_point, logistic, 8, -128, where)


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float, where: str = "SOFTMAX") -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling (double rounding) -> (input_multiplier, input_left_shift, diff_min)."""
    real = min(float(np.float32(beta)) * float(np.float32(input_scale))
               * float(1 << (31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    # TFLM's QuantizeMultiplierGreaterThanOne: the kernel shifts the input differences left by 0..31 bits.
    if not (math.isfinite(real) and real >= 0.5):
        raise TinyqiError(f"{where}: beta {beta:g} * input scale {input_scale:g} must be a finite number of at least "
                          "2^-27 for TFLM's int8 SOFTMAX; re-convert the model")
    multiplier, left_shift = quantize_multiplier(real)
    diff_min = -calculate_input_radius(SOFTMAX_SCALED_DIFF_INTEGER_BITS, left_shift)
    return multiplier, left_shift, diff_min
