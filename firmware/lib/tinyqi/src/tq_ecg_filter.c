/*
 * ECG chain stages 1-3 (ecg.lowpass_decimate, ecg.highpass, ecg.slope, ecg.qrs_energy), one input sample at a time.
 *
 * Python computes each box filter as a difference of cumulative sums over the whole record, with zeros before the
 * start; here the high-pass and energy boxes are recursive moving sums (add the new value, subtract the one that
 * leaves the box) and the low-pass keeps the cumulative sums themselves (lowpass_integrate). Integer sums are exact,
 * so both give the same number at every index as long as nothing overflows, and the zero-initialised rings are
 * Python's zeros before the start. Bounds (|input| <= 32768 after holding INVALID):
 *   box 6 <= 196608, box 8 of it <= 1572864;  y, b: int16;  box 128 of y <= 2^22, box 128 of that <= 2^29;
 *   d: +-4095, d * d < 2^24, box 27 of it < 2^29.  Every sum, and every sum plus its next term, fits int32.
 */
#include "tq_ecg_internal.h"

/* Stage 1 at 360 Hz: box 6 then box 8 of the held input, returned at the input samples the decimation keeps (gain
 * 48). With S1 and S2 the running sums of the input and of S1 (zero before the start), box 8 of box 6 at input n is
 * S2[n] - S2[n - 6] - S2[n - 8] + S2[n - 14] (the two boxes' differences of cumulative sums, as Python computes
 * them): per input sample two additions and a ring store, the rest only at the kept samples. S1 and S2 wrap modulo
 * 2^32 (unsigned), and the combination is exact because its true value fits in int32 (<= 1572864). */
static void lowpass_integrate(tq_ecg_state_t *s, int32_t x)
{
    s->lp_sum1 += (uint32_t)x;
    s->lp_sum2 += s->lp_sum1;
    s->lp_ring[s->n_in & (TQ_ECG_LP_RING - 1)] = s->lp_sum2;
}

static int32_t lowpass_output(const tq_ecg_state_t *s, int32_t n)
{
    const uint32_t *const ring = s->lp_ring;
    const uint32_t m = TQ_ECG_LP_RING - 1;
    return (int32_t)(ring[n & m] - ring[(n - TQ_ECG_LP_BOX1) & m] - ring[(n - TQ_ECG_LP_BOX2) & m] +
                     ring[(n - TQ_ECG_LP_BOX1 - TQ_ECG_LP_BOX2) & m]);
}

/* Stage 2 for b index k: y delayed by 127 minus the rounded box128(box128(y)) / 2^14, saturated to int16. */
static int32_t highpass(tq_ecg_state_t *s, int32_t k, int32_t y)
{
    const int32_t slot = k & (TQ_ECG_HP_BOX - 1);
    s->hp1_sum += y - s->hp1_ring[slot]; /* the slot held y[k - 128] */
    s->hp1_ring[slot] = (int16_t)y;
    /* y[k - 127] is the next slot: 128 slots are both the box and the delay line (0 before y[0], as `delayed`). */
    const int32_t y_delayed = s->hp1_ring[(k + 1) & (TQ_ECG_HP_BOX - 1)];

    s->hp2_sum += s->hp1_sum - s->hp2_ring[slot];
    s->hp2_ring[slot] = s->hp1_sum;
    const int32_t baseline = (s->hp2_sum + (1 << (TQ_ECG_HP_SHIFT - 1))) >> TQ_ECG_HP_SHIFT; /* floor, as Python */
    return tq_ecg_clamp(y_delayed - baseline, INT16_MIN, INT16_MAX);
}

/* Stage 3 for b index k: keeps b and |d| for the detector, returns mwi = box 27 of d * d. */
static int32_t energy(tq_ecg_state_t *s, int32_t k, int32_t b)
{
    s->b_ring[(uint32_t)k & (TQ_ECG_RING - 1)] = (int16_t)b;
    const int32_t d = tq_ecg_clamp(b - tq_ecg_b(s, k - TQ_ECG_SLOPE_LAG), -TQ_ECG_SLOPE_CLIP, TQ_ECG_SLOPE_CLIP);
    s->slope_ring[k & (TQ_ECG_SLOPE_RING - 1)] = (int16_t)tq_ecg_abs(d);

    const int32_t e = d * d;
    const int32_t pos = s->e_pos;
    s->mwi_sum += e - s->e_ring[pos];
    s->e_ring[pos] = e;
    s->e_pos = pos + 1 == TQ_ECG_MWI_BOX ? 0 : pos + 1;
    return s->mwi_sum;
}

int tq_ecg_filter(tq_ecg_state_t *s, int16_t sample, int32_t *mwi)
{
    if (sample != TQ_ECG_INVALID) { /* ecg.hold_invalid: a gap is a flat line at the last valid value */
        s->last_valid = sample;
    }
    lowpass_integrate(s, s->last_valid);
    const int32_t n = s->n_in++;
    if ((n & 1) == 0) { /* decimation keeps the odd input samples: y[k] is input 2k + 1 */
        return 0;
    }
    const int32_t low = lowpass_output(s, n);
    const int32_t y = tq_ecg_clamp((low + (1 << (TQ_ECG_LP_SHIFT - 1))) >> TQ_ECG_LP_SHIFT, INT16_MIN, INT16_MAX);
    const int32_t k = s->k++;
    *mwi = energy(s, k, highpass(s, k, y));
    return 1;
}
