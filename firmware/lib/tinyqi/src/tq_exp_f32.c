/* exp() of the float32 kernels, with the arithmetic of glibc's expf, which TFLM's Python interpreter calls.
 *
 * Why not libm's expf: for a single-precision FPU (Cortex-M4F) newlib keeps the older fdlibm expf, 1 ulp off
 * glibc's on ~9% of softmax inputs. glibc's expf (from Arm's optimized-routines; newlib uses it too, but only with
 * a double-precision FPU) works in double: x*N/ln2 = k + r with N = 32 and |r| <= 1/2, exp(x) = 2^(k/N) * 2^(r/N),
 * 2^(k/N) from a table and the exponent field, 2^(r/N) from a cubic, one rounding to float at the end. Each step
 * below is one correctly rounded IEEE-754 double operation, as in glibc (on the M4F: libgcc's soft-float, ~1000
 * cycles a call), so the result equals glibc's generic expf for every one of the 2^32 inputs (checked
 * exhaustively on the host, sampled on the M4F by tests/test_kernels_arm.py). glibc's FMA build, picked on x86-64
 * CPUs with FMA, fuses the multiply-adds and differs from it at two inputs only: 0x1.04845ep+5, -0x1.f8cbb2p+5. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tq_internal.h"

#define TQ_EXP_TABLE_BITS 5
#define TQ_EXP_N (1 << TQ_EXP_TABLE_BITS)
/* The inputs glibc takes through the main path: above, exp(x) overflows float; below, it rounds to +0. */
#define TQ_EXP_MAX 0x1.62e42ep6f
#define TQ_EXP_MIN -0x1.9fe368p6f

/* Bits of 2^(i/N) rounded to nearest, minus i << (52 - TABLE_BITS): adding k << (52 - TABLE_BITS) to entry
 * k mod N yields 2^(k/N), the integer part of k/N landing in the exponent field. Computed in Python (decimal at 60
 * digits): struct.unpack("<Q", struct.pack("<d", float(Decimal(2) ** (Decimal(i) / 32))))[0] - (i << 47). */
static const uint64_t tq_exp2_table[TQ_EXP_N] = {
    0x3ff0000000000000u, 0x3fefd9b0d3158574u, 0x3fefb5586cf9890fu, 0x3fef9301d0125b51u, 0x3fef72b83c7d517bu,
    0x3fef54873168b9aau, 0x3fef387a6e756238u, 0x3fef1e9df51fdee1u, 0x3fef06fe0a31b715u, 0x3feef1a7373aa9cbu,
    0x3feedea64c123422u, 0x3feece086061892du, 0x3feebfdad5362a27u, 0x3feeb42b569d4f82u, 0x3feeab07dd485429u,
    0x3feea47eb03a5585u, 0x3feea09e667f3bcdu, 0x3fee9f75e8ec5f74u, 0x3feea11473eb0187u, 0x3feea589994cce13u,
    0x3feeace5422aa0dbu, 0x3feeb737b0cdc5e5u, 0x3feec49182a3f090u, 0x3feed503b23e255du, 0x3feee89f995ad3adu,
    0x3feeff76f2fb5e47u, 0x3fef199bdd85529cu, 0x3fef3720dcef9069u, 0x3fef5818dcfba487u, 0x3fef7c97337b9b5fu,
    0x3fefa4afa2a490dau, 0x3fefd0765b6e4540u,
};

/* N/ln2 as glibc rounds it, and 1.5 * 2^52: adding it rounds a double below 2^51 to an integer in the low bits. */
static const double tq_exp_inv_ln2_n = 0x1.71547652b82fep+0 * TQ_EXP_N;
static const double tq_exp_shift = 0x1.8p+52;
/* glibc's minimax cubic for 2^t - 1 on |t| <= 1/(2N), rescaled to take r = N t. */
static const double tq_exp_c0 = 0x1.c6af84b912394p-5 / TQ_EXP_N / TQ_EXP_N / TQ_EXP_N;
static const double tq_exp_c1 = 0x1.ebfce50fac4f3p-3 / TQ_EXP_N / TQ_EXP_N;
static const double tq_exp_c2 = 0x1.62e42ff0c52d6p-1 / TQ_EXP_N;

static uint64_t tq_f64_bits(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

static double tq_f64_from_bits(uint64_t bits)
{
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* Outside [TQ_EXP_MIN, TQ_EXP_MAX], as glibc: NaN propagates, +inf above, +0 below. */
static float tq_exp_outside_f32(float x)
{
    if (x != x) {
        return x + x;
    }
    return x > 0.0f ? HUGE_VALF : 0.0f;
}

float tq_exp_f32(float x)
{
    if (!(x >= TQ_EXP_MIN && x <= TQ_EXP_MAX)) {
        return tq_exp_outside_f32(x);
    }
    const double z = tq_exp_inv_ln2_n * (double)x;
    const double shifted = z + tq_exp_shift;
    const uint64_t ki = tq_f64_bits(shifted);
    const double r = z - (shifted - tq_exp_shift);
    const double scale = tq_f64_from_bits(tq_exp2_table[ki % TQ_EXP_N] + (ki << (52 - TQ_EXP_TABLE_BITS)));
    const double high = tq_exp_c0 * r + tq_exp_c1;
    const double low = tq_exp_c2 * r + 1.0;
    return (float)((high * (r * r) + low) * scale);
}
