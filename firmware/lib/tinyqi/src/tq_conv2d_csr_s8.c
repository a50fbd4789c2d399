/* CONV_2D int8 with a CSR filter: the cost is proportional to the non-zero weights.
 * Column indices are offsets inside the window of the (padded) input, computed by codegen for this layer's
 * geometry; they are 1 or 2 bytes wide (codegen refuses windows spanning more than 64 KiB). Each filter row
 * (output channel) is walked once per four output pixels: per non-zero, one value and one index load feed four
 * multiply-accumulates. params->pool_w == 2 fuses the following 1x2 max-pool (tinyqi.h). */
#include "tq_internal.h"

int32_t tq_conv2d_csr_s8_get_buffer_size(const tq_conv2d_s8_params_t *params)
{
    return tq_window_padded_bytes_s8(&params->window);
}

typedef struct {
    const int8_t *src; /* batch input as the windows see it */
    int32_t row_stride, out_h, out_w, stride_h, pixel_step;
    int32_t pooled; /* 1: a fused 1x2 max-pool (params->pool_w == 2), out_w is even */
} pixels_t;

/* One output channel (CSR row) for every output pixel, four pixels per walk of the row's non-zeros; the index
 * type is fixed per instantiation. With a fused pool, pixels pair up into pooling windows and the larger
 * accumulator of each pair is requantised (monotonic requantisation, codegen checks). */
#define TQ_DEFINE_CSR_CONV_ROW(name, index_type)                                                               \
    static inline int32_t name##_dot(const int8_t *values, const index_type *cols, int32_t nnz, int32_t bias,  \
                                     const int8_t *x)                                                          \
    {                                                                                                          \
        int32_t acc = bias;                                                                                    \
        for (int32_t k = 0; k < nnz; ++k) {                                                                    \
            acc += (int32_t)values[k] * x[cols[k]];                                                            \
        }                                                                                                      \
        return acc;                                                                                            \
    }                                                                                                          \
                                                                                                               \
    static void name(const int8_t *values, const index_type *cols, int32_t nnz, int32_t bias,                  \
                     const pixels_t *px, const tq_channel_output_t q, int32_t out_c, int8_t *out)               \
    {                                                                                                          \
        const int32_t step = px->pixel_step, pooled = px->pooled;                                              \
        for (int32_t oy = 0; oy < px->out_h; ++oy) {                                                           \
            const int8_t *row = px->src + oy * px->stride_h * px->row_stride;                                  \
            int8_t *o = out + oy * (px->out_w >> pooled) * out_c;                                              \
            int32_t ox = 0;                                                                                    \
            for (; ox + 4 <= px->out_w; ox += 4) {                                                             \
                const int8_t *x0 = row + ox * step, *x1 = x0 + step, *x2 = x1 + step, *x3 = x2 + step;         \
                int32_t acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;                                    \
                for (int32_t k = 0; k < nnz; ++k) {                                                            \
                    const int32_t v = values[k];                                                               \
                    const index_type c = cols[k];                                                              \
                    acc0 += v * x0[c];                                                                         \
                    acc1 += v * x1[c];                                                                         \
                    acc2 += v * x2[c];                                                                         \
                    acc3 += v * x3[c];                                                                         \
                }                                                                                              \
                if (pooled) {                                                                                  \
                    o[(ox >> 1) * out_c] = tq_channel_output_s8(&q, tq_max_s32(acc0, acc1));                       \
                    o[((ox >> 1) + 1) * out_c] = tq_channel_output_s8(&q, tq_max_s32(acc2, acc3));                 \
                } else {                                                                                       \
                    o[ox * out_c] = tq_channel_output_s8(&q, acc0);                                             \
                    o[(ox + 1) * out_c] = tq_channel_output_s8(&q, acc1);                                       \
                    o[(ox + 2) * out_c] = tq_channel_output_s8(&q, acc2);                                       \
                    o[(ox + 3) * out_c] = tq_channel_output_s8(&q, acc3);                                       \
                }                                                                                              \
            }                                                                                                  \
            for (; ox < px->out_w; ox += 1 + pooled) {                                                         \
                int32_t acc = name##_dot(values, cols, nnz, bias, row + ox * step);                            \
                if (pooled) {                                                                                  \
                    acc = tq_max_s32(acc, name##_dot(values, cols, nnz, bias, row + (ox + 1) * step));            \
                }                                                                                              \
                o[(ox >> pooled) * out_c] = tq_channel_output_s8(&q, acc);                                      \
            }                                                                                                  \
        }                                                                                                      \
    }

TQ_DEFINE_CSR_CONV_ROW(conv_row_u8, uint8_t)
TQ_DEFINE_CSR_CONV_ROW(conv_row_u16, uint16_t)

void tq_conv2d_csr_s8(int8_t *scratch, const tq_conv2d_s8_params_t *params, const int8_t *input,
                      const tq_csr_t *filter, const int32_t *bias, int8_t *output)
{
    const tq_window_t w = params->window;
    const tq_csr_t t = *filter;
    const tq_output_stage_t q = {params->quant.multiplier, params->quant.shift, params->output_offset,
                                 params->act.min, params->act.max};
    const int8_t pad_value = (int8_t)(-params->input_offset);
    const int32_t in_c = w.input.c, out_c = w.output.c;
    const int32_t in_batch = w.input.h * w.input.w * in_c;
    const int32_t pooled = params->pool_w == 2;
    const int32_t out_batch = w.output.h * (w.output.w >> pooled) * out_c;
    for (int32_t b = 0; b < w.input.n; ++b) {
        pixels_t px = {0, 0, w.output.h, w.output.w, w.stride_h, w.stride_w * in_c, pooled};
        px.src = tq_window_source_s8(&w, pad_value, input + b * in_batch, scratch, &px.row_stride);
        int8_t *out = output + b * out_batch;
        for (int32_t oc = 0; oc < out_c; ++oc) {
            const int32_t begin = (int32_t)tq_load_index(t.row_ptr, t.row_ptr_bytes, oc);
            const int32_t nnz = (int32_t)tq_load_index(t.row_ptr, t.row_ptr_bytes, oc + 1) - begin;
            if (t.col_idx_bytes == 1) {
                conv_row_u8(t.values + begin, (const uint8_t *)t.col_idx + begin, nnz, bias[oc], &px,
                            tq_channel_output(&q, oc), out_c, out + oc);
            } else {
                conv_row_u16(t.values + begin, (const uint16_t *)t.col_idx + begin, nnz, bias[oc], &px,
                             tq_channel_output(&q, oc), out_c, out + oc);
            }
        }
    }
}
