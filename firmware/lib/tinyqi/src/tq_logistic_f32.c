/* LOGISTIC float32: 1 / (1 + exp(-x)). */
#include <math.h>

#include "tinyqi.h"

void tq_logistic_f32(const tq_elementwise_f32_params_t *params, const float *input, float *output)
{
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = 1.0f / (1.0f + expf(-input[i]));
    }
}
