/* TANH float32. */
#include <math.h>

#include "tinyqi.h"

void tq_tanh_f32(const tq_elementwise_f32_params_t *params, const float *input, float *output)
{
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = tanhf(input[i]);
    }
}
