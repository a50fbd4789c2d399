/*
 * SOFTMAX int8 -> int8 (output scale 1/256, zero point -128), bit-exact with TFLM's reference: exp() and the
 * reciprocal of the sum are gemmlowp's fixed-point routines. A value with n integer bits is an int32 holding
 * value * 2^(31 - n) ("Qn"); products are tq_saturating_rounding_doubling_high_mul, as in gemmlowp.
 */
#include "tq_internal.h"

#define SCALED_DIFF_INTEGER_BITS 5  /* exp() input: Q5.26 */
#define ACCUMULATION_INTEGER_BITS 12 /* sum of exps: Q12.19 */
/* Both passes need exp(diff) of every class; the first classes' values are kept (64 bytes of stack) rather than
 * computed twice, which is most of the cost for a classifier's few classes. */
#define SOFTMAX_KEPT_EXPS 16

static int32_t mul(int32_t a, int32_t b)
{
    return tq_saturating_rounding_doubling_high_mul(a, b);
}

/* x * 2^exponent for exponent > 0, saturating (gemmlowp SaturatingRoundingMultiplyByPOT). */
static int32_t saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = mul(x, x);
    const int32_t x3 = mul(x2, x);
    const int32_t x4 = mul(x2, x2);
    const int32_t x4_over_4 = tq_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tq_rounding_divide_by_pot(mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + mul(constant_term, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result in Q0.31. */
static int32_t exp_on_negative_values(int32_t a)
{
    enum { FRACTIONAL_BITS = 31 - SCALED_DIFF_INTEGER_BITS };
    static const int32_t barrel_multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242,        /* exp(-16) */
    };
    const int32_t one_quarter = 1 << (FRACTIONAL_BITS - 2);
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_shift_left(a_mod_quarter_minus_one_quarter, SCALED_DIFF_INTEGER_BITS));
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    for (int32_t k = 0; k < 7; ++k) { /* bits for 2^-2 .. 2^4 of -a */
        if (remainder & (1 << (FRACTIONAL_BITS - 2 + k))) {
            result = mul(result, barrel_multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: Newton-Raphson division, three iterations. */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2); /* Q0 */
    const int32_t constant_48_over_17 = 1515870810;                           /* Q2 */
    const int32_t constant_neg_32_over_17 = -1010580540;                      /* Q2 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = constant_48_over_17 + mul(half_denominator, constant_neg_32_over_17);
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t one_minus_half_denominator_times_x = one_q2 - mul(half_denominator, x);
        x = x + saturating_shift_left(mul(x, one_minus_half_denominator_times_x), 2);
    }
    return saturating_shift_left(x, 1); /* x / 2, from Q1 to Q0 */
}

static int32_t count_leading_zeros(uint32_t x)
{
#if defined(__GNUC__)
    return x ? __builtin_clz(x) : 32;
#else
    int32_t n = 0;
    while (n < 32 && !(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

static int32_t scaled_exp(const tq_softmax_s8_params_t *p, int32_t diff)
{
    const int32_t rescaled =
        tq_saturating_rounding_doubling_high_mul((int32_t)((uint32_t)diff << p->input_left_shift),
                                                 p->input_multiplier);
    return exp_on_negative_values(rescaled);
}

void tq_softmax_s8(const tq_softmax_s8_params_t *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    for (int32_t row = 0; row < params->outer; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t max = INT8_MIN;
        for (int32_t c = 0; c < depth; ++c) {
            max = in[c] > max ? in[c] : max;
        }
        int32_t sum_of_exps = 0; /* Q12 */
        int32_t kept_exps[SOFTMAX_KEPT_EXPS];
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t e = scaled_exp(params, diff);
                if (c < SOFTMAX_KEPT_EXPS) {
                    kept_exps[c] = e;
                }
                sum_of_exps += tq_rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS);
            }
        }
        /* 1 / sum_of_exps as a Q0 mantissa and a power of two. */
        const int32_t headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        const int32_t num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        const int32_t shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        const int32_t exponent = num_bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t e = c < SOFTMAX_KEPT_EXPS ? kept_exps[c] : scaled_exp(params, diff);
                const int32_t unsat = tq_rounding_divide_by_pot(mul(shifted_scale, e), exponent);
                out[c] = (int8_t)tq_clamp(unsat - 128, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
