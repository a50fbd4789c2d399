/*
 * tinyqi runtime internals shared by several kernels: int8 dot products (with an optional Cortex-M DSP path
 * that gives the same integer sums), CSR row walks, and the padded-window helper of the convolutions.
 */
#ifndef TQ_INTERNAL_H
#define TQ_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "tinyqi.h"

#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#endif

/* The Cortex-M DSP extension (SXTB16, SMLAD): the dense int8 kernels use it where the core has it, and a portable
 * loop with the same integer sums elsewhere (the host build of the tests). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define TQ_USE_DSP 1

static inline uint32_t tq_read_s8x4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4); /* unaligned-safe; one LDR on Cortex-M4 */
    return word;
}

/* Bytes 1 and 3 sign-extended to two halfwords (SXTB16's free rotation; GCC does not fold a separate ROR). */
static inline uint32_t tq_sxtb16_ror8(uint32_t word)
{
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}
#else
#define TQ_USE_DSP 0
#endif

/* int8 dot products (tq_dot_s8.c). Integer addition is exact, so the Cortex-M DSP path (SXTB16 + SMLAD, two
 * 16-bit MACs per instruction) returns the same sums as the portable loop. */
int32_t tq_dot_s8(const int8_t *x, const int8_t *w, int32_t n);
/* *acc0 += x . w0, *acc1 += x . w1: two output channels share every input load. */
void tq_dot2_s8(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int32_t *acc0, int32_t *acc1);
/* acc[p][c] += x_p . w_c for two pixels and two channels: every load feeds two products. */
void tq_dot2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1, int32_t n, int32_t acc[2][2]);
/* The same for `pairs` pairs of windows `step` apart, from x on, each over n contiguous elements:
 * acc0[i] = bias0 + window i . w0 and acc1[i] = bias1 + window i . w1 for i < 2 * pairs. One call per row of a
 * convolution: per window a few loads and stores instead of a call (in assembly when n is a multiple of 4). */
void tq_dot2x2_pairs_s8(const int8_t *x, int32_t step, const int8_t *w0, const int8_t *w1, int32_t n, int32_t pairs,
                        int32_t bias0, int32_t bias1, int32_t *acc0, int32_t *acc1);

/* Output stage of the per-channel kernels, copied out of the params struct: int8 stores may alias anything, so
 * kernels keep these in a local instead of re-reading the params after every output. */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} tq_output_stage_t;

/* One output channel's stage with its shift already split: kernels that walk a channel over many pixels (the CSR
 * convolution) build it once per channel and keep it in registers. */
typedef struct {
    tq_requant_t requant;
    int32_t output_offset;
    int32_t act_min, act_max;
} tq_channel_output_t;

static inline tq_channel_output_t tq_channel_output(const tq_output_stage_t *q, int32_t channel)
{
    const tq_channel_output_t c = {tq_requant_split(q->multiplier[channel], q->shift[channel]), q->output_offset,
                                   q->act_min, q->act_max};
    return c;
}

/* By pointer: GCC copies a struct passed by value at every call, even inlined; a pointer to a local it keeps in
 * registers. */
static inline int8_t tq_channel_output_s8(const tq_channel_output_t *c, int32_t acc)
{
    return (int8_t)tq_clamp(tq_requantize_split(acc, c->requant) + c->output_offset, c->act_min, c->act_max);
}

static inline int8_t tq_output_s8(const tq_output_stage_t *q, int32_t channel, int32_t acc)
{
    const tq_channel_output_t c = tq_channel_output(q, channel);
    return tq_channel_output_s8(&c, acc);
}

/* x clamped to int8, as tq_clamp(x, INT8_MIN, INT8_MAX): one SSAT where the core has it, which a compiler does not
 * always find on its own. For output stages whose activation is as wide as int8 (none, or a ReLU with zero point
 * -128). */
static inline int8_t tq_saturate_s8(int32_t x)
{
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    return (int8_t)__ssat(x, 8);
#else
    return (int8_t)tq_clamp(x, INT8_MIN, INT8_MAX);
#endif
}

/* The usual output stage: no left shift, a rounding right shift and an activation as wide as int8 (none, or a ReLU
 * whose zero point is -128). Kernels give it a loop of its own: with the shift's direction known and the clamp one
 * saturation (tq_saturate_s8), its constants fit in registers. */
static inline int tq_usual_output(tq_requant_t r, int32_t act_min, int32_t act_max)
{
    return r.left_shift == 0 && r.right_shift > 0 && act_min == INT8_MIN && act_max == INT8_MAX;
}

/* The larger of two accumulators: the fused max-pool of the convolutions (exact before requantisation, which is
 * monotonic where codegen fuses). */
static inline int32_t tq_max_s32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/* exp() of the float32 kernels (tq_exp_f32.c): glibc's expf arithmetic, which TFLM's Python interpreter uses, on
 * every target; newlib's expf on the Cortex-M4F rounds differently. */
float tq_exp_f32(float x);

/* Fused activation of the float32 kernels. */
static inline float tq_clamp_f32(float x, tq_act_f32_t act)
{
    return x < act.min ? act.min : (x > act.max ? act.max : x);
}

static inline uint32_t tq_load_index(const void *array, uint8_t bytes, int32_t i)
{
    switch (bytes) {
    case 1:
        return ((const uint8_t *)array)[i];
    case 2:
        return ((const uint16_t *)array)[i];
    default:
        return ((const uint32_t *)array)[i];
    }
}

/* Extent of the padded input that the windows read: rows 0 .. (out_h - 1) * stride + (filter_h - 1) * dilation. */
static inline int32_t tq_window_padded_h(const tq_window_t *w)
{
    return (w->output.h - 1) * w->stride_h + (w->filter_h - 1) * w->dilation_h + 1;
}

static inline int32_t tq_window_padded_w(const tq_window_t *w)
{
    return (w->output.w - 1) * w->stride_w + (w->filter_w - 1) * w->dilation_w + 1;
}

/* 1 when some window reaches outside the input, so the kernel works on a zero-point padded copy. */
static inline int32_t tq_window_needs_padding(const tq_window_t *w)
{
    return w->pad_top > 0 || w->pad_left > 0 || tq_window_padded_h(w) > w->input.h ||
           tq_window_padded_w(w) > w->input.w;
}

/* Bytes of one batch of the padded copy (0 when the input is read in place). */
static inline int32_t tq_window_padded_bytes_s8(const tq_window_t *w)
{
    return tq_window_needs_padding(w) ? tq_window_padded_h(w) * tq_window_padded_w(w) * w->input.c : 0;
}

/* One batch of input as the windows see it: the input itself, or a copy framed with `pad_value` in scratch.
 * Returns the base pointer; *row_stride receives the element distance between two rows. */
const int8_t *tq_window_source_s8(const tq_window_t *w, int8_t pad_value, const int8_t *batch_input,
                                  int8_t *scratch, int32_t *row_stride);

#endif /* TQ_INTERNAL_H */
