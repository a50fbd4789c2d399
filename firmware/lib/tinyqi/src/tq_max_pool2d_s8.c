/* MAX_POOL_2D int8: the window is clipped to the input (padding never wins), as in TFLM's reference.
 * Channels are contiguous (NHWC), so the kernel takes the maximum of four channels at a time; on a Cortex-M with
 * the DSP extension that is SSUB8 + SEL (a per-byte signed compare and select), on other hosts a byte loop with
 * the same result: a maximum has no rounding. */
#include "tq_internal.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>

/* Per byte lane: a >= b ? a : b. SSUB8 sets a lane's GE flag when a - b >= 0; SEL picks a where GE is set. */
static inline uint32_t max_s8x4(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return __sel(a, b);
}

static inline uint32_t min_s8x4(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return __sel(b, a);
}
#else
static inline uint32_t lane_op(uint32_t a, uint32_t b, int32_t want_max)
{
    uint32_t result = 0;
    for (int32_t lane = 0; lane < 32; lane += 8) {
        const int8_t x = (int8_t)(a >> lane), y = (int8_t)(b >> lane);
        const int8_t pick = (x >= y) == (want_max != 0) ? x : y;
        result |= (uint32_t)(uint8_t)pick << lane;
    }
    return result;
}

static inline uint32_t max_s8x4(uint32_t a, uint32_t b)
{
    return lane_op(a, b, 1);
}

static inline uint32_t min_s8x4(uint32_t a, uint32_t b)
{
    return lane_op(a, b, 0);
}
#endif

static inline uint32_t load_s8x4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4); /* unaligned-safe; one LDR on Cortex-M4 */
    return word;
}

/* Four copies of one int8 in a word. */
static inline uint32_t splat_s8x4(int32_t value)
{
    return (uint32_t)(uint8_t)value * 0x01010101u;
}

/* out = max(a, b) lane by lane over c channels: four at a time, then the last c % 4 one by one so no load passes
 * the end of the input. The output pixel is the accumulator, so the window loop needs no registers per channel. */
static void max_into(int8_t *out, const int8_t *a, const int8_t *b, int32_t c)
{
    int32_t ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        const uint32_t max = max_s8x4(load_s8x4(a + ch), load_s8x4(b + ch));
        memcpy(out + ch, &max, 4);
    }
    for (; ch < c; ++ch) {
        out[ch] = a[ch] > b[ch] ? a[ch] : b[ch];
    }
}

/* out = clamp(out, lo, hi) lane by lane: a fused activation, rare on a pool, so its pass is skipped when it is
 * the whole int8 range. */
static void clamp_s8(int8_t *out, int8_t lo, int8_t hi, int32_t c)
{
    const uint32_t lo_x4 = splat_s8x4(lo), hi_x4 = splat_s8x4(hi);
    int32_t ch = 0;
    for (; ch + 4 <= c; ch += 4) {
        const uint32_t clamped = min_s8x4(max_s8x4(load_s8x4(out + ch), lo_x4), hi_x4);
        memcpy(out + ch, &clamped, 4);
    }
    for (; ch < c; ++ch) {
        out[ch] = (int8_t)tq_clamp(out[ch], lo, hi);
    }
}

void tq_max_pool2d_s8(const tq_pool_s8_params_t *params, const int8_t *input, int8_t *output)
{
    const tq_window_t w = params->window;
    const int32_t c = w.input.c;
    const int8_t act_min = (int8_t)params->act.min, act_max = (int8_t)params->act.max;
    const int32_t clamps = act_min > INT8_MIN || act_max < INT8_MAX;
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
                /* A clipped window still holds at least one element: start from it (max(x, x) = x). */
                max_into(output, window, window, c);
                for (int32_t fy = 0; fy < fy1 - fy0; ++fy) {
                    for (int32_t fx = fy == 0 ? 1 : 0; fx < fx1 - fx0; ++fx) {
                        max_into(output, output, window + fy * row_stride + fx * c, c);
                    }
                }
                if (clamps) {
                    clamp_s8(output, act_min, act_max, c);
                }
                output += c;
            }
        }
    }
}
