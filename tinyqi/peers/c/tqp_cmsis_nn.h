/* tinyqi peer benchmark: the layer descriptors the generated peer model passes to CMSIS-NN v4.0.0.
 *
 * tinyqi.peers.cmsis_nn generates a model_data.c that keeps tinyqi's C API, arena plan and golden harness but
 * runs CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D and AVERAGE_POOL_2D through these wrappers,
 * which call the CMSIS-NN kernels with TFLM's quantisation parameters (as TFLM's CMSIS-NN port does). Every other
 * op runs tinyqi's own kernel. The CMSIS-NN sources come from the installed `bakenn` package at build time. */
#ifndef TQP_CMSIS_NN_H
#define TQP_CMSIS_NN_H

#include <stdint.h>

#include "arm_nn_types.h"

/* One descriptor per layer, all constant. ctx.buf points into the planned arena; ctx.size is the scratch size
 * CMSIS-NN's *_get_buffer_size() returns for this layer on a DSP (Cortex-M4) build. */
typedef struct {
    cmsis_nn_context ctx;
    cmsis_nn_conv_params conv;
    cmsis_nn_per_channel_quant_params quant;
    cmsis_nn_dims input, filter, bias, output;
} tqp_conv2d_t;

typedef struct {
    cmsis_nn_context ctx;
    cmsis_nn_dw_conv_params conv;
    cmsis_nn_per_channel_quant_params quant;
    cmsis_nn_dims input, filter, bias, output;
} tqp_depthwise_conv2d_t;

typedef struct {
    cmsis_nn_context ctx;
    cmsis_nn_fc_params fc;
    cmsis_nn_per_tensor_quant_params quant;
    cmsis_nn_dims input, filter, bias, output;
} tqp_fully_connected_t;

typedef struct {
    cmsis_nn_context ctx;
    cmsis_nn_pool_params pool;
    cmsis_nn_dims input, filter, output;
} tqp_pool_t;

void tqp_conv2d_s8(const tqp_conv2d_t *layer, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   int8_t *output);
void tqp_depthwise_conv2d_s8(const tqp_depthwise_conv2d_t *layer, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, int8_t *output);
void tqp_fully_connected_s8(const tqp_fully_connected_t *layer, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output);
void tqp_max_pool2d_s8(const tqp_pool_t *layer, const int8_t *input, int8_t *output);
void tqp_avg_pool2d_s8(const tqp_pool_t *layer, const int8_t *input, int8_t *output);

#endif /* TQP_CMSIS_NN_H */
