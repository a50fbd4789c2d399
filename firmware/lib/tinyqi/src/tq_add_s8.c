/* ADD int8, bit-exact with TFLM's reference (both inputs lifted by 2^left_shift, rescaled, summed, rescaled). */
#include "tq_broadcast.h"
#include "tq_internal.h"

/* Elements per pass of the elementwise path: its two int32 staging arrays live on the stack (256 bytes). */
#define TQ_ADD_CHUNK 32

/* The three rescales with their shifts split once per call rather than once per element. */
typedef struct {
    tq_requant_t input1, input2, output;
    int32_t input1_offset, input2_offset, left_shift, output_offset, act_min, act_max;
} add_stage_t;

static inline int32_t lift(int32_t x, int32_t offset, int32_t left_shift, tq_requant_t r)
{
    return tq_requantize_split((x + offset) * (1 << left_shift), r);
}

static inline int8_t add_lifted(const add_stage_t *s, int32_t lifted_a, int32_t lifted_b)
{
    const int32_t sum = tq_requantize_split(lifted_a + lifted_b, s->output);
    return (int8_t)tq_clamp(sum + s->output_offset, s->act_min, s->act_max);
}

static inline int8_t add_one(const add_stage_t *s, int32_t a, int32_t b)
{
    return add_lifted(s, lift(a, s->input1_offset, s->left_shift, s->input1),
                      lift(b, s->input2_offset, s->left_shift, s->input2));
}

/* One input's rescale for `count` elements. A loop of its own keeps its few constants in registers; the fused
 * per-element form needs all three rescales' constants at once and spills them on a Cortex-M4.
 * The input with the larger scale always has the rescale 1/2 (TFLM divides both scales by twice the larger one,
 * and 1/2 is multiplier 2^30, shift 0): tq_requantize_split((x + offset) << left_shift, that) is exactly
 * (x + offset) << (left_shift - 1), as the product is even, so that input is lifted by a shift alone. */
static __attribute__((noinline)) void lift_run(const int8_t *x, int32_t offset, int32_t left_shift,
                                               const tq_requant_t *r, int32_t *lifted, int32_t count)
{
    const int32_t multiplier = r->multiplier, pre = r->left_shift, post = r->right_shift;
    if (multiplier == (1 << 30) && pre == 0 && post == 0 && left_shift >= 1) {
        const int32_t halved = left_shift - 1;
        for (int32_t i = 0; i < count; ++i) {
            lifted[i] = (x[i] + offset) * (1 << halved);
        }
        return;
    }
    if (pre == 0 && post > 0) { /* the other input's usual rescale, below 1/2: a right shift only */
        const tq_requant_t right = {multiplier, 0, post};
        for (int32_t i = 0; i < count; ++i) {
            lifted[i] = lift(x[i], offset, left_shift, right);
        }
        return;
    }
    for (int32_t i = 0; i < count; ++i) {
        const tq_requant_t q = {multiplier, pre, post};
        lifted[i] = lift(x[i], offset, left_shift, q);
    }
}

/* out[i] = the output stage of lifted_a[i] + lifted_b[i]. Out of line, with the usual stage (tq_usual_output) in a
 * loop of its own, for the same reason as lift_run. */
static __attribute__((noinline)) void sum_run(const add_stage_t *s, const int32_t *lifted_a,
                                              const int32_t *lifted_b, int8_t *out, int32_t count)
{
    const tq_requant_t r = s->output;
    const int32_t offset = s->output_offset;
    if (tq_usual_output(r, s->act_min, s->act_max)) {
        const tq_requant_t right = {r.multiplier, 0, r.right_shift};
        for (int32_t i = 0; i < count; ++i) {
            out[i] = tq_saturate_s8(tq_requantize_split(lifted_a[i] + lifted_b[i], right) + offset);
        }
        return;
    }
    for (int32_t i = 0; i < count; ++i) {
        out[i] = add_lifted(s, lifted_a[i], lifted_b[i]);
    }
}

static void add_elementwise(const add_stage_t *s, const int8_t *a, const int8_t *b, int8_t *out, int32_t size)
{
    int32_t lifted_a[TQ_ADD_CHUNK], lifted_b[TQ_ADD_CHUNK];
    for (int32_t start = 0; start < size; start += TQ_ADD_CHUNK) {
        const int32_t count = size - start < TQ_ADD_CHUNK ? size - start : TQ_ADD_CHUNK;
        lift_run(a + start, s->input1_offset, s->left_shift, &s->input1, lifted_a, count);
        lift_run(b + start, s->input2_offset, s->left_shift, &s->input2, lifted_b, count);
        sum_run(s, lifted_a, lifted_b, out + start, count);
    }
}

void tq_add_s8(const tq_add_s8_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const tq_add_s8_params_t *p = params;
    const add_stage_t stage = {tq_requant_split(p->input1_multiplier, p->input1_shift),
                               tq_requant_split(p->input2_multiplier, p->input2_shift),
                               tq_requant_split(p->output_multiplier, p->output_shift),
                               p->input1_offset, p->input2_offset, p->left_shift, p->output_offset,
                               p->act.min, p->act.max};
    if (params->shape.elementwise) {
        add_elementwise(&stage, input1, input2, output, params->shape.size);
        return;
    }
#define TQ_ADD_BODY(o, a, b) output[o] = add_one(&stage, input1[a], input2[b])
    TQ_BROADCAST_FOR_EACH(&params->shape, TQ_ADD_BODY);
#undef TQ_ADD_BODY
}
