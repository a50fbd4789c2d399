/* MUL int8, bit-exact with TFLM's reference MulElementwise / BroadcastMul. */
#include "tq_broadcast.h"
#include "tq_internal.h"

static int8_t mul_one(const tq_mul_s8_params_t *p, int32_t a, int32_t b)
{
    const int32_t product = (a + p->input1_offset) * (b + p->input2_offset);
    const int32_t scaled = tq_requantize(product, p->output_multiplier, p->output_shift);
    return (int8_t)tq_clamp(scaled + p->output_offset, p->act.min, p->act.max);
}

void tq_mul_s8(const tq_mul_s8_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
#define TQ_MUL_BODY(o, a, b) output[o] = mul_one(params, input1[a], input2[b])
    TQ_BROADCAST_FOR_EACH(&params->shape, TQ_MUL_BODY);
#undef TQ_MUL_BODY
}
