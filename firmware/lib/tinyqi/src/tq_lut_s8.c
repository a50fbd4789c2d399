/* Table lookup for int8 elementwise functions (TANH, LOGISTIC): one load per element. */
#include "tinyqi.h"

void tq_lut_s8(const tq_lut_s8_params_t *params, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = params->table[(uint8_t)input[i]];
    }
}
