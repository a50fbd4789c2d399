/* MEAN int8, bit-exact with TFLM's QuantizedMeanOrSum: the 1/count factor is folded into the multiplier. */
#include "tq_internal.h"

void tq_mean_s8(const tq_mean_s8_params_t *params, const int8_t *input, int8_t *output)
{
    const tq_mean_s8_params_t p = *params;
    for (int32_t o = 0; o < p.outer; ++o) {
        const int8_t *block = input + o * p.reduce * p.inner;
        for (int32_t i = 0; i < p.inner; ++i) {
            int32_t sum = 0;
            for (int32_t r = 0; r < p.reduce; ++r) {
                sum += block[r * p.inner + i];
            }
            const int32_t scaled = tq_requantize(sum - p.input_zero_point_sum, p.multiplier, p.shift);
            *output++ = (int8_t)tq_clamp(scaled + p.output_offset, INT8_MIN, INT8_MAX);
        }
    }
}
