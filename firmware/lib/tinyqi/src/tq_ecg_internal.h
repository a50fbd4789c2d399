/*
 * tinyqi ECG chain internals shared by its stage files (tq_ecg_filter.c, tq_ecg_detect.c, tq_ecg_beat.c, tq_ecg.c).
 * The reference is tinyqi/signal/ecg.py; comments name its functions and variables.
 */
#ifndef TQ_ECG_INTERNAL_H
#define TQ_ECG_INTERNAL_H

#include <stdint.h>

#include "tq_ecg.h"

/* Python's >> floors. C99 leaves >> of a negative value to the implementation; GCC and Clang shift arithmetically,
 * which floors too. Every right shift of a possibly negative value in the chain relies on it, so refuse to compile
 * where a negative constant does not shift that way. */
typedef char tq_ecg_shift_floors[(-7 >> 1) == -4 ? 1 : -1];

static inline int32_t tq_ecg_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static inline int32_t tq_ecg_abs(int32_t v)
{
    return v < 0 ? -v : v; /* never INT32_MIN: the chain's values are at most 16 bits */
}

/* b[i] for an index that may be negative (the zeros before the start: Python's `delayed`): the slot of a negative
 * index has never been written while it can be read (i >= k - TQ_ECG_RING), so it still holds its initial 0.
 * Unsigned conversion wraps modulo 2^32, so the mask is defined for negative i too. */
static inline int32_t tq_ecg_b(const tq_ecg_state_t *s, int32_t i)
{
    return s->b_ring[(uint32_t)i & (TQ_ECG_RING - 1)];
}

/* Stages 1-3, one input sample: 1 when it produced b sample s->k - 1 (odd input samples), its energy in *mwi. */
int tq_ecg_filter(tq_ecg_state_t *s, int16_t sample, int32_t *mwi);

/* Stages 4-5 for b sample k (mwi = its energy): may declare a beat (tq_ecg_beat_detected). */
void tq_ecg_detect(tq_ecg_state_t *s, int32_t k, int32_t mwi);

/* Stage 6. A beat was detected: its fiducial (b index). */
void tq_ecg_beat_detected(tq_ecg_state_t *s, int32_t fid);
/* At the current b sample: drops the due beats whose window has left the ring (their RR intervals still count),
 * then 1 when the oldest pending beat is ready to describe now. */
int tq_ecg_beat_due(tq_ecg_state_t *s);
/* Describes the oldest pending beat (tq_ecg_beat_due() returned 1) and removes it from the queue. */
void tq_ecg_beat_describe(tq_ecg_state_t *s, tq_ecg_beat_t *beat);

#endif /* TQ_ECG_INTERNAL_H */
