/* FULLY_CONNECTED int8 with a CSR filter: each output walks only its row's non-zeros.
 * Small layers (1-byte indices, an activation as wide as int8) take one pass (fc_rows_u8, below); the others two
 * passes over a chunk of outputs, each out of line so that its loop has the registers to itself (one fused
 * loop spilled the output stage around every row):
 *   1. the sums: the rows are consecutive in the table, so one walk runs on through all of them, two non-zeros
 *      per step; the index type is fixed per instantiation. They go to a stack buffer.
 *   2. their requantisation, output by output with its channel's multiplier and shift. */
#include "tq_internal.h"

/* Outputs per chunk: 256 bytes of int32 sums on the stack. */
#define CSR_FC_CHUNK 64

/* Pass 1: acc[i] = bias[i] + sum_k values[k] * x[cols[k]] over row first + i of the table, i < n. */
#define TQ_DEFINE_CSR_FC_SUMS(name, index_type)                                                                \
    static __attribute__((noinline)) void name(const tq_csr_t *table, int32_t first, int32_t n,               \
                                               const int32_t *bias, const int8_t *x, int32_t *acc)             \
    {                                                                                                          \
        const void *const row_ptr = table->row_ptr;                                                            \
        const uint8_t row_ptr_bytes = table->row_ptr_bytes;                                                    \
        const int8_t *const values = table->values;                                                            \
        const index_type *const cols = (const index_type *)table->col_idx;                                     \
        int32_t k = (int32_t)tq_load_index(row_ptr, row_ptr_bytes, first);                                     \
        for (int32_t i = 0; i < n; ++i) {                                                                      \
            const int32_t end = (int32_t)tq_load_index(row_ptr, row_ptr_bytes, first + i + 1);                 \
            int32_t sum = bias[i];                                                                             \
            if ((end - k) & 1) {                                                                               \
                sum += values[k] * x[cols[k]];                                                                 \
                ++k;                                                                                           \
            }                                                                                                  \
            for (; k != end; k += 2) {                                                                         \
                sum += values[k] * x[cols[k]] + values[k + 1] * x[cols[k + 1]];                               \
            }                                                                                                  \
            acc[i] = sum;                                                                                      \
        }                                                                                                      \
    }

TQ_DEFINE_CSR_FC_SUMS(sums_u8, uint8_t)
TQ_DEFINE_CSR_FC_SUMS(sums_u16, uint16_t)
TQ_DEFINE_CSR_FC_SUMS(sums_u32, uint32_t)

/* Pass 2: out[i] = the output of acc[i] for channel first + i, i < n. With an activation as wide as int8 (none,
 * or a ReLU whose zero point is -128) the clamp is one saturation. */
static void requantize_outputs(const tq_fully_connected_s8_params_t *params, int32_t first, int32_t n,
                               const int32_t *acc, int8_t *out)
{
    const int32_t *const multiplier = params->quant.multiplier + first, *const shift = params->quant.shift + first;
    const int32_t offset = params->output_offset, act_min = params->act.min, act_max = params->act.max;
    if (act_min == INT8_MIN && act_max == INT8_MAX) {
        for (int32_t i = 0; i < n; ++i) {
            out[i] = tq_saturate_s8(tq_requantize(acc[i], multiplier[i], shift[i]) + offset);
        }
    } else {
        for (int32_t i = 0; i < n; ++i) {
            out[i] = (int8_t)tq_clamp(tq_requantize(acc[i], multiplier[i], shift[i]) + offset, act_min, act_max);
        }
    }
}

/* The usual small layer in one pass: one-byte row pointers and column indices (fewer than 256 non-zeros and inputs)
 * and an activation as wide as int8. Each sum is requantised as soon as its row is done, with pointers walking
 * the table, the biases, multipliers and shifts: per output a few loads and the requantisation besides the
 * multiply-accumulates. On layers of a few dozen outputs with one or two non-zeros each the two passes above spend
 * more around them (the ECG model's 24 outputs of 31 non-zeros: 1,725 modelled cycles, this loop 1,511). */
static __attribute__((noinline)) void fc_rows_u8(const tq_fully_connected_s8_params_t *params, const tq_csr_t *table,
                                                 const int32_t *bias, const int8_t *x, int8_t *out)
{
    const uint8_t *row_end = (const uint8_t *)table->row_ptr;
    const uint8_t *const cols = (const uint8_t *)table->col_idx;
    const uint8_t *c = cols + *row_end;
    const int8_t *v = table->values + *row_end;
    const int32_t *multiplier = params->quant.multiplier, *shift = params->quant.shift;
    const int32_t offset = params->output_offset;
    int8_t *const out_end = out + params->output_depth;
    while (out != out_end) {
        const uint8_t *const c_end = cols + *++row_end;
        int32_t sum = *bias++;
        while (c != c_end) {
            sum += *v++ * x[*c++];
        }
        *out++ = tq_saturate_s8(tq_requantize(sum, *multiplier++, *shift++) + offset);
    }
}

void tq_fully_connected_csr_s8(const tq_fully_connected_s8_params_t *params, const int8_t *input,
                               const tq_csr_t *filter, const int32_t *bias, int8_t *output)
{
    const int32_t depth = params->accum_depth, out_c = params->output_depth;
    void (*const sums)(const tq_csr_t *, int32_t, int32_t, const int32_t *, const int8_t *, int32_t *) =
        filter->col_idx_bytes == 1 ? sums_u8 : filter->col_idx_bytes == 2 ? sums_u16 : sums_u32;
    if (filter->row_ptr_bytes == 1 && filter->col_idx_bytes == 1 && params->act.min == INT8_MIN &&
        params->act.max == INT8_MAX) {
        for (int32_t b = 0; b < params->batches; ++b) {
            fc_rows_u8(params, filter, bias, input + b * depth, output + b * out_c);
        }
        return;
    }
    for (int32_t b = 0; b < params->batches; ++b) {
        for (int32_t first = 0; first < out_c; first += CSR_FC_CHUNK) {
            const int32_t n = out_c - first < CSR_FC_CHUNK ? out_c - first : CSR_FC_CHUNK;
            int32_t acc[CSR_FC_CHUNK];
            sums(filter, first, n, bias + first, input + b * depth, acc);
            requantize_outputs(params, first, n, acc, output + b * out_c + first);
        }
    }
}
