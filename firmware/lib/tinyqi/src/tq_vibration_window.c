/*
 * Vibration chain (vibration.windows), one sample at a time: a ring of the last TQ_VIB_WINDOW samples with its
 * running sum, a countdown to the next complete window, and the window's int8 model input on demand.
 *
 * Python sums each window directly; here the sum is kept recursively (add the new sample, subtract the one that
 * leaves the ring). Integer sums are exact and |sum| <= 1024 * 32768 = 2^25, so both give the same mean. Python's
 * windows start at 0, hop, 2 hop, ...: the first is complete after TQ_VIB_WINDOW samples, each next one hop
 * samples later, which is the countdown. Per sample: one add, one subtract, two stores; per window: 1024
 * subtract-shift-saturate steps (the rounding half-step is folded into the mean once).
 */
#include <string.h>

#include "tq_internal.h"
#include "tq_vibration.h"

/* Python's >> floors. C99 leaves >> of a negative value to the implementation; GCC and Clang shift arithmetically,
 * which floors too. The mean and the scaling rely on it, so refuse to compile where it does not hold. */
typedef char tq_vib_shift_floors[(-7 >> 1) == -4 ? 1 : -1];

int tq_vib_init(tq_vib_state_t *s, int32_t hop)
{
    memset(s, 0, sizeof *s); /* zeros before the first sample: they leave the sum unchanged when they leave */
    s->hop = hop >= 1 ? hop : TQ_VIB_HOP;
    s->countdown = TQ_VIB_WINDOW;
    return hop >= 1 ? 0 : -1;
}

int tq_vib_push(tq_vib_state_t *s, int16_t sample)
{
    const int32_t pos = s->pos;
    s->sum += (int32_t)sample - s->ring[pos];
    s->ring[pos] = sample;
    s->pos = (pos + 1) & (TQ_VIB_WINDOW - 1);
    if (--s->countdown > 0) {
        return 0;
    }
    s->countdown = s->hop;
    s->full = 1;
    return 1;
}

/* (x - mean + half a step) >> INPUT_SHIFT, saturated to int8 (one SSAT on the M4), with base = mean - half a step
 * computed once per window: |x - base| <= 65535 + 128. */
static inline int8_t to_input(int32_t x, int32_t base)
{
    return tq_saturate_s8((x - base) >> TQ_VIB_INPUT_SHIFT);
}

int tq_vib_window(const tq_vib_state_t *s, int8_t *out)
{
    if (!s->full) {
        return 0;
    }
    const int32_t mean = (s->sum + (TQ_VIB_WINDOW >> 1)) >> TQ_VIB_WINDOW_SHIFT; /* floor, as Python */
    const int32_t base = mean - (1 << (TQ_VIB_INPUT_SHIFT - 1));
    /* ring[pos..] is the oldest part of the window, ring[..pos) the newest. Locals: out may alias the state. */
    const int32_t older = TQ_VIB_WINDOW - s->pos;
    const int16_t *ring = s->ring;
    const int16_t *oldest = ring + s->pos;
    for (int32_t i = 0; i < older; ++i) {
        out[i] = to_input(oldest[i], base);
    }
    for (int32_t i = older; i < TQ_VIB_WINDOW; ++i) {
        out[i] = to_input(ring[i - older], base);
    }
    return 1;
}
