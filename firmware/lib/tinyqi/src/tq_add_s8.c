/* ADD int8, bit-exact with TFLM's reference (both inputs lifted by 2^left_shift, rescaled, summed, rescaled). */
#include "tq_broadcast.h"
#include "tq_internal.h"

/* The three rescales with their shifts split once per call rather than once per element. */
typedef struct {
    tq_requant_t input1, input2, output;
    int32_t input1_offset, input2_offset, left_shift, output_offset, act_min, act_max;
} add_stage_t;

static inline int8_t add_one(const add_stage_t *s, int32_t a, int32_t b)
{
    const int32_t shifted_a = (a + s->input1_offset) * (1 << s->left_shift);
    const int32_t shifted_b = (b + s->input2_offset) * (1 << s->left_shift);
    const int32_t scaled_a = tq_requantize_split(shifted_a, s->input1);
    const int32_t scaled_b = tq_requantize_split(shifted_b, s->input2);
    const int32_t sum = tq_requantize_split(scaled_a + scaled_b, s->output);
    return (int8_t)tq_clamp(sum + s->output_offset, s->act_min, s->act_max);
}

void tq_add_s8(const tq_add_s8_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const tq_add_s8_params_t *p = params;
    const add_stage_t stage = {tq_requant_split(p->input1_multiplier, p->input1_shift),
                               tq_requant_split(p->input2_multiplier, p->input2_shift),
                               tq_requant_split(p->output_multiplier, p->output_shift),
                               p->input1_offset, p->input2_offset, p->left_shift, p->output_offset,
                               p->act.min, p->act.max};
#define TQ_ADD_BODY(o, a, b) output[o] = add_one(&stage, input1[a], input2[b])
    TQ_BROADCAST_FOR_EACH(&params->shape, TQ_ADD_BODY);
#undef TQ_ADD_BODY
}
