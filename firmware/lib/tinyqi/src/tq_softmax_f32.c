/* SOFTMAX float32 over the last axis: exp((x - max) * beta) / sum, as TFLM's reference. */
#include <float.h>

#include "tq_internal.h"

void tq_softmax_f32(const tq_softmax_f32_params_t *params, const float *input, float *output)
{
    const int32_t depth = params->depth;
    for (int32_t row = 0; row < params->outer; ++row) {
        const float *in = input + row * depth;
        float *out = output + row * depth;
        float max = -FLT_MAX;
        for (int32_t c = 0; c < depth; ++c) {
            max = in[c] > max ? in[c] : max;
        }
        float sum = 0.0f;
        for (int32_t c = 0; c < depth; ++c) {
            out[c] = tq_exp_f32((in[c] - max) * params->beta);
            sum += out[c];
        }
        for (int32_t c = 0; c < depth; ++c) {
            out[c] = out[c] / sum;
        }
    }
}
