/* MAX_POOL_2D float32 (FPU baseline). */
#include <float.h>

#include "tq_internal.h"

void tq_max_pool2d_f32(const tq_pool_f32_params_t *params, const float *input, float *output)
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
                for (int32_t ch = 0; ch < c; ++ch) {
                    float max = -FLT_MAX;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const float v = in[((y0 + fy) * w->input.w + (x0 + fx)) * c + ch];
                            max = v > max ? v : max;
                        }
                    }
                    *output++ = tq_clamp_f32(max, params->act);
                }
            }
        }
    }
}
