/* MEAN int8, bit-exact with TFLM's QuantizedMeanOrSum: the 1/count factor is folded into the multiplier.
 * With the Cortex-M DSP extension four neighbouring channels are summed at once (SXTAB16 adds two sign-extended
 * bytes to two halfword lanes per instruction); integer sums are exact, so the order does not matter. */
#include "tq_internal.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>

/* Rows a halfword lane can take before it may overflow: 256 * -128 = INT16_MIN, 256 * 127 < INT16_MAX. */
#define LANE_ROWS 256

/* Lanes += bytes 1 and 3 of `word`, sign-extended (SXTAB16's free rotation; GCC does not fold a separate ROR). */
static inline uint32_t sxtab16_ror8(uint32_t lanes, uint32_t word)
{
    uint32_t result;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(result) : "r"(lanes), "r"(word));
    return result;
}

/* sums[k] += x[r * stride + k] for k < 4 and r < rows. */
static void sum4_s8(const int8_t *x, int32_t stride, int32_t rows, int32_t sums[4])
{
    for (int32_t start = 0; start < rows; start += LANE_ROWS) {
        const int32_t end = rows - start < LANE_ROWS ? rows : start + LANE_ROWS;
        uint32_t even = 0, odd = 0; /* channels 0 and 2, 1 and 3 */
        for (int32_t r = start; r < end; ++r) {
            uint32_t word;
            memcpy(&word, x + r * stride, 4); /* unaligned-safe; one LDR on Cortex-M4 */
            even = __sxtab16(even, word);
            odd = sxtab16_ror8(odd, word);
        }
        sums[0] += (int16_t)even;
        sums[1] += (int16_t)odd;
        sums[2] += (int16_t)(even >> 16);
        sums[3] += (int16_t)(odd >> 16);
    }
}
#define MEAN_USE_DSP 1
#else
#define MEAN_USE_DSP 0
#endif

static int8_t mean_output(const tq_mean_s8_params_t *p, int32_t sum)
{
    const int32_t scaled = tq_requantize(sum - p->input_zero_point_sum, p->multiplier, p->shift);
    return tq_saturate_s8(scaled + p->output_offset);
}

void tq_mean_s8(const tq_mean_s8_params_t *params, const int8_t *input, int8_t *output)
{
    const tq_mean_s8_params_t p = *params;
    for (int32_t o = 0; o < p.outer; ++o) {
        const int8_t *block = input + o * p.reduce * p.inner;
        int32_t i = 0;
#if MEAN_USE_DSP
        for (; i + 4 <= p.inner; i += 4) {
            int32_t sums[4] = {0, 0, 0, 0};
            sum4_s8(block + i, p.inner, p.reduce, sums);
            for (int32_t k = 0; k < 4; ++k) {
                *output++ = mean_output(&p, sums[k]);
            }
        }
#endif
        for (; i < p.inner; ++i) {
            int32_t sum = 0;
            for (int32_t r = 0; r < p.reduce; ++r) {
                sum += block[r * p.inner + i];
            }
            *output++ = mean_output(&p, sum);
        }
    }
}
