/* AVERAGE_POOL_2D float32 (FPU baseline): mean of the in-bounds part of the window. */
#include "tq_internal.h"

void tq_avg_pool2d_f32(const tq_pool_f32_params_t *params, const float *input, float *output)
{
    const tq_window_t *w = &params->window;
    const int32_t c = w->input.c;
    for (int32_t b = 0; b < w->input.n; ++b) {
        const float *in = input + b * w->input.h * w->input.w * c;
        for (int32_t oy = 0; oy < w->output.h; ++oy) {
            const int32_t y0 = oy * w->stride_h - w->pad_top;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = w->filter_h < w->input.h - y0 ? w->filter_h : w->input.h - y0;
            for (int32_t ox = 0; ox < w->output.w; ++ox) {
                const int32_t x0 = ox * w->stride_w - w->pad_left;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = w->filter_w < w->input.w - x0 ? w->filter_w : w->input.w - x0;
                const float count = (float)((fy1 - fy0) * (fx1 - fx0));
                for (int32_t ch = 0; ch < c; ++ch) {
                    float sum = 0.0f;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            sum += in[((y0 + fy) * w->input.w + (x0 + fx)) * c + ch];
                        }
                    }
                    const float avg = sum / count;
                    *output++ = tq_clamp_f32(avg, params->act);
                }
            }
        }
    }
}
