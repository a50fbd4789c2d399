/* ADD int8, bit-exact with TFLM's reference (both inputs lifted by 2^left_shift, rescaled, summed, rescaled). */
#include "tq_broadcast.h"
#include "tq_internal.h"

/* Elements per pass of the elementwise path: its two int32 staging arrays live on the stack (128 bytes). */
#define TQ_ADD_CHUNK 16

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
 * per-element form needs all three rescales' constants at once and spills them on a Cortex-M4. */
static __attribute__((noinline)) void lift_run(const int8_t *x, int32_t offset, int32_t left_shift,
                                               const tq_requant_t *r, int32_t *lifted, int32_t count)
{
    const int32_t multiplier = r->multiplier, pre = r->left_shift, post = r->right_shift;
    for (int32_t i = 0; i < count; ++i) {
        const tq_requant_t q = {multiplier, pre, post};
        lifted[i] = lift(x[i], offset, left_shift, q);
    }
}

static void add_elementwise(const add_stage_t *s, const int8_t *a, const int8_t *b, int8_t *out, int32_t size)
{
    int32_t lifted_a[TQ_ADD_CHUNK], lifted_b[TQ_ADD_CHUNK];
    for (int32_t start = 0; start < size; start += TQ_ADD_CHUNK) {
        const int32_t count = size - start < TQ_ADD_CHUNK ? size - start : TQ_ADD_CHUNK;
        lift_run(a + start, s->input1_offset, s->left_shift, &s->input1, lifted_a, count);
        lift_run(b + start, s->input2_offset, s->left_shift, &s->input2, lifted_b, count);
        for (int32_t i = 0; i < count; ++i) {
            out[start + i] = add_lifted(s, lifted_a[i], lifted_b[i]);
        }
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
