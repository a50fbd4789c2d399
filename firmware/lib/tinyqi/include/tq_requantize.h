/*
 * tinyqi runtime: the one place of TFLite Micro's integer rounding rule.
 *
 * TFLM builds its reference kernels without TFLITE_SINGLE_ROUNDING, so every int8 kernel rescales its int32
 * accumulator with gemmlowp's "double rounding" MultiplyByQuantizedMultiplier:
 *   1. a left shift for multipliers >= 1,
 *   2. SaturatingRoundingDoublingHighMul: (x * m) / 2^31, rounded to nearest, ties away from zero,
 *   3. RoundingDivideByPOT: a right shift rounded to nearest, ties away from zero.
 * Every kernel of this runtime calls tq_requantize() or its per-channel form tq_requantize_split(); nothing else
 * rounds. The multiplier and shift come from tinyqi.codegen (Python port of TFLM's QuantizeMultiplier), so the
 * device does no floating point at all.
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

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). The threshold is half the divisor,
 * one more for a negative x: (mask >> 1) - (x >> 31), without a branch. */
static inline int32_t tq_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) - (x >> 31);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* A multiplier's shift split once into its two parts, so a kernel that rescales a whole output channel with one
 * multiplier decides the direction per channel rather than per value. */
typedef struct {
    int32_t multiplier;
    int32_t left_shift;  /* applied to x before the multiply (shift > 0) */
    int32_t right_shift; /* rounding shift after it (shift <= 0) */
} tq_requant_t;

static inline tq_requant_t tq_requant_split(int32_t multiplier, int32_t shift)
{
    const tq_requant_t r = {multiplier, shift > 0 ? shift : 0, shift > 0 ? 0 : -shift};
    return r;
}

/* x * multiplier * 2^(shift - 31): TFLM's MultiplyByQuantizedMultiplier, both of its roundings in one step.
 * With P = x * m + 2^30, the reference computes high = floor(P / 2^31) (tq_saturating_rounding_doubling_high_mul:
 * the multiplier is never negative, codegen's quantize_multiplier gives 0 or [2^30, 2^31), so its saturation case
 * cannot occur) and then tq_rounding_divide_by_pot(high, s) = floor((high + 2^(s-1) - [high < 0]) / 2^s) for s >= 1.
 * A floor of a floor by integers is one floor: the result is floor((P + (2^(s-1) - [high < 0]) * 2^31) / 2^(31+s)),
 * one 64-bit add and, as 31 + s >= 32, an arithmetic shift of the high word by s - 1. [high < 0] may be replaced by
 * [x < 0]: they differ only when x < 0 <= P < 2^31, where high = 0 and both forms give 0. No overflow: |x * m| < 2^62
 * and the rounding constant is at most 2^30 + 2^61. tests/test_requantize.py checks this against the two-step reference. */
static inline int32_t tq_requantize_split(int32_t x, tq_requant_t r)
{
    /* The reference multiplies by (1 << left_shift) in int32; wrap the same way without signed overflow. */
    const int32_t shifted = (int32_t)((uint32_t)x << r.left_shift);
    const int64_t product = (int64_t)shifted * (int64_t)r.multiplier;
    const int64_t half = (int64_t)1 << 30;
    if (r.right_shift == 0) {
        return (int32_t)((product + half) >> 31);
    }
    /* The rounding constant (2^(s-1) - [x < 0]) * 2^31 + 2^30 as the part that depends on s alone (a kernel's loop
     * hoists it; its two words need no carry) less [x < 0] * 2^31: per value one subtraction with borrow before
     * the multiply-accumulate. Unsigned, so no sign is carried into the high word (the sum stays under 2^62). */
    const uint64_t rounding = ((uint64_t)((uint32_t)1 << (r.right_shift - 1)) << 31) + (uint64_t)half;
    const uint64_t negative = (uint64_t)((uint32_t)shifted >> 31) << 31;
    const int64_t sum = product + (int64_t)(rounding - negative);
    return (int32_t)(sum >> 32) >> (r.right_shift - 1);
}

static inline int32_t tq_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    return tq_requantize_split(x, tq_requant_split(multiplier, shift));
}

/* Two independent selects (lo <= hi), which compile to conditional moves rather than a branch. */
static inline int32_t tq_clamp(int32_t x, int32_t lo, int32_t hi)
{
    const int32_t at_least_lo = x < lo ? lo : x;
    return at_least_lo > hi ? hi : at_least_lo;
}

#endif /* TQ_REQUANTIZE_H */
