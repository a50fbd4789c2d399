/*
 * tinyqi runtime: the one place of TFLite Micro's integer rounding rule.
 *
 * TFLM builds its reference kernels without TFLITE_SINGLE_ROUNDING, so every int8 kernel rescales its int32
 * accumulator with gemmlowp's "double rounding" MultiplyByQuantizedMultiplier:
 *   1. a left shift for multipliers >= 1,
 *   2. SaturatingRoundingDoublingHighMul: (x * m) / 2^31, rounded to nearest, ties away from zero,
 *   3. RoundingDivideByPOT: a right shift rounded to nearest, ties away from zero.
 * Every kernel of this runtime calls tq_requantize(); nothing else rounds. The multiplier and shift come from
 * tinyqi.codegen (Python port of TFLM's QuantizeMultiplier), so the device does no floating point at all.
 */
#ifndef TQ_REQUANTIZE_H
#define TQ_REQUANTIZE_H

#include <stdint.h>

/* gemmlowp's SaturatingRoundingDoublingHighMul: (a * b + nudge) / 2^31 with C's truncating division, nudge = 2^30
 * for a * b >= 0 and 1 - 2^30 otherwise; INT32_MIN * INT32_MIN saturates to INT32_MAX.
 * For a * b < 0 the truncation is a ceiling, and ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31); for
 * a * b >= 0 it is a floor already. So both cases are one arithmetic shift (SMULL, ADDS/ADC and two shifts on a
 * Cortex-M4): ties round towards +infinity, exactly like the reference. */
static inline int32_t tq_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
static inline int32_t tq_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31): TFLM's MultiplyByQuantizedMultiplier. The multiplier is never negative
 * (codegen's quantize_multiplier gives 0 or [2^30, 2^31)), so the INT32_MIN * INT32_MIN saturation of
 * tq_saturating_rounding_doubling_high_mul cannot occur and its test is left out of this hot path. */
static inline int32_t tq_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    /* The reference multiplies by (1 << left_shift) in int32; wrap the same way without signed overflow. */
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    const int32_t high = (int32_t)(((int64_t)shifted * (int64_t)multiplier + ((int64_t)1 << 30)) >> 31);
    return tq_rounding_divide_by_pot(high, right_shift);
}

static inline int32_t tq_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* TQ_REQUANTIZE_H */
