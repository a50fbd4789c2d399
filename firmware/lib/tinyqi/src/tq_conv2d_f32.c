/* CONV_2D float32 (FPU baseline): TFLM's reference loop order, out-of-image taps skipped. */
#include "tq_internal.h"

void tq_conv2d_f32(const tq_conv2d_f32_params_t *params, const float *input, const float *filter,
                   const float *bias, float *output)
{
    const tq_window_t *w = &params->window;
    const int32_t in_c = w->input.c;
    for (int32_t b = 0; b < w->input.n; ++b) {
        const float *in = input + b * w->input.h * w->input.w * in_c;
        for (int32_t oy = 0; oy < w->output.h; ++oy) {
            for (int32_t ox = 0; ox < w->output.w; ++ox) {
                const int32_t y0 = oy * w->stride_h - w->pad_top;
                const int32_t x0 = ox * w->stride_w - w->pad_left;
                for (int32_t oc = 0; oc < w->output.c; ++oc) {
                    const float *f = filter + oc * w->filter_h * w->filter_w * in_c;
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
                            const float *px = in + (y * w->input.w + x) * in_c;
                            const float *pf = f + (fy * w->filter_w + fx) * in_c;
                            for (int32_t ic = 0; ic < in_c; ++ic) {
                                acc += px[ic] * pf[ic];
                            }
                        }
                    }
                    *output++ = tq_clamp_f32(acc + bias[oc], params->act);
                }
            }
        }
    }
}
