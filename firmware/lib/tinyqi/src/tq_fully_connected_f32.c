/* FULLY_CONNECTED float32 (FPU baseline). */
#include "tq_internal.h"

void tq_fully_connected_f32(const tq_fully_connected_f32_params_t *params, const float *input,
                            const float *filter, const float *bias, float *output)
{
    const int32_t depth = params->accum_depth;
    for (int32_t b = 0; b < params->batches; ++b) {
        const float *x = input + b * depth;
        for (int32_t oc = 0; oc < params->output_depth; ++oc) {
            const float *row = filter + oc * depth;
            float acc = 0.0f;
            for (int32_t d = 0; d < depth; ++d) {
                acc += x[d] * row[d];
            }
            acc += bias[oc];
            *output++ = tq_clamp_f32(acc, params->act);
        }
    }
}
