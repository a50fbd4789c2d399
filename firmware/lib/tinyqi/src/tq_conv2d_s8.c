/* CONV_2D int8, bit-exact with TFLM's reference ConvPerChannel.
 * Two neighbouring output pixels and two output channels are computed together so every input and filter load
 * feeds two multiply-accumulates (CMSIS-NN's blocking, without its int16 im2col buffer). With a fused 1x2 max-pool
 * (params->pool_w == 2) those two pixels are one pooling window: the larger accumulator is requantised, once.
 * A convolution over one input channel with at most 8 taps (the first layer of a 1-D signal model) takes its own
 * path: there the blocked loop would do a 7-element window as one 4-element step and a 3-element scalar tail; here
 * the filter stays in registers for a whole row, zero-padded to 8 taps: two word loads and four SMLADs a window.
 * Both paths fill a chunk of accumulators for one output row first and requantise it afterwards: the dot products
 * need every register, so an output stage kept beside them lived on the stack and was reloaded for every output. */
#include "tq_internal.h"

int32_t tq_conv2d_s8_get_buffer_size(const tq_conv2d_s8_params_t *params)
{
    return tq_window_padded_bytes_s8(&params->window);
}

#define CHUNK 32 /* convolution pixels per requantisation pass (even: a pooling pair never straddles two) */

/* ---- output stage ---------------------------------------------------------------------------------------------- */

/* Inlined with constants `pooled` (each output is the larger of two neighbouring accumulators) and `common` (the
 * usual output stage of a convolution: a multiplier below 1, so no left shift and a right shift of at least one,
 * and an activation as wide as int8, one SSAT instead of two selects). */
static inline __attribute__((always_inline)) void requantise_loop(const int32_t *acc, int32_t count, int32_t pooled,
                                                                  int32_t common, const tq_channel_output_t *q,
                                                                  int8_t *out, int32_t out_step)
{
    tq_channel_output_t stage = *q; /* a local: int8 stores may alias anything */
    if (common) {
        stage.requant.left_shift = 0;
        if (stage.requant.right_shift == 0) {
            __builtin_unreachable(); /* drops tq_requantize_split's test from the loop */
        }
    }
    for (const int32_t *const end = acc + (count << pooled); acc < end; acc += 1 + pooled, out += out_step) {
        /* requantisation is monotonic here (codegen checks), so max then requantise is exact */
        const int32_t value = pooled ? tq_max_s32(acc[0], acc[1]) : acc[0];
        *out = common ? tq_saturate_s8(tq_requantize_split(value, stage.requant) + stage.output_offset)
                      : tq_channel_output_s8(&stage, value);
    }
}

/* `count` outputs of one output channel from its accumulators (pairs of them when pooled), stored `out_step`
 * apart. */
static __attribute__((noinline)) void requantise_outputs(const int32_t *acc, int32_t count, int32_t pooled,
                                                         const tq_channel_output_t *q, int8_t *out, int32_t out_step)
{
    if (tq_usual_output(q->requant, q->act_min, q->act_max)) {
        if (pooled) {
            requantise_loop(acc, count, 1, 1, q, out, out_step);
        } else {
            requantise_loop(acc, count, 0, 1, q, out, out_step);
        }
    } else {
        requantise_loop(acc, count, pooled, 0, q, out, out_step);
    }
}

/* ---- two pixels x two output channels ------------------------------------------------------------------------ */

/* How one window is read: `rows` filter rows `row_step` apart in the input; each row is `segments` runs of
 * `run` contiguous elements, `segment_step` apart (one run per row unless the filter is dilated along W). */
typedef struct {
    int32_t rows, row_step;
    int32_t segments, segment_step;
    int32_t run;
    int32_t filter_size;
} window_walk_t;

/* One output row of the blocked path. */
typedef struct {
    const window_walk_t *walk;
    const int8_t *row;     /* first window of the row */
    int32_t pixel_step;    /* elements between two neighbouring windows */
    int32_t out_w;         /* convolution pixels of the row */
    int32_t pooled;        /* 1: pairs of pixels are pooling windows (params->pool_w == 2) */
    int32_t out_c;
} row_t;

/* acc[p][c] += window p . filter c, a run at a time. */
static void dot_window(const window_walk_t *walk, const int8_t *x0, const int8_t *x1, const int8_t *f0,
                       const int8_t *f1, int32_t acc[2][2])
{
    int32_t offset = 0;
    for (int32_t r = 0; r < walk->rows; ++r) {
        for (int32_t s = 0; s < walk->segments; ++s) {
            const int32_t at = r * walk->row_step + s * walk->segment_step;
            tq_dot2x2_s8(x0 + at, x1 + at, f0 + offset, f1 + offset, walk->run, acc);
            offset += walk->run;
        }
    }
}

/* Accumulators of `count` neighbouring pixels of a channel pair into acc0, acc1. */
static void pair_accumulators(const window_walk_t *walk, const int8_t *x0, int32_t step, const int8_t *f0,
                              const int8_t *f1, int32_t bias0, int32_t bias1, int32_t count, int32_t *acc0,
                              int32_t *acc1)
{
    const int32_t pairs = count >> 1;
    if (walk->rows == 1 && walk->segments == 1) { /* one run per window: every undilated Conv1D */
        tq_dot2x2_pairs_s8(x0, step, f0, f1, walk->run, pairs, bias0, bias1, acc0, acc1);
    } else {
        for (int32_t i = 0; i < pairs; ++i) {
            int32_t acc[2][2] = {{bias0, bias1}, {bias0, bias1}};
            dot_window(walk, x0 + 2 * i * step, x0 + (2 * i + 1) * step, f0, f1, acc);
            acc0[2 * i] = acc[0][0];
            acc0[2 * i + 1] = acc[1][0];
            acc1[2 * i] = acc[0][1];
            acc1[2 * i + 1] = acc[1][1];
        }
    }
    if (count & 1) { /* a last single pixel (never when pooled) */
        const int8_t *x = x0 + (count - 1) * step;
        int32_t a0 = bias0, a1 = bias1;
        if (walk->rows == 1 && walk->segments == 1) {
            tq_dot2_s8(x, f0, f1, walk->run, &a0, &a1);
        } else { /* computed twice from the same window */
            int32_t acc[2][2] = {{bias0, bias1}, {bias0, bias1}};
            dot_window(walk, x, x, f0, f1, acc);
            a0 = acc[0][0];
            a1 = acc[0][1];
        }
        acc0[count - 1] = a0;
        acc1[count - 1] = a1;
    }
}

/* One output row of a pair of output channels (c1 = c0 + 1, or c0 again for the last of an odd count), a chunk of
 * accumulators at a time. Out of line so that its loop gets the registers to itself (inlined, the caller's geometry
 * spills them). */
static __attribute__((noinline)) void channel_pair_row(const row_t *rw, const int8_t *f0, const int8_t *f1,
                                                       int32_t bias0, int32_t bias1, const tq_channel_output_t *q0,
                                                       const tq_channel_output_t *q1, int32_t pair, int8_t *out)
{
    const window_walk_t walk = *rw->walk;
    const int32_t out_c = rw->out_c, pooled = rw->pooled, step = rw->pixel_step, out_w = rw->out_w;
    int32_t acc0[CHUNK], acc1[CHUNK];
    for (int32_t first = 0; first < out_w; first += CHUNK) {
        const int32_t count = out_w - first < CHUNK ? out_w - first : CHUNK;
        const int8_t *x0 = rw->row + first * step;
        pair_accumulators(&walk, x0, step, f0, f1, bias0, bias1, count, acc0, acc1);
        int8_t *o = out + (first >> pooled) * out_c;
        requantise_outputs(acc0, count >> pooled, pooled, q0, o, out_c);
        if (pair) {
            requantise_outputs(acc1, count >> pooled, pooled, q1, o + 1, out_c);
        }
    }
}

/* ---- one input channel, at most 8 taps ----------------------------------------------------------------------- */

#define TAPS_MAX 8

/* One output channel's taps. DSP: sign-extended to halfword pairs once per row, taps (0,2) (1,3) (4,6) (5,7), the
 * lanes past the filter's length zero, so a window is two word loads and four SMLADs whatever bytes follow it. */
typedef struct {
#if TQ_USE_DSP
    uint32_t even0, odd0, even1, odd1;
#else
    const int8_t *w;
    int32_t n;
#endif
} taps_t;

static inline taps_t taps_load(const int8_t *filter, int32_t n)
{
#if TQ_USE_DSP
    int8_t padded[TAPS_MAX] = {0};
    memcpy(padded, filter, (size_t)n);
    const uint32_t w0 = tq_read_s8x4(padded), w1 = tq_read_s8x4(padded + 4);
    const taps_t t = {__sxtb16(w0), tq_sxtb16_ror8(w0), __sxtb16(w1), tq_sxtb16_ror8(w1)};
#else
    const taps_t t = {filter, n};
#endif
    return t;
}

/* x . taps for the window at x; the DSP path reads x[0..7] (its bytes past the filter meet zero taps). */
static inline int32_t taps_dot(const taps_t *t, const int8_t *x)
{
#if TQ_USE_DSP
    const uint32_t x0 = tq_read_s8x4(x), x1 = tq_read_s8x4(x + 4);
    int32_t acc = __smuad(t->even0, __sxtb16(x0));
    acc = __smlad(t->odd0, tq_sxtb16_ror8(x0), acc);
    acc = __smlad(t->even1, __sxtb16(x1), acc);
    return __smlad(t->odd1, tq_sxtb16_ror8(x1), acc);
#else
    int32_t acc = 0;
    for (int32_t k = 0; k < t->n; ++k) {
        acc += (int32_t)x[k] * t->w[k];
    }
    return acc;
#endif
}

/* The window at x copied into `copy`, zero-filled past its n taps: for the last windows of a row, where reading
 * 8 bytes would pass the end of the input. */
static inline const int8_t *window_copy(int8_t copy[TAPS_MAX], const int8_t *x, int32_t n)
{
    memset(copy, 0, TAPS_MAX);
    memcpy(copy, x, (size_t)n);
    return copy;
}

/* One output row of the single-channel path. */
typedef struct {
    const int8_t *row; /* first window of the row */
    int32_t step;      /* elements between two neighbouring windows */
    int32_t outputs;   /* outputs of the row (pooling windows when pooled) */
    int32_t fast;      /* the first `fast` outputs have every window readable 8 bytes wide */
    int32_t taps;
    int32_t pooled;
    int32_t out_c;
} tap_row_t;

/* Accumulators of outputs o .. end - 1 whose windows are read in place. Inlined with a constant `pooled`: the max
 * of a pooling pair is taken here, in registers. */
static inline __attribute__((always_inline)) void tap_accumulators(const tap_row_t *rw, const taps_t *t,
                                                                   int32_t bias, int32_t pooled, int32_t o,
                                                                   int32_t end, int32_t *acc)
{
    const int32_t step = rw->step, span = step << pooled;
    const taps_t taps = *t;
    const int8_t *x = rw->row + o * span, *x1 = x + step; /* x1: the second window of a pooling pair */
    for (const int32_t *const stop = acc + (end - o); acc < stop; x += span, x1 += span) {
        int32_t value = taps_dot(&taps, x);
        if (pooled) { /* requantisation is monotonic here (codegen checks), so max then requantise is exact */
            value = tq_max_s32(value, taps_dot(&taps, x1));
        }
        *acc++ = bias + value;
    }
}

/* One output channel over one output row, a chunk of accumulators at a time. Out of line for the same reason as
 * channel_pair_row. */
static __attribute__((noinline)) void single_channel_row(const tap_row_t *rw, const int8_t *filter, int32_t bias,
                                                         const tq_channel_output_t *q, int8_t *out)
{
    const taps_t taps = taps_load(filter, rw->taps);
    const int32_t step = rw->step, pooled = rw->pooled, out_c = rw->out_c;
    int32_t acc[CHUNK];
    for (int32_t first = 0; first < rw->outputs; first += CHUNK) {
        const int32_t end = rw->outputs - first < CHUNK ? rw->outputs : first + CHUNK;
        const int32_t fast = rw->fast < first ? first : (rw->fast < end ? rw->fast : end);
        if (pooled) {
            tap_accumulators(rw, &taps, bias, 1, first, fast, acc);
        } else {
            tap_accumulators(rw, &taps, bias, 0, first, fast, acc);
        }
        for (int32_t o = fast; o < end; ++o) { /* the last windows, through a zero-padded copy */
            const int8_t *x = rw->row + (o << pooled) * step;
            int8_t copy[TAPS_MAX];
            int32_t value = taps_dot(&taps, window_copy(copy, x, rw->taps));
            if (pooled) {
                value = tq_max_s32(value, taps_dot(&taps, window_copy(copy, x + step, rw->taps)));
            }
            acc[o - first] = bias + value;
        }
        requantise_outputs(acc, end - first, 0, q, out + first * out_c, out_c);
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
    /* One input channel, one filter row, contiguous taps that fit two words. */
    const int32_t taps = in_c == 1 && w.filter_h == 1 && !dilated_w && w.filter_w <= TAPS_MAX;
    for (int32_t b = 0; b < w.input.n; ++b) {
        int32_t row_stride;
        const int8_t *src = tq_window_source_s8(&w, pad_value, input + b * in_batch, scratch, &row_stride);
        const window_walk_t walk = {w.filter_h, w.dilation_h * row_stride, dilated_w ? w.filter_w : 1,
                                    w.dilation_w * in_c, dilated_w ? in_c : w.filter_w * in_c,
                                    w.filter_h * w.filter_w * in_c};
        for (int32_t oy = 0; oy < w.output.h; ++oy) {
            const int8_t *row = src + oy * w.stride_h * row_stride;
            int8_t *out = output + (b * w.output.h + oy) * out_row;
            if (taps) {
                /* The last window of output o starts at o * span + pooled * stride; it can be read 8 bytes wide
                 * while that stays inside the row. */
                const int32_t span = w.stride_w << pooled, outputs = w.output.w >> pooled;
                const int32_t last = row_stride - TAPS_MAX - pooled * w.stride_w;
                const int32_t fast = last < 0 ? 0 : last / span + 1;
                const tap_row_t tr = {row,        w.stride_w, outputs, fast < outputs ? fast : outputs,
                                      w.filter_w, pooled,     out_c};
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const tq_channel_output_t qc = tq_channel_output(&q, oc);
                    single_channel_row(&tr, filter + oc * w.filter_w, bias[oc], &qc, out + oc);
                }
                continue;
            }
            const row_t rw = {&walk, row, w.stride_w * in_c, w.output.w, pooled, out_c};
            for (int32_t oc = 0; oc < out_c; oc += 2) {
                const int32_t pair = oc + 1 < out_c;
                const int8_t *f0 = filter + oc * walk.filter_size;
                const tq_channel_output_t q0 = tq_channel_output(&q, oc), q1 = tq_channel_output(&q, oc + pair);
                channel_pair_row(&rw, f0, pair ? f0 + walk.filter_size : f0, bias[oc], bias[oc + pair], &q0, &q1,
                                 pair, out + oc);
            }
        }
    }
}
