/* FULLY_CONNECTED int8 with a CSR filter: each output walks only its row's non-zero weights. */
#include "tq_internal.h"

void tq_fully_connected_csr_s8(const tq_fully_connected_s8_params_t *params, const int8_t *input,
                               const tq_csr_t *filter, const int32_t *bias, int8_t *output)
{
    const tq_csr_t table = *filter;
    const tq_output_stage_t q = {params->quant.multiplier, params->quant.shift, params->output_offset,
                                 params->act.min, params->act.max};
    const int32_t depth = params->accum_depth, out_c = params->output_depth, batches = params->batches;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        for (int32_t oc = 0; oc < out_c; ++oc) {
            *output++ = tq_output_s8(&q, oc, bias[oc] + tq_csr_row_dot_s8(&table, oc, x));
        }
    }
}
