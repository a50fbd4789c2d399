/* MEAN float32 over a contiguous block of axes (input viewed as [outer][reduce][inner]). */
#include "tinyqi.h"

void tq_mean_f32(const tq_mean_f32_params_t *params, const float *input, float *output)
{
    const int32_t reduce = params->reduce, inner = params->inner;
    for (int32_t o = 0; o < params->outer; ++o) {
        const float *block = input + o * reduce * inner;
        for (int32_t i = 0; i < inner; ++i) {
            float sum = 0.0f;
            for (int32_t r = 0; r < reduce; ++r) {
                sum += block[r * inner + i];
            }
            *output++ = sum / (float)reduce;
        }
    }
}
