/* int8 dot products shared by the dense kernels (declared in tq_internal.h). They live in their own file so the
 * compiler allocates their registers on their own: inlined into a kernel, the accumulators and pointers spill.
 * Integer addition is exact, so the Cortex-M DSP path (SXTB16 + SMLAD: two 16-bit MACs per instruction) returns
 * exactly the portable loop's sums. */
#include "tq_internal.h"

int32_t tq_dot_s8(const int8_t *x, const int8_t *w, int32_t n)
{
    int32_t acc = 0;
#if TQ_USE_DSP
    for (; n >= 4; n -= 4, x += 4, w += 4) {
        const uint32_t xw = tq_read_s8x4(x), ww = tq_read_s8x4(w);
        acc = __smlad(__sxtb16(ww), __sxtb16(xw), acc);
        acc = __smlad(tq_sxtb16_ror8(ww), tq_sxtb16_ror8(xw), acc);
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
        const uint32_t xw = tq_read_s8x4(x), w0w = tq_read_s8x4(w0), w1w = tq_read_s8x4(w1);
        const uint32_t x_even = __sxtb16(xw), x_odd = tq_sxtb16_ror8(xw);
        a0 = __smlad(__sxtb16(w0w), x_even, a0);
        a0 = __smlad(tq_sxtb16_ror8(w0w), x_odd, a0);
        a1 = __smlad(__sxtb16(w1w), x_even, a1);
        a1 = __smlad(tq_sxtb16_ror8(w1w), x_odd, a1);
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

/* The assembly below needs 14 free registers: an unoptimised build (-O0) keeps r7 for its frame pointer, so it takes
 * the C loops (as does -fno-omit-frame-pointer, which GCC does not announce: such a build fails to compile here). */
#if TQ_USE_DSP && defined(__OPTIMIZE__)
#define TQ_DOT_ASM 1
#else
#define TQ_DOT_ASM 0
#endif

#if TQ_DOT_ASM
/* The 2x2 loops are written in assembly: they need 14 registers (4 accumulators, 4 pointers, 6 halfword pairs), and
 * GCC spilled an accumulator and a pointer and reloaded them in every iteration (32 modelled cycles per 16 MACs), or,
 * inlined into a kernel's loop over windows, shuffled some 20 registers around each window. Here only the end
 * pointer lives on the stack. An iteration takes 8 elements (an odd count of 4-element steps enters at the second
 * half); the end pointer's load pipelines behind the operand loads of the second half and its compare is made early
 * (SXTB16 and SMLAD leave the flags alone): 49 cycles per 32 MACs. */
#define DOT2X2_STEP(load_end)                                                                                         \
    "ldr %[t0], [%[w0]], #4\n\t"                                                                                      \
    "ldr %[t1], [%[w1]], #4\n\t"                                                                                      \
    "ldr %[t4], [%[x0]], #4\n\t" load_end                                                                             \
    "sxtb16 %[t2], %[t0]\n\t"         /* w0 elements 0, 2 */                                                          \
    "sxtb16 %[t0], %[t0], ror #8\n\t" /* w0 elements 1, 3 */                                                          \
    "sxtb16 %[t3], %[t1]\n\t"                                                                                         \
    "sxtb16 %[t1], %[t1], ror #8\n\t"                                                                                 \
    "sxtb16 %[t5], %[t4]\n\t"                                                                                         \
    "sxtb16 %[t4], %[t4], ror #8\n\t"                                                                                 \
    "smlad %[a00], %[t2], %[t5], %[a00]\n\t"                                                                          \
    "smlad %[a00], %[t0], %[t4], %[a00]\n\t"                                                                          \
    "smlad %[a01], %[t3], %[t5], %[a01]\n\t"                                                                          \
    "smlad %[a01], %[t1], %[t4], %[a01]\n\t"                                                                          \
    "ldr %[t4], [%[x1]], #4\n\t"                                                                                      \
    "sxtb16 %[t5], %[t4]\n\t"                                                                                         \
    "sxtb16 %[t4], %[t4], ror #8\n\t"                                                                                 \
    "smlad %[a10], %[t2], %[t5], %[a10]\n\t"                                                                          \
    "smlad %[a10], %[t0], %[t4], %[a10]\n\t"                                                                          \
    "smlad %[a11], %[t3], %[t5], %[a11]\n\t"                                                                          \
    "smlad %[a11], %[t1], %[t4], %[a11]\n\t"

/* n / 4 steps (n >= 4; `odd` = n & 4, `end` = x0 + n / 4 * 4, both in memory): pointers advanced, accumulators
 * updated. */
#define DOT2X2_LOOP                                                                                                   \
    "ldr %[t0], %[odd]\n\t"                                                                                           \
    "cmp %[t0], #0\n\t"                                                                                               \
    "bne 2f\n\t"                                                                                                      \
    ".p2align 2\n" /* a 32-bit branch target at a halfword address costs a fetch cycle */                             \
    "1:\n\t" DOT2X2_STEP("")                                                                                          \
    "2:\n\t" DOT2X2_STEP("ldr %[t2], %[end]\n\tcmp %[x0], %[t2]\n\t")                                                 \
    "bne 1b\n\t"
#endif

void tq_dot2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1, int32_t n, int32_t acc[2][2])
{
    int32_t a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
#if TQ_DOT_ASM
    if (n >= 4) {
        const int8_t *const end = x0 + (n & ~3);
        const int32_t odd = n & 4;
        uint32_t t0, t1, t2, t3, t4, t5;
        __asm__ volatile(DOT2X2_LOOP
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [x0] "+r"(x0),
                           [x1] "+r"(x1), [w0] "+r"(w0), [w1] "+r"(w1), [t0] "=&r"(t0), [t1] "=&r"(t1),
                           [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5)
                         : [end] "m"(end), [odd] "m"(odd)
                         : "cc", "memory");
    }
    n &= 3;
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

void tq_dot2x2_pairs_s8(const int8_t *x, int32_t step, const int8_t *w0, const int8_t *w1, int32_t n, int32_t pairs,
                        int32_t bias0, int32_t bias1, int32_t *acc0, int32_t *acc1)
{
#if TQ_DOT_ASM
    if (pairs > 0 && n >= 4 && (n & 3) == 0) {
        /* The loop over window pairs keeps its state in memory (the dot product has every register): per pair a
         * dozen loads and stores around the 2x2 loop. */
        const int32_t odd = n & 4;
        const int32_t *const acc_end = acc0 + 2 * pairs;
        const int8_t *end = x;
        int32_t a00, a01, a10, a11;
        const int8_t *x0, *x1, *q0, *q1;
        uint32_t t0, t1, t2, t3, t4, t5;
        __asm__ volatile("0:\n\t"
                         "ldr %[x0], %[x]\n\t"
                         "ldr %[t0], %[step]\n\t"
                         "ldr %[t1], %[n]\n\t"
                         "ldr %[w0], %[in_w0]\n\t"
                         "ldr %[w1], %[in_w1]\n\t"
                         "ldr %[a00], %[bias0]\n\t"
                         "ldr %[a01], %[bias1]\n\t"
                         "add %[x1], %[x0], %[t0]\n\t"
                         "add %[t1], %[x0], %[t1]\n\t"
                         "str %[t1], %[end]\n\t"
                         "mov %[a10], %[a00]\n\t"
                         "mov %[a11], %[a01]\n\t" DOT2X2_LOOP
                         "ldr %[t0], %[acc0]\n\t"
                         "ldr %[t1], %[acc1]\n\t"
                         "ldr %[t2], %[x]\n\t"
                         "ldr %[t3], %[step]\n\t"
                         "str %[a00], [%[t0]], #4\n\t"
                         "str %[a10], [%[t0]], #4\n\t"
                         "str %[a01], [%[t1]], #4\n\t"
                         "str %[a11], [%[t1]], #4\n\t"
                         "add %[t2], %[t2], %[t3], lsl #1\n\t"
                         "str %[t0], %[acc0]\n\t"
                         "str %[t1], %[acc1]\n\t"
                         "str %[t2], %[x]\n\t"
                         "ldr %[t3], %[acc_end]\n\t"
                         "cmp %[t0], %[t3]\n\t"
                         "bne 0b"
                         : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [x0] "=&r"(x0),
                           [x1] "=&r"(x1), [w0] "=&r"(q0), [w1] "=&r"(q1), [t0] "=&r"(t0), [t1] "=&r"(t1),
                           [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5), [x] "+m"(x),
                           [acc0] "+m"(acc0), [acc1] "+m"(acc1), [end] "+m"(end)
                         : [step] "m"(step), [n] "m"(n), [in_w0] "m"(w0), [in_w1] "m"(w1), [bias0] "m"(bias0),
                           [bias1] "m"(bias1), [acc_end] "m"(acc_end), [odd] "m"(odd)
                         : "cc", "memory");
        return;
    }
#endif
    for (int32_t i = 0; i < pairs; ++i, x += 2 * step) {
        int32_t acc[2][2] = {{bias0, bias1}, {bias0, bias1}};
        tq_dot2x2_s8(x, x + step, w0, w1, n, acc);
        *acc0++ = acc[0][0];
        *acc0++ = acc[1][0];
        *acc1++ = acc[0][1];
        *acc1++ = acc[1][1];
    }
}
