/* int8 dot products shared by the dense kernels (declared in tq_internal.h). They live in their own file so the
 * compiler allocates their registers on their own: inlined into a kernel, the accumulators and pointers spill.
 * Integer addition is exact, so the Cortex-M DSP path (SXTB16 + SMLAD: two 16-bit MACs per instruction) returns
 * exactly the portable loop's sums. */
#include "tq_internal.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define TQ_USE_DSP 1

static inline uint32_t read_s8x4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4); /* unaligned-safe; one LDR on Cortex-M4 */
    return word;
}

/* Bytes 1 and 3 sign-extended to two halfwords (SXTB16's free rotation; GCC does not fold a separate ROR). */
static inline uint32_t sxtb16_ror8(uint32_t word)
{
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}
#else
#define TQ_USE_DSP 0
#endif

int32_t tq_dot_s8(const int8_t *x, const int8_t *w, int32_t n)
{
    int32_t acc = 0;
#if TQ_USE_DSP
    for (; n >= 4; n -= 4, x += 4, w += 4) {
        const uint32_t xw = read_s8x4(x), ww = read_s8x4(w);
        acc = __smlad(__sxtb16(ww), __sxtb16(xw), acc);
        acc = __smlad(sxtb16_ror8(ww), sxtb16_ror8(xw), acc);
    }
#endif
    for (; n > 0; --n) {
        acc += (int32_t)*x++ * (int32_t)*w++;
    }
    return acc;
}

void tq_dot2_s8(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = *acc0, a1 = *acc1;
#if TQ_USE_DSP
    for (; n >= 4; n -= 4, x += 4, w0 += 4, w1 += 4) {
        const uint32_t xw = read_s8x4(x), w0w = read_s8x4(w0), w1w = read_s8x4(w1);
        const uint32_t x_even = __sxtb16(xw), x_odd = sxtb16_ror8(xw);
        a0 = __smlad(__sxtb16(w0w), x_even, a0);
        a0 = __smlad(sxtb16_ror8(w0w), x_odd, a0);
        a1 = __smlad(__sxtb16(w1w), x_even, a1);
        a1 = __smlad(sxtb16_ror8(w1w), x_odd, a1);
    }
#endif
    for (; n > 0; --n) {
        const int32_t v = *x++;
        a0 += v * *w0++;
        a1 += v * *w1++;
    }
    *acc0 = a0;
    *acc1 = a1;
}

void tq_dot2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1, int32_t n, int32_t acc[2][2])
{
    int32_t a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
#if TQ_USE_DSP
    for (; n >= 4; n -= 4, x0 += 4, x1 += 4, w0 += 4, w1 += 4) {
        const uint32_t w0w = read_s8x4(w0), w1w = read_s8x4(w1);
        const uint32_t w0e = __sxtb16(w0w), w0o = sxtb16_ror8(w0w);
        const uint32_t w1e = __sxtb16(w1w), w1o = sxtb16_ror8(w1w);
        uint32_t xw = read_s8x4(x0);
        uint32_t xe = __sxtb16(xw), xo = sxtb16_ror8(xw);
        a00 = __smlad(w0e, xe, a00);
        a00 = __smlad(w0o, xo, a00);
        a01 = __smlad(w1e, xe, a01);
        a01 = __smlad(w1o, xo, a01);
        xw = read_s8x4(x1);
        xe = __sxtb16(xw);
        xo = sxtb16_ror8(xw);
        a10 = __smlad(w0e, xe, a10);
        a10 = __smlad(w0o, xo, a10);
        a11 = __smlad(w1e, xe, a11);
        a11 = __smlad(w1o, xo, a11);
    }
#endif
    for (; n > 0; --n) {
        const int32_t f0 = *w0++, f1 = *w1++, v0 = *x0++, v1 = *x1++;
        a00 += v0 * f0;
        a01 += v0 * f1;
        a10 += v1 * f0;
        a11 += v1 * f1;
    }
    acc[0][0] = a00;
    acc[0][1] = a01;
    acc[1][0] = a10;
    acc[1][1] = a11;
}
