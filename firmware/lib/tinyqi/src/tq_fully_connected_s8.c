/* FULLY_CONNECTED int8, bit-exact with TFLM's reference FullyConnected / FullyConnectedPerChannel. */
#include "tq_internal.h"

void tq_fully_connected_s8(const tq_fully_connected_s8_params_t *params, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output)
{
    const tq_output_stage_t q = {params->quant.multiplier, params->quant.shift, params->output_offset,
                                 params->act.min, params->act.max};
    const int32_t depth = params->accum_depth, out_c = params->output_depth, batches = params->batches;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        int32_t oc = 0;
        for (; oc + 2 <= out_c; oc += 2) {
            int32_t acc0 = bias[oc], acc1 = bias[oc + 1];
            tq_dot2_s8(x, filter + oc * depth, filter + (oc + 1) * depth, depth, &acc0, &acc1);
            output[oc] = tq_output_s8(&q, oc, acc0);
            output[oc + 1] = tq_output_s8(&q, oc + 1, acc1);
        }
        if (oc < out_c) {
            output[oc] = tq_output_s8(&q, oc, bias[oc] + tq_dot_s8(x, filter + oc * depth, depth));
        }
        output += out_c;
    }
}
