/* MAX_POOL_2D int8: the window is clipped to the input (padding never wins), as in TFLM's reference. */
#include "tq_internal.h"

void tq_max_pool2d_s8(const tq_pool_s8_params_t *params, const int8_t *input, int8_t *output)
{
    const tq_window_t w = params->window;
    const int32_t c = w.input.c, act_min = params->act.min, act_max = params->act.max;
    const int32_t row_stride = w.input.w * c;
    for (int32_t b = 0; b < w.input.n; ++b) {
        const int8_t *in = input + b * w.input.h * row_stride;
        for (int32_t oy = 0; oy < w.output.h; ++oy) {
            const int32_t y0 = oy * w.stride_h - w.pad_top;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = w.filter_h < w.input.h - y0 ? w.filter_h : w.input.h - y0;
            for (int32_t ox = 0; ox < w.output.w; ++ox) {
                const int32_t x0 = ox * w.stride_w - w.pad_left;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = w.filter_w < w.input.w - x0 ? w.filter_w : w.input.w - x0;
                const int8_t *window = in + (y0 + fy0) * row_stride + (x0 + fx0) * c;
                for (int32_t ch = 0; ch < c; ++ch) {
                    int32_t max = INT8_MIN;
                    for (int32_t fy = 0; fy < fy1 - fy0; ++fy) {
                        const int8_t *p = window + fy * row_stride + ch;
                        for (int32_t fx = 0; fx < fx1 - fx0; ++fx) {
                            max = p[fx * c] > max ? p[fx * c] : max;
                        }
                    }
                    output[ch] = (int8_t)tq_clamp(max, act_min, act_max);
                }
                output += c;
            }
        }
    }
}
