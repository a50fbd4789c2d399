/* MUL float32 with broadcasting and fused activation clamp. */
#include "tq_broadcast.h"
#include "tq_internal.h"

static float mul_one(const tq_binary_f32_params_t *p, float a, float b)
{
    const float v = a * b;
    return tq_clamp_f32(v, p->act);
}

void tq_mul_f32(const tq_binary_f32_params_t *params, const float *input1, const float *input2, float *output)
{
#define TQ_MUL_BODY(o, a, b) output[o] = mul_one(params, input1[a], input2[b])
    TQ_BROADCAST_FOR_EACH(&params->shape, TQ_MUL_BODY);
#undef TQ_MUL_BODY
}
