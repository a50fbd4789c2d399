/* ADD int8, bit-exact with TFLM's reference (both inputs lifted by 2^left_shift, rescaled, summed, rescaled). */
#include "tq_broadcast.h"
#include "tq_internal.h"

static int8_t add_one(const tq_add_s8_params_t *p, int32_t a, int32_t b)
{
    const int32_t shifted_a = (a + p->input1_offset) * (1 << p->left_shift);
    const int32_t shifted_b = (b + p->input2_offset) * (1 << p->left_shift);
    const int32_t scaled_a = tq_requantize(shifted_a, p->input1_multiplier, p->input1_shift);
    const int32_t scaled_b = tq_requantize(shifted_b, p->input2_multiplier, p->input2_shift);
    const int32_t sum = tq_requantize(scaled_a + scaled_b, p->output_multiplier, p->output_shift);
    return (int8_t)tq_clamp(sum + p->output_offset, p->act.min, p->act.max);
}

void tq_add_s8(const tq_add_s8_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
#define TQ_ADD_BODY(o, a, b) output[o] = add_one(params, input1[a], input2[b])
    TQ_BROADCAST_FOR_EACH(&params->shape, TQ_ADD_BODY);
#undef TQ_ADD_BODY
}
