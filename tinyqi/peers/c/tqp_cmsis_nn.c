/* tinyqi peer benchmark: tinyqi layer calls -> CMSIS-NN v4.0.0 kernels (see tqp_cmsis_nn.h).
 *
 * CMSIS-NN takes the layer's own int32 bias and input offset (tinyqi folds the offset into the bias instead), and
 * the same per-channel multipliers and shifts as TFLM. A status other than success means the parameters break a
 * CMSIS-NN precondition: the core traps (UDF), so the emulator stops at this function instead of printing
 * outputs computed from garbage. The descriptors are const; CMSIS-NN's quantisation structs take non-const
 * pointers, which it only reads. */
#include "tqp_cmsis_nn.h"

#include "arm_nnfunctions.h"

static void tqp_require_success(arm_cmsis_nn_status status)
{
    if (status != ARM_CMSIS_NN_SUCCESS) {
        __builtin_trap();
    }
}

void tqp_conv2d_s8(const tqp_conv2d_t *layer, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   int8_t *output)
{
    tqp_require_success(arm_convolve_wrapper_s8(&layer->ctx, &layer->conv, &layer->quant, &layer->input, input,
                                                &layer->filter, filter, &layer->bias, bias, &layer->output, output));
}

void tqp_depthwise_conv2d_s8(const tqp_depthwise_conv2d_t *layer, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, int8_t *output)
{
    tqp_require_success(arm_depthwise_conv_wrapper_s8(&layer->ctx, &layer->conv, &layer->quant, &layer->input,
                                                      input, &layer->filter, filter, &layer->bias, bias,
                                                      &layer->output, output));
}

void tqp_fully_connected_s8(const tqp_fully_connected_t *layer, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output)
{
    tqp_require_success(arm_fully_connected_s8(&layer->ctx, &layer->fc, &layer->quant, &layer->input, input,
                                               &layer->filter, filter, &layer->bias, bias, &layer->output, output));
}

void tqp_max_pool2d_s8(const tqp_pool_t *layer, const int8_t *input, int8_t *output)
{
    tqp_require_success(arm_max_pool_s8(&layer->ctx, &layer->pool, &layer->input, input, &layer->filter,
                                        &layer->output, output));
}

void tqp_avg_pool2d_s8(const tqp_pool_t *layer, const int8_t *input, int8_t *output)
{
    tqp_require_success(arm_avgpool_s8(&layer->ctx, &layer->pool, &layer->input, input, &layer->filter,
                                       &layer->output, output));
}
