/* DEPTHWISE_CONV_2D float32 (FPU baseline). */
#include "tq_internal.h"

void tq_depthwise_conv2d_f32(const tq_depthwise_conv2d_f32_params_t *params, const float *input,
                             const float *filter, const float *bias, float *output)
{
    const tq_window_t *w = &params->window;
    const int32_t in_c = w->input.c, out_c = w->output.c;
    for (int32_t b = 0; b < w->input.n; ++b) {
        const float *in = input + b * w->input.h * w->input.w * in_c;
        for (int32_t oy = 0; oy < w->output.h; ++oy) {
            for (int32_t ox = 0; ox < w->output.w; ++ox) {
                const int32_t y0 = oy * w->stride_h - w->pad_top;
                const int32_t x0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int32_t ic = oc / params->depth_multiplier;
                    float acc = 0.0f;
                    for (int32_t fy = 0; fy < w->filter_h; ++fy) {
                        const int32_t y = y0 + fy * w->dilation_h;
                        if (y < 0 || y >= w->input.h) {
                            continue;
                        }
                        for (int32_t fx = 0; fx < w->filter_w; ++fx) {
                            const int32_t x = x0 + fx * w->dilation_w;
                            if (x < 0 || x >= w->input.w) {
                                continue;
                            }
                            acc += in[(y * w->input.w + x) * in_c + ic] * filter[(fy * w->filter_w + fx) * out_c + oc];
                        }
                    }
                    acc += bias[oc];
                    *output++ = tq_clamp_f32(acc, params->act);
                }
            }
        }
    }
}
