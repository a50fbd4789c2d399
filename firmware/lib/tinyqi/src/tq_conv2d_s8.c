/* CONV_2D int8, bit-exact with TFLM's reference ConvPerChannel.
 * Two neighbouring output pixels and two output channels are computed together so every input and filter load
 * feeds two multiply-accumulates (CMSIS-NN's blocking, without its int16 im2col buffer). With a fused 1x2 max-pool
 * (params->pool_w == 2) those two pixels are one pooling window: the larger accumulator is requantised, once. */
#include "tq_internal.h"

int32_t tq_conv2d_s8_get_buffer_size(const tq_conv2d_s8_params_t *params)
{
    return tq_window_padded_bytes_s8(&params->window);
}

/* How one window is read: `rows` filter rows `row_step` apart in the input; each row is `segments` runs of
 * `run` contiguous elements, `segment_step` apart (one run per row unless the filter is dilated along W). */
typedef struct {
    int32_t rows, row_step;
    int32_t segments, segment_step;
    int32_t run;
    int32_t filter_size;
} window_walk_t;

/* Output channels of `pixels` (1 or 2) pixels whose windows start at window[0] and window[1]. */
static void convolve(const window_walk_t *walk, const int8_t *const window[2], int32_t pixels, int32_t pooled,
                     const int8_t *filter, const int32_t *bias, const tq_output_stage_t *q, int32_t out_c, int8_t *out)
{
    for (int32_t oc = 0; oc < out_c; oc += 2) {
        const int32_t pair = oc + 1 < out_c;
        const int8_t *f0 = filter + oc * walk->filter_size;
        const int8_t *f1 = pair ? f0 + walk->filter_size : f0; /* odd channel count: last pair repeats */
        int32_t acc[2][2] = {{bias[oc], bias[oc + pair]}, {bias[oc], bias[oc + pair]}};
        int32_t offset = 0;
        for (int32_t r = 0; r < walk->rows; ++r) {
            for (int32_t s = 0; s < walk->segments; ++s) {
                const int32_t at = r * walk->row_step + s * walk->segment_step;
                tq_dot2x2_s8(window[0] + at, window[pixels - 1] + at, f0 + offset, f1 + offset, walk->run, acc);
                offset += walk->run;
            }
        }
        if (pooled) { /* requantisation is monotonic here (codegen checks), so max then requantise is exact */
            acc[0][0] = acc[1][0] > acc[0][0] ? acc[1][0] : acc[0][0];
            acc[0][1] = acc[1][1] > acc[0][1] ? acc[1][1] : acc[0][1];
        }
        for (int32_t p = 0; p < pixels - pooled; ++p) {
            out[p * out_c + oc] = tq_output_s8(q, oc, acc[p][0]);
            if (pair) {
                out[p * out_c + oc + 1] = tq_output_s8(q, oc + 1, acc[p][1]);
            }
        }
    }
}

void tq_conv2d_s8(int8_t *scratch, const tq_conv2d_s8_params_t *params, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output)
{
    const tq_window_t w = params->window;
    const tq_output_stage_t q = {params->quant.multiplier, params->quant.shift, params->output_offset,
                                 params->act.min, params->act.max};
    const int8_t pad_value = (int8_t)(-params->input_offset);
    const int32_t in_c = w.input.c, out_c = w.output.c;
    const int32_t in_batch = w.input.h * w.input.w * in_c;
    const int32_t dilated_w = w.dilation_w != 1;
    const int32_t pixel_step = w.stride_w * in_c;
    const int32_t pooled = params->pool_w == 2; /* output.w is even then: every pair is a pooling window */
    for (int32_t b = 0; b < w.input.n; ++b) {
        int32_t row_stride;
        const int8_t *src = tq_window_source_s8(&w, pad_value, input + b * in_batch, scratch, &row_stride);
        const window_walk_t walk = {w.filter_h, w.dilation_h * row_stride, dilated_w ? w.filter_w : 1,
                                    w.dilation_w * in_c, dilated_w ? in_c : w.filter_w * in_c,
                                    w.filter_h * w.filter_w * in_c};
        for (int32_t oy = 0; oy < w.output.h; ++oy) {
            const int8_t *row = src + oy * w.stride_h * row_stride;
            for (int32_t ox = 0; ox < w.output.w; ox += 2) {
                const int32_t pixels = ox + 1 < w.output.w ? 2 : 1;
                const int8_t *const window[2] = {row + ox * pixel_step, row + (ox + pixels - 1) * pixel_step};
                convolve(&walk, window, pixels, pooled, filter, bias, &q, out_c, output);
                output += (pixels - pooled) * out_c;
            }
        }
    }
}
