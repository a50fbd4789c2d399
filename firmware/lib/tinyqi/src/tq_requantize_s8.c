/* QUANTIZE int8 -> int8, bit-exact with TFLM's reference Requantize. */
#include "tinyqi.h"

void tq_requantize_s8(const tq_requantize_s8_params_t *params, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < params->size; ++i) {
        const int32_t v = tq_requantize(input[i] + params->input_offset, params->multiplier, params->shift);
        output[i] = (int8_t)tq_clamp(v + params->output_offset, INT8_MIN, INT8_MAX);
    }
}
