/*
 * tinyqi runtime: int8 kernels bit-exact with TensorFlow Lite Micro's reference kernels, CSR sparse variants of
 * CONV_2D and FULLY_CONNECTED that only touch non-zero weights, and float32 kernels for the FPU baseline.
 *
 * Conventions (docs/runtime.md):
 *   - one operator per source file, named tq_<op>_<dtype>(); dtype-agnostic byte movers have no suffix;
 *   - arguments in one order: scratch (only where the kernel needs one), params, input(s), filter, bias, output;
 *   - tensors are NHWC, batch first; 1-D signals arrive as H = 1;
 *   - no malloc, no float in int8 kernels: multipliers, shifts, folded biases and lookup tables are computed
 *     by tinyqi.codegen and live in const params structs;
 *   - kernels that need scratch memory have a tq_<op>_<dtype>_get_buffer_size() sibling.
 */
#ifndef TINYQI_H
#define TINYQI_H

#include <stdint.h>

#include "tq_requantize.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_RUNTIME_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------------------------- */
/* Shared parameter blocks                                                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    int32_t n, h, w, c;
} tq_shape_t;

/* Output clamp of the fused activation (NONE, RELU, RELU6, RELU_N1_TO_1), in output units. */
typedef struct {
    int32_t min, max;
} tq_act_s8_t;

typedef struct {
    float min, max;
} tq_act_f32_t;

/* Per-output-channel requantisation: real scale = multiplier * 2^(shift - 31). */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
} tq_channel_quant_t;

/* Sliding-window geometry shared by convolutions and pools. pad_top/pad_left are the "before" paddings of
 * TFLite's SAME padding (0 for VALID); windows never read past the padded extent. */
typedef struct {
    tq_shape_t input;
    tq_shape_t output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
} tq_window_t;

/* A CSR table (tinyqi/csr.py): rows = output channels; row r's non-zeros are values[row_ptr[r]:row_ptr[r+1]].
 * Index arrays use the smallest unsigned type that fits (1, 2 or 4 bytes). For convolutions the column index is
 * the non-zero's offset inside the (padded) input window, so the kernel reads input[window_start + index]. */
typedef struct {
    const void *row_ptr;
    const void *col_idx;
    const int8_t *values;
    uint8_t row_ptr_bytes;
    uint8_t col_idx_bytes;
} tq_csr_t;

/* Elementwise binary ops with TFLite broadcasting, flattened to 4-D: output index (i0..i3) reads input1 at
 * sum(i * stride1) and input2 at sum(i * stride2); a broadcast dimension has stride 0. */
typedef struct {
    int32_t size;        /* output elements */
    int32_t elementwise; /* 1: no broadcasting, both inputs have `size` elements in output order */
    int32_t dims[4];
    int32_t stride1[4];
    int32_t stride2[4];
} tq_broadcast_t;

/* ---------------------------------------------------------------------------------------------------------- */
/* int8 kernels (bit-exact with TFLM)                                                                          */
/* ---------------------------------------------------------------------------------------------------------- */

/* CONV_2D. filter [out_c][filter_h][filter_w][in_c]; bias is the effective bias b + input_offset * sum(w)
 * (codegen folds the input zero point in, padding reads the zero point so it contributes nothing).
 * pool_w = 2 fuses the MAX_POOL_2D 1x2 / stride 2 that follows: each output pixel is the larger of two
 * neighbouring convolution pixels, taken on the accumulators before requantisation (exact: codegen fuses only
 * layers whose requantisation is monotonic, multipliers below 1), so half the outputs are requantised and the
 * pool never runs. window.output.w then counts the convolution pixels computed, twice the pooled width. */
typedef struct {
    tq_window_t window;
    int32_t input_offset; /* -input zero point */
    int32_t output_offset;
    tq_act_s8_t act;
    tq_channel_quant_t quant;
    int32_t pool_w; /* 0: no fused pool; 2: fused 1x2 max-pool, stride 2 */
} tq_conv2d_s8_params_t;

int32_t tq_conv2d_s8_get_buffer_size(const tq_conv2d_s8_params_t *params);
void tq_conv2d_s8(int8_t *scratch, const tq_conv2d_s8_params_t *params, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output);

/* CONV_2D with a CSR filter: cost proportional to the non-zero weights. Column indices are window offsets,
 * 1 or 2 bytes wide. */
int32_t tq_conv2d_csr_s8_get_buffer_size(const tq_conv2d_s8_params_t *params);
void tq_conv2d_csr_s8(int8_t *scratch, const tq_conv2d_s8_params_t *params, const int8_t *input,
                      const tq_csr_t *filter, const int32_t *bias, int8_t *output);

/* DEPTHWISE_CONV_2D. filter [1][filter_h][filter_w][out_c], out_c = in_c * depth_multiplier; folded bias. */
typedef struct {
    tq_window_t window;
    int32_t depth_multiplier;
    int32_t input_offset;
    int32_t output_offset;
    tq_act_s8_t act;
    tq_channel_quant_t quant;
} tq_depthwise_conv2d_s8_params_t;

int32_t tq_depthwise_conv2d_s8_get_buffer_size(const tq_depthwise_conv2d_s8_params_t *params);
void tq_depthwise_conv2d_s8(int8_t *scratch, const tq_depthwise_conv2d_s8_params_t *params, const int8_t *input,
                            const int8_t *filter, const int32_t *bias, int8_t *output);

/* FULLY_CONNECTED. filter [out_c][accum_depth]; folded bias b + input_offset * sum(row). */
typedef struct {
    int32_t batches;
    int32_t accum_depth;
    int32_t output_depth;
    int32_t output_offset;
    tq_act_s8_t act;
    tq_channel_quant_t quant;
} tq_fully_connected_s8_params_t;

void tq_fully_connected_s8(const tq_fully_connected_s8_params_t *params, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output);
void tq_fully_connected_csr_s8(const tq_fully_connected_s8_params_t *params, const int8_t *input,
                               const tq_csr_t *filter, const int32_t *bias, int8_t *output);

/* MAX_POOL_2D / AVERAGE_POOL_2D (input and output share scale and zero point, as TFLite requires). */
typedef struct {
    tq_window_t window;
    tq_act_s8_t act;
} tq_pool_s8_params_t;

void tq_max_pool2d_s8(const tq_pool_s8_params_t *params, const int8_t *input, int8_t *output);
void tq_avg_pool2d_s8(const tq_pool_s8_params_t *params, const int8_t *input, int8_t *output);

/* MEAN over a contiguous block of axes: input viewed as [outer][reduce][inner]. */
typedef struct {
    int32_t outer, reduce, inner;
    int32_t input_zero_point_sum; /* input zero point * reduce */
    int32_t multiplier, shift;    /* input_scale / output_scale / reduce, as TFLM folds it */
    int32_t output_offset;
} tq_mean_s8_params_t;

void tq_mean_s8(const tq_mean_s8_params_t *params, const int8_t *input, int8_t *output);

/* ADD: both inputs rescaled to a common scale with 20 bits of headroom, summed, rescaled to the output. */
typedef struct {
    tq_broadcast_t shape;
    int32_t input1_offset, input2_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    tq_act_s8_t act;
} tq_add_s8_params_t;

void tq_add_s8(const tq_add_s8_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/* MUL */
typedef struct {
    tq_broadcast_t shape;
    int32_t input1_offset, input2_offset;
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    tq_act_s8_t act;
} tq_mul_s8_params_t;

void tq_mul_s8(const tq_mul_s8_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/* TANH, LOGISTIC: a 256-entry table, indexed by (uint8_t)input, that codegen computes with TFLM's own
 * fixed-point algorithm for this op's input quantisation (checked against TFLM on all 256 inputs). */
typedef struct {
    int32_t size;
    const int8_t *table;
} tq_lut_s8_params_t;

void tq_lut_s8(const tq_lut_s8_params_t *params, const int8_t *input, int8_t *output);

/* SOFTMAX over the last axis: gemmlowp fixed-point exp and reciprocal, as TFLM's reference. */
typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} tq_softmax_s8_params_t;

void tq_softmax_s8(const tq_softmax_s8_params_t *params, const int8_t *input, int8_t *output);

/* QUANTIZE int8 -> int8 (a change of scale and zero point). */
typedef struct {
    int32_t size;
    int32_t input_offset;
    int32_t multiplier, shift;
    int32_t output_offset;
} tq_requantize_s8_params_t;

void tq_requantize_s8(const tq_requantize_s8_params_t *params, const int8_t *input, int8_t *output);

/* CONCATENATION of same-quantisation tensors (any dtype): per outer step, input i contributes chunk_bytes[i]. */
typedef struct {
    int32_t count;
    int32_t outer;
    const int32_t *chunk_bytes;
} tq_concat_params_t;

void tq_concat(const tq_concat_params_t *params, const void *const *inputs, void *output);

/* ---------------------------------------------------------------------------------------------------------- */
/* float32 kernels (the FPU baseline; TFLM's order of arithmetic and expf; TANH uses libm's tanhf)            */
/* ---------------------------------------------------------------------------------------------------------- */

typedef struct {
    tq_window_t window;
    tq_act_f32_t act;
} tq_conv2d_f32_params_t;

void tq_conv2d_f32(const tq_conv2d_f32_params_t *params, const float *input, const float *filter,
                   const float *bias, float *output);

typedef struct {
    tq_window_t window;
    int32_t depth_multiplier;
    tq_act_f32_t act;
} tq_depthwise_conv2d_f32_params_t;

void tq_depthwise_conv2d_f32(const tq_depthwise_conv2d_f32_params_t *params, const float *input,
                             const float *filter, const float *bias, float *output);

typedef struct {
    int32_t batches;
    int32_t accum_depth;
    int32_t output_depth;
    tq_act_f32_t act;
} tq_fully_connected_f32_params_t;

void tq_fully_connected_f32(const tq_fully_connected_f32_params_t *params, const float *input,
                            const float *filter, const float *bias, float *output);

typedef struct {
    tq_window_t window;
    tq_act_f32_t act;
} tq_pool_f32_params_t;

void tq_max_pool2d_f32(const tq_pool_f32_params_t *params, const float *input, float *output);
void tq_avg_pool2d_f32(const tq_pool_f32_params_t *params, const float *input, float *output);

typedef struct {
    int32_t outer, reduce, inner;
} tq_mean_f32_params_t;

void tq_mean_f32(const tq_mean_f32_params_t *params, const float *input, float *output);

typedef struct {
    tq_broadcast_t shape;
    tq_act_f32_t act;
} tq_binary_f32_params_t;

void tq_add_f32(const tq_binary_f32_params_t *params, const float *input1, const float *input2, float *output);
void tq_mul_f32(const tq_binary_f32_params_t *params, const float *input1, const float *input2, float *output);

typedef struct {
    int32_t outer, depth;
    float beta;
} tq_softmax_f32_params_t;

void tq_softmax_f32(const tq_softmax_f32_params_t *params, const float *input, float *output);

typedef struct {
    int32_t size;
} tq_elementwise_f32_params_t;

void tq_tanh_f32(const tq_elementwise_f32_params_t *params, const float *input, float *output);
void tq_logistic_f32(const tq_elementwise_f32_params_t *params, const float *input, float *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYQI_H */
