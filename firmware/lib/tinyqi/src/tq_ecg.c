/*
 * ECG chain: the public API (tq_ecg.h) over the stage files. Per input sample: stages 1-3 (tq_ecg_filter.c); on
 * every odd input sample a b sample comes out and goes through the detector (tq_ecg_detect.c), then the beat queue
 * drops the due beats whose window has left the ring (tq_ecg_beat.c). Beats are described lazily, one per
 * tq_ecg_next_beat() call, from the ring as it is after the push: no output buffer, and several beats due at the same
 * sample come out one by one in fiducial order.
 */
#include <string.h>

#include "tq_ecg_internal.h"

void tq_ecg_init(tq_ecg_state_t *s)
{
    memset(s, 0, sizeof *s); /* zeros: every filter's history before the start, as Python's box() and delayed() */
    s->last_qrs = -1;
    s->last_event = TQ_ECG_DETECT_START;
    for (int32_t i = 0; i < TQ_ECG_RR_SLOTS; ++i) {
        s->rr_ring[i] = TQ_ECG_RR_INIT; /* 1 s until real RR intervals are known */
    }
    s->rr_sum = TQ_ECG_RR_INIT * TQ_ECG_RR_SLOTS;
    s->rr_missed = (TQ_ECG_RR_INIT * 53) >> 5;
    s->sinus_q4 = -1;
    s->last_fid = -1;
}

/* Only a b sample (here) or a description changes what is due: the flag is kept, so a caller learns it from the
 * push, and a tq_ecg_next_beat without a beat reads it (the queue check cost about 26 cycles a call). */
int tq_ecg_push(tq_ecg_state_t *s, int16_t sample)
{
    int32_t mwi;
    if (tq_ecg_filter(s, sample, &mwi)) {
        tq_ecg_detect(s, s->k - 1, mwi);
        /* Drop decisions are made now, at Python's `ready` sample, even if the caller drains the beats later. */
        s->beat_due = tq_ecg_beat_due(s);
    }
    return s->beat_due;
}

int tq_ecg_next_beat(tq_ecg_state_t *s, tq_ecg_beat_t *beat)
{
    if (!s->beat_due) {
        return 0;
    }
    tq_ecg_beat_describe(s, beat);
    s->beat_due = tq_ecg_beat_due(s);
    return 1;
}
