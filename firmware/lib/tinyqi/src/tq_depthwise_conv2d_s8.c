/* DEPTHWISE_CONV_2D int8, bit-exact with TFLM's reference DepthwiseConvPerChannel. */
#include "tq_internal.h"

int32_t tq_depthwise_conv2d_s8_get_buffer_size(const tq_depthwise_conv2d_s8_params_t *params)
{
    return tq_window_padded_bytes_s8(&params->window);
}

void tq_depthwise_conv2d_s8(int8_t *scratch, const tq_depthwise_conv2d_s8_params_t *params, const int8_t *input,
                            const int8_t *filter, const int32_t *bias, int8_t *output)
{
    const tq_window_t w = params->window;
    const tq_output_stage_t q = {params->quant.multiplier, params->quant.shift, params->output_offset,
                                 params->act.min, params->act.max};
    const int8_t pad_value = (int8_t)(-params->input_offset);
    const int32_t in_c = w.input.c, out_c = w.output.c, multiplier = params->depth_multiplier;
    const int32_t in_batch = w.input.h * w.input.w * in_c;
    const int32_t tap_step = w.dilation_w * in_c;
    for (int32_t b = 0; b < w.input.n; ++b) {
        int32_t row_stride;
        const int8_t *src = tq_window_source_s8(&w, pad_value, input + b * in_batch, scratch, &row_stride);
        for (int32_t oy = 0; oy < w.output.h; ++oy) {
            for (int32_t ox = 0; ox < w.output.w; ++ox) {
                const int8_t *window = src + oy * w.stride_h * row_stride + ox * w.stride_w * in_c;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int8_t *x = window + oc / multiplier;
                    const int8_t *f = filter + oc;
                    int32_t acc = bias[oc];
                    for (int32_t fy = 0; fy < w.filter_h; ++fy) {
                        const int8_t *x_row = x + fy * w.dilation_h * row_stride;
                        for (int32_t fx = 0; fx < w.filter_w; ++fx) {
                            acc += (int32_t)x_row[fx * tap_step] * (int32_t)f[0];
                            f += out_c;
                        }
                    }
                    output[oc] = tq_output_s8(&q, oc, acc);
                }
                output += out_c;
            }
        }
    }
}
