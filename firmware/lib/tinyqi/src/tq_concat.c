/* CONCATENATION of tensors that share dtype and quantisation: a strided byte copy. */
#include <string.h>

#include "tinyqi.h"

void tq_concat(const tq_concat_params_t *params, const void *const *inputs, void *output)
{
    uint8_t *out = (uint8_t *)output;
    for (int32_t o = 0; o < params->outer; ++o) {
        for (int32_t i = 0; i < params->count; ++i) {
            const int32_t chunk = params->chunk_bytes[i];
            memcpy(out, (const uint8_t *)inputs[i] + o * chunk, (size_t)chunk);
            out += chunk;
        }
    }
}
