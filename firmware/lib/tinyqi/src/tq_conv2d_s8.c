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

/* One output row of a pair of output channels (c1 = c0 + 1, or c0 again for the last of an odd count): every
 * pixel pair shares each filter load, and the pair's output stages are split once for the whole row. Out of line
 * so that its loop gets the registers to itself (inlined, the caller's geometry spills them). */
typedef struct {
    const window_walk_t *walk;
    const int8_t *row;     /* first window of the row */
    int32_t pixel_step;    /* elements between two neighbouring windows */
    int32_t out_w;         /* convolution pixels of the row */
    int32_t pooled;        /* 1: pairs of pixels are pooling windows (params->pool_w == 2) */
    int32_t out_c;
} row_t;

static void dot_window(const window_walk_t *walk, const int8_t *x0, const int8_t *x1, const int8_t *f0,
                       const int8_t *f1, int32_t acc[2][2])
{
    if (walk->rows == 1 && walk->segments == 1) { /* every undilated Conv1D: one contiguous run */
        tq_dot2x2_s8(x0, x1, f0, f1, walk->run, acc);
        return;
    }
    int32_t offset = 0;
    for (int32_t r = 0; r < walk->rows; ++r) {
        for (int32_t s = 0; s < walk->segments; ++s) {
            const int32_t at = r * walk->row_step + s * walk->segment_step;
            tq_dot2x2_s8(x0 + at, x1 + at, f0 + offset, f1 + offset, walk->run, acc);
            offset += walk->run;
        }
    }
}

static __attribute__((noinline)) void channel_pair_row(const row_t *rw, const int8_t *f0, const int8_t *f1,
                                                       int32_t bias0, int32_t bias1, tq_channel_output_t q0,
                                                       tq_channel_output_t q1, int32_t pair, int8_t *out)
{
    const int32_t out_c = rw->out_c, pooled = rw->pooled;
    for (int32_t ox = 0; ox < rw->out_w; ox += 2) {
        const int32_t second = ox + 1 < rw->out_w; /* 0: a last single pixel (never when pooled) */
        const int8_t *x0 = rw->row + ox * rw->pixel_step;
        int32_t acc[2][2] = {{bias0, bias1}, {bias0, bias1}};
        dot_window(rw->walk, x0, x0 + second * rw->pixel_step, f0, f1, acc);
        if (pooled) { /* requantisation is monotonic here (codegen checks), so max then requantise is exact */
            acc[0][0] = tq_max_s32(acc[0][0], acc[1][0]);
            acc[0][1] = tq_max_s32(acc[0][1], acc[1][1]);
        }
        int8_t *o = out + (ox >> pooled) * out_c;
        o[0] = tq_channel_output_s8(&q0, acc[0][0]);
        if (pair) {
            o[1] = tq_channel_output_s8(&q1, acc[0][1]);
        }
        if (second && !pooled) {
            o[out_c] = tq_channel_output_s8(&q0, acc[1][0]);
            if (pair) {
                o[out_c + 1] = tq_channel_output_s8(&q1, acc[1][1]);
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
    const int32_t pooled = params->pool_w == 2; /* output.w is even then: every pair is a pooling window */
    const int32_t out_row = (w.output.w >> pooled) * out_c;
    for (int32_t b = 0; b < w.input.n; ++b) {
        int32_t row_stride;
        const int8_t *src = tq_window_source_s8(&w, pad_value, input + b * in_batch, scratch, &row_stride);
        const window_walk_t walk = {w.filter_h, w.dilation_h * row_stride, dilated_w ? w.filter_w : 1,
                                    w.dilation_w * in_c, dilated_w ? in_c : w.filter_w * in_c,
                                    w.filter_h * w.filter_w * in_c};
        for (int32_t oy = 0; oy < w.output.h; ++oy) {
            const row_t rw = {&walk, src + oy * w.stride_h * row_stride, w.stride_w * in_c, w.output.w, pooled,
                              out_c};
            int8_t *out = output + (b * w.output.h + oy) * out_row;
            for (int32_t oc = 0; oc < out_c; oc += 2) {
                const int32_t pair = oc + 1 < out_c;
                const int8_t *f0 = filter + oc * walk.filter_size;
                channel_pair_row(&rw, f0, pair ? f0 + walk.filter_size : f0, bias[oc], bias[oc + pair],
                                 tq_channel_output(&q, oc), tq_channel_output(&q, oc + pair), pair, out + oc);
            }
        }
    }
}
