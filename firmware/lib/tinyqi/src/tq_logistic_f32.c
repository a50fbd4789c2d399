/* LOGISTIC float32 as TFLM's reference: 1 / (1 + exp(-x)) between two cutoffs. */
#include "tq_internal.h"

/* TFLM's cutoffs: 1 above the upper one; exp(x) below the lower one, which differs from the quotient by a factor
 * 1 + exp(x) (1.2e-4 relative at -9), so leaving them out loses bit-exactness, not accuracy. */
#define TQ_LOGISTIC_CUTOFF_UPPER 16.619047164916992188f
#define TQ_LOGISTIC_CUTOFF_LOWER -9.0f

static float logistic_one(float x)
{
    if (x > TQ_LOGISTIC_CUTOFF_UPPER) {
        return 1.0f;
    }
    if (x < TQ_LOGISTIC_CUTOFF_LOWER) {
        return tq_exp_f32(x);
    }
    return 1.0f / (1.0f + tq_exp_f32(-x));
}

void tq_logistic_f32(const tq_elementwise_f32_params_t *params, const float *input, float *output)
{
    for (int32_t i = 0; i < params->size; ++i) {
        output[i] = logistic_one(input[i]);
    }
}
