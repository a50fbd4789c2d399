/* CONV_2D int8 with a CSR filter: the cost is proportional to the non-zero weights.
 * The input is first copied channel-planar into the scratch buffer (framed with the pad value): plane c holds input
 * channel c as rows of the padded width plus three strides. One weight then meets the inputs of neighbouring
 * pixels at neighbouring bytes (stride 1), so with the Cortex-M DSP extension one word load and two SXTB16 feed the
 * four multiply-accumulates of a weight at four pixels; other strides load the four bytes one by one. Column indices
 * are offsets in that layout (codegen: channel * plane + row * width + column, 1 or 2 bytes wide).
 * One output channel (filter row) at a time, over chunks of an output row, in two passes that are each out of line
 * so that their loops have the registers to themselves (one fused loop spilled in both):
 *   1. accumulate: four pixels per walk of the row's non-zeros; the sums go to a stack buffer.
 *   2. requantise them with the channel's split output stage in registers.
 * params->pool_w == 2 fuses the following 1x2 max-pool (tinyqi.h): pass 1 keeps the larger sum of each pair of
 * pixels (monotonic requantisation, codegen checks). */
#include "tq_internal.h"

/* Pixels per chunk, a multiple of the walk's four: 256 bytes of int32 sums on the stack. */
#define CSR_CONV_CHUNK 64
/* Bytes after each planar row: a walk of a row narrower than four pixels reads up to three strides past it. */
static int32_t planar_row(const tq_window_t *w)
{
    return tq_window_padded_w(w) + 3 * w->stride_w;
}

static int32_t planar_plane(const tq_window_t *w)
{
    return tq_window_padded_h(w) * planar_row(w);
}

int32_t tq_conv2d_csr_s8_get_buffer_size(const tq_conv2d_s8_params_t *params)
{
    return params->window.input.c * planar_plane(&params->window);
}

/* `count` pixels of four neighbouring channels, `channels` bytes apart in src, to four planes `plane` bytes apart:
 * one word load and four byte stores per pixel. */
static void copy_four_channels(const int8_t *src, int32_t channels, int32_t count, int8_t *dst, int32_t plane)
{
    int8_t *const d0 = dst, *const d1 = dst + plane, *const d2 = dst + 2 * plane, *const d3 = dst + 3 * plane;
    for (int32_t x = 0; x < count; ++x, src += channels) {
        uint32_t word;
        memcpy(&word, src, 4); /* unaligned-safe; one LDR on Cortex-M4 */
        d0[x] = (int8_t)word;
        d1[x] = (int8_t)(word >> 8);
        d2[x] = (int8_t)(word >> 16);
        d3[x] = (int8_t)(word >> 24);
    }
}

/* One batch of NHWC input into `planes`: channel c at c * plane, each row `row` bytes. The pad value frames it
 * where the windows read padding, and fills the slack where a row is narrower than a walk; otherwise no byte
 * outside the input is read. */
static void copy_planar(const tq_window_t *w, int8_t pad_value, const int8_t *input, int8_t *planes)
{
    const int32_t channels = w->input.c, row = planar_row(w), plane = planar_plane(w);
    if (tq_window_needs_padding(w) || w->output.w < 4) {
        memset(planes, pad_value, (size_t)(channels * plane));
    }
    /* Input pixels that land inside the padded extent; anything beyond is never read by a window. */
    const int32_t padded_h = tq_window_padded_h(w), padded_w = tq_window_padded_w(w);
    const int32_t rows = w->input.h < padded_h - w->pad_top ? w->input.h : padded_h - w->pad_top;
    const int32_t cols = w->input.w < padded_w - w->pad_left ? w->input.w : padded_w - w->pad_left;
    for (int32_t y = 0; y < rows; ++y) {
        const int8_t *src = input + y * w->input.w * channels;
        int8_t *dst = planes + (y + w->pad_top) * row + w->pad_left;
        int32_t c = 0;
        for (; c + 4 <= channels; c += 4) {
            copy_four_channels(src + c, channels, cols, dst + c * plane, plane);
        }
        for (; c < channels; ++c) {
            for (int32_t x = 0; x < cols; ++x) {
                dst[c * plane + x] = src[x * channels + c];
            }
        }
    }
}

/* One output channel: its filter row, bias and split output stage, and the pixels' geometry. */
typedef struct {
    const int8_t *values;
    const void *cols; /* planar offsets; the index type is fixed per instantiation of pass 1 */
    int32_t nnz;
    int32_t bias;
    int32_t step;     /* input bytes between two neighbouring pixels: the stride */
    int32_t pooled;   /* 1: a fused 1x2 max-pool; pixel counts are even */
    int32_t out_step; /* output elements between two neighbouring outputs of the channel */
    tq_channel_output_t stage;
} csr_channel_t;

/* acc0..acc3 += w * the inputs at offset o of the four pixels of a walk from x, `step` bytes apart. */
#define CSR_WALK_BYTES(x, o, w, step)                                                                            \
    do {                                                                                                         \
        const int8_t *const at = (x) + (o);                                                                      \
        acc0 += (w) * at[0];                                                                                     \
        acc1 += (w) * at[(step)];                                                                                \
        acc2 += (w) * at[2 * (step)];                                                                            \
        acc3 += (w) * at[3 * (step)];                                                                            \
    } while (0)

/* The same for stride 1: one word holds the four inputs; SXTB16 gives pixels 0 and 2, its rotated form 1 and 3,
 * each a halfword that SMLABB / SMLATB multiply by the weight in the low halfword of w. */
#if TQ_USE_DSP
#define CSR_WALK_WORD(x, o, w)                                                                                   \
    do {                                                                                                         \
        const uint32_t word = tq_read_s8x4((x) + (o));                                                           \
        const uint32_t even = __sxtb16(word), odd = tq_sxtb16_ror8(word);                                        \
        acc0 = __smlabb((int32_t)even, (w), acc0);                                                               \
        acc2 = __smlatb((int32_t)even, (w), acc2);                                                               \
        acc1 = __smlabb((int32_t)odd, (w), acc1);                                                                \
        acc3 = __smlatb((int32_t)odd, (w), acc3);                                                                \
    } while (0)
#else
#define CSR_WALK_WORD(x, o, w) CSR_WALK_BYTES(x, o, w, 1)
#endif

/* Pass 1 for the n >= 4 pixels of a chunk, x the first: acc receives bias + sum_k values[k] * pixel[cols[k]] per
 * pixel, or per pooling window. When n is not a multiple of four the last walk overlaps the one before: it
 * recomputes up to three pixels, exactly, and reads only inside the planes. A row of fewer than four pixels comes
 * as n = 4: its extra pixels read the row's slack (or the next row) and are never stored. `stride1`: the word
 * loads of the DSP path; the other strides read byte by byte (constant per instantiation). */
#define TQ_DEFINE_CSR_ACCUMULATE(name, index_type, stride1)                                                    \
    static __attribute__((noinline)) void name(const csr_channel_t *ch, const int8_t *x, int32_t n, int32_t *acc) \
    {                                                                                                          \
        const int8_t *const values = ch->values;                                                               \
        const index_type *const cols = (const index_type *)ch->cols, *const cols_end = cols + ch->nnz;         \
        const int32_t bias = ch->bias, step = stride1 ? 1 : ch->step, pooled = ch->pooled;                     \
        const int32_t acc_step = 4 >> pooled;                                                                  \
        if (cols == cols_end) { /* an all-zero filter row */                                                   \
            for (int32_t i = 0; i < n >> pooled; ++i) {                                                        \
                acc[i] = bias;                                                                                 \
            }                                                                                                  \
            return;                                                                                            \
        }                                                                                                      \
        for (int32_t left = n;;) {                                                                             \
            const int8_t *v = values;                                                                          \
            const index_type *c = cols;                                                                        \
            int32_t acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;                                        \
            do {                                                                                               \
                const int32_t w = *v++;                                                                        \
                if (stride1) {                                                                                 \
                    CSR_WALK_WORD(x, *c++, w);                                                                 \
                } else {                                                                                       \
                    CSR_WALK_BYTES(x, *c++, w, step);                                                          \
                }                                                                                              \
            } while (c != cols_end);                                                                           \
            if (pooled) {                                                                                      \
                acc[0] = tq_max_s32(acc0, acc1);                                                               \
                acc[1] = tq_max_s32(acc2, acc3);                                                               \
            } else {                                                                                           \
                acc[0] = acc0;                                                                                 \
                acc[1] = acc1;                                                                                 \
                acc[2] = acc2;                                                                                 \
                acc[3] = acc3;                                                                                 \
            }                                                                                                  \
            left -= 4;                                                                                         \
            if (left <= 0) {                                                                                   \
                return;                                                                                        \
            }                                                                                                  \
            if (left < 4) { /* step back so that the last walk ends at the last pixel */                       \
                const int32_t back = 4 - left;                                                                 \
                x -= back * step;                                                                              \
                acc -= back >> pooled;                                                                         \
                left = 4;                                                                                      \
            }                                                                                                  \
            x += 4 * step;                                                                                     \
            acc += acc_step;                                                                                   \
        }                                                                                                      \
    }

TQ_DEFINE_CSR_ACCUMULATE(accumulate_u8, uint8_t, 0)
TQ_DEFINE_CSR_ACCUMULATE(accumulate_u16, uint16_t, 0)
TQ_DEFINE_CSR_ACCUMULATE(accumulate_u8_stride1, uint8_t, 1)
TQ_DEFINE_CSR_ACCUMULATE(accumulate_u16_stride1, uint16_t, 1)

typedef void (*accumulate_fn)(const csr_channel_t *, const int8_t *, int32_t, int32_t *);

/* Pass 2: out[i * out_step] = the channel's output of acc[i], i < n; the usual stage (tq_usual_output) in a loop of
 * its own. */
static __attribute__((noinline)) void requantize_channel(const int32_t *acc, int32_t n, int8_t *out,
                                                        const csr_channel_t *ch)
{
    const int32_t *const end = acc + n;
    const int32_t out_step = ch->out_step;
    const tq_channel_output_t *const stage = &ch->stage;
    const tq_requant_t r = stage->requant;
    const int32_t offset = stage->output_offset;
    if (tq_usual_output(r, stage->act_min, stage->act_max)) {
        const tq_requant_t right = {r.multiplier, 0, r.right_shift};
        for (; acc != end; ++acc, out += out_step) {
            *out = tq_saturate_s8(tq_requantize_split(*acc, right) + offset);
        }
    } else {
        const tq_channel_output_t c = {r, offset, stage->act_min, stage->act_max};
        for (; acc != end; ++acc, out += out_step) {
            *out = tq_channel_output_s8(&c, *acc);
        }
    }
}

static accumulate_fn accumulate_for(const tq_csr_t *t, int32_t stride1)
{
    if (t->col_idx_bytes == 1) {
        return stride1 ? accumulate_u8_stride1 : accumulate_u8;
    }
    return stride1 ? accumulate_u16_stride1 : accumulate_u16;
}

void tq_conv2d_csr_s8(int8_t *scratch, const tq_conv2d_s8_params_t *params, const int8_t *input,
                      const tq_csr_t *filter, const int32_t *bias, int8_t *output)
{
    const tq_window_t w = params->window;
    const tq_csr_t t = *filter;
    const tq_output_stage_t q = {params->quant.multiplier, params->quant.shift, params->output_offset,
                                 params->act.min, params->act.max};
    const int8_t pad_value = (int8_t)(-params->input_offset);
    const int32_t in_c = w.input.c, out_c = w.output.c, out_w = w.output.w;
    const int32_t in_batch = w.input.h * w.input.w * in_c;
    const int32_t pooled = params->pool_w == 2; /* output.w is even then, and so is every chunk */
    const int32_t out_row = (out_w >> pooled) * out_c;
    const int32_t row_step = w.stride_h * planar_row(&w);
    const accumulate_fn accumulate = accumulate_for(&t, w.stride_w == 1);
    csr_channel_t ch = {.step = w.stride_w, .pooled = pooled, .out_step = out_c}; /* the rest per channel below */
    for (int32_t b = 0; b < w.input.n; ++b) {
        copy_planar(&w, pad_value, input + b * in_batch, scratch);
        int8_t *out = output + b * w.output.h * out_row;
        int32_t end = (int32_t)tq_load_index(t.row_ptr, t.row_ptr_bytes, 0);
        for (int32_t oc = 0; oc < out_c; ++oc) {
            const int32_t begin = end;
            end = (int32_t)tq_load_index(t.row_ptr, t.row_ptr_bytes, oc + 1);
            ch.values = t.values + begin;
            ch.cols = (const uint8_t *)t.col_idx + begin * t.col_idx_bytes;
            ch.nnz = end - begin;
            ch.bias = bias[oc];
            ch.stage = tq_channel_output(&q, oc);
            for (int32_t oy = 0; oy < w.output.h; ++oy) {
                const int8_t *row = scratch + oy * row_step;
                int8_t *o = out + oy * out_row + oc;
                for (int32_t ox = 0; ox < out_w; ox += CSR_CONV_CHUNK) {
                    int32_t n = out_w - ox < CSR_CONV_CHUNK ? out_w - ox : CSR_CONV_CHUNK;
                    if (n < 4 && out_w >= 4) { /* overlap the chunk before: recomputed outputs are equal */
                        ox = out_w - 4;
                        n = 4;
                    }
                    int32_t acc[CSR_CONV_CHUNK];
                    accumulate(&ch, row + ox * w.stride_w, n < 4 ? 4 : n, acc);
                    requantize_channel(acc, n >> pooled, o + (ox >> pooled) * out_c, &ch);
                }
            }
        }
    }
}
