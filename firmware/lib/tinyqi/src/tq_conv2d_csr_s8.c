/* CONV_2D int8 with a CSR filter: the cost is proportional to the non-zero weights.
 * Column indices are offsets inside the window of the (padded) input, computed by codegen for this layer's
 * geometry; they are 1 or 2 bytes wide (codegen refuses windows spanning more than 64 KiB).
 * One output channel (filter row) at a time, over chunks of an output row, in two passes that are each out of line
 * so that their loops have the registers to themselves (one fused loop spilled in both):
 *   1. accumulate: four pixels per walk of the row's non-zeros; per non-zero, one value and one index load feed
 *      four multiply-accumulates. The sums go to a stack buffer.
 *   2. requantise them with the channel's split output stage in registers.
 * params->pool_w == 2 fuses the following 1x2 max-pool (tinyqi.h): pass 1 keeps the larger sum of each pair of
 * pixels (monotonic requantisation, codegen checks). */
#include "tq_internal.h"

/* Pixels per chunk, a multiple of the walk's four: 256 bytes of int32 sums on the stack. */
#define CSR_CONV_CHUNK 64

int32_t tq_conv2d_csr_s8_get_buffer_size(const tq_conv2d_s8_params_t *params)
{
    return tq_window_padded_bytes_s8(&params->window);
}

/* One output channel: its filter row, bias and split output stage, and the pixels' geometry. */
typedef struct {
    const int8_t *values;
    const void *cols; /* window offsets; the index type is fixed per instantiation of pass 1 */
    int32_t nnz;
    int32_t bias;
    int32_t step;     /* input elements between two neighbouring pixels */
    int32_t walk[3];  /* offsets of a walk's pixels 1..3 from its first: 1..3 steps, or, in a row of fewer than
                         four pixels, its last pixel again */
    int32_t pooled;   /* 1: a fused 1x2 max-pool; pixel counts are even */
    int32_t out_step; /* output elements between two neighbouring outputs of the channel */
    tq_channel_output_t stage;
} csr_channel_t;

/* Pass 1 for the n >= 4 pixels of a chunk, x the first: acc receives bias + sum_k values[k] * pixel[cols[k]] per
 * pixel, or per pooling window. When n is not a multiple of four the last walk overlaps the one before: it
 * recomputes up to three pixels, exactly, and reads only inside the input. A row of fewer than four pixels comes
 * as n = 4 with its last pixel repeated (ch->walk). */
#define TQ_DEFINE_CSR_ACCUMULATE(name, index_type)                                                             \
    static __attribute__((noinline)) void name(const csr_channel_t *ch, const int8_t *x, int32_t n, int32_t *acc) \
    {                                                                                                          \
        const int8_t *const values = ch->values;                                                               \
        const index_type *const cols = (const index_type *)ch->cols, *const cols_end = cols + ch->nnz;         \
        const int32_t bias = ch->bias, step = ch->step, pooled = ch->pooled;                                   \
        const int32_t walk_step = 4 * step, acc_step = 4 >> pooled;                                            \
        if (cols == cols_end) { /* an all-zero filter row */                                                   \
            for (int32_t i = 0; i < n >> pooled; ++i) {                                                        \
                acc[i] = bias;                                                                                 \
            }                                                                                                  \
            return;                                                                                            \
        }                                                                                                      \
        const int8_t *x0 = x, *x1 = x + ch->walk[0], *x2 = x + ch->walk[1], *x3 = x + ch->walk[2];             \
        for (int32_t left = n;;) {                                                                             \
            const int8_t *v = values;                                                                          \
            const index_type *c = cols;                                                                        \
            int32_t acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;                                        \
            do {                                                                                               \
                const int32_t w = *v++;                                                                        \
                const index_type o = *c++;                                                                     \
                acc0 += w * x0[o];                                                                             \
                acc1 += w * x1[o];                                                                             \
                acc2 += w * x2[o];                                                                             \
                acc3 += w * x3[o];                                                                             \
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
                x0 -= back * step;                                                                             \
                x1 -= back * step;                                                                             \
                x2 -= back * step;                                                                             \
                x3 -= back * step;                                                                             \
                acc -= back >> pooled;                                                                         \
                left = 4;                                                                                      \
            }                                                                                                  \
            x0 += walk_step;                                                                                   \
            x1 += walk_step;                                                                                   \
            x2 += walk_step;                                                                                   \
            x3 += walk_step;                                                                                   \
            acc += acc_step;                                                                                   \
        }                                                                                                      \
    }

TQ_DEFINE_CSR_ACCUMULATE(accumulate_u8, uint8_t)
TQ_DEFINE_CSR_ACCUMULATE(accumulate_u16, uint16_t)

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
    const int32_t step = w.stride_w * in_c, last = out_w - 1;
    const accumulate_fn accumulate = t.col_idx_bytes == 1 ? accumulate_u8 : accumulate_u16;
    csr_channel_t ch = {.step = step,
                        .walk = {(last < 1 ? last : 1) * step, (last < 2 ? last : 2) * step,
                                 (last < 3 ? last : 3) * step},
                        .pooled = pooled,
                        .out_step = out_c}; /* the filter row, bias and stage: per channel below */
    for (int32_t b = 0; b < w.input.n; ++b) {
        int32_t row_stride;
        const int8_t *src = tq_window_source_s8(&w, pad_value, input + b * in_batch, scratch, &row_stride);
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
                const int8_t *row = src + oy * w.stride_h * row_stride;
                int8_t *o = out + oy * out_row + oc;
                for (int32_t ox = 0; ox < out_w; ox += CSR_CONV_CHUNK) {
                    int32_t n = out_w - ox < CSR_CONV_CHUNK ? out_w - ox : CSR_CONV_CHUNK;
                    if (n < 4 && out_w >= 4) { /* overlap the chunk before: recomputed outputs are equal */
                        ox = out_w - 4;
                        n = 4;
                    }
                    int32_t acc[CSR_CONV_CHUNK];
                    accumulate(&ch, row + ox * step, n < 4 ? 4 : n, acc);
                    requantize_channel(acc, n >> pooled, o + (ox >> pooled) * out_c, &ch);
                }
            }
        }
    }
}
