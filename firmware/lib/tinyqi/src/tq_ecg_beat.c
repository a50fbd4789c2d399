/*
 * ECG chain stage 6 (ecg.describe): which detected beats get model inputs, and the inputs.
 *
 * Python walks the beats i = 1 .. n-2 in order and gives beat i inputs at b index
 *     ready = max(detected_at[i + 1], fid[i] + AFTER - 1 + ALIGN)
 * (its successor is known and its window, moved by up to ALIGN either way, is complete) unless its window has
 * already left the ring by then:
 *     ready - (fid[i] - BEFORE - ALIGN) >= RING.
 * Here the detected beats wait in a queue; after every b sample's detector step, the oldest one is due when it has
 * a successor in the queue and k >= fid + AFTER - 1 + ALIGN. Checked at every b sample, the first k where both hold is
 * Python's `ready`, and the ring test at that k is Python's test. Beat 0 never enters the queue (only its fiducial
 * is kept, as beat 1's previous one); the last beat never gets a successor. Both are never described, as in Python.
 * A dropped beat still advances the RR history and the sinus RR (Python updates them before the ring test).
 *
 * Queue bound: a beat stays when it has no successor (one beat: the last one) or its window is incomplete
 * (fid > k - 82 - ALIGN = k - 98). Peaks are >= REFRACTORY = 36 apart, a fiducial is at most 32 before its peak and
 * the peak at most k, so such peaks lie in (k - 98, k]: at most 3 beats are pending after a drain and 4 after the
 * next detection; TQ_ECG_PENDING = 8 leaves room.
 * A caller that stops calling tq_ecg_next_beat() fills it: the oldest beat is then dropped (its RR still counted).
 *
 * Bounds: fiducials are strictly increasing (peaks are >= 36 apart, a fiducial within 32 before its peak), so every
 * RR interval is >= 4; clamped to TQ_ECG_RR_LIMIT < 2^26, an interval in Q4 is < 2^30 and so is sinus_q4 (a
 * floor-weighted mean of them, >= 64). Windows: |b - mean| < 2^16, in Q4 < 2^20, template and differences < 2^21,
 * a window's sum of absolute differences from the template < 128 * 2^21 = 2^28.
 */
#include "tq_ecg_internal.h"

static int32_t pending_at(const tq_ecg_state_t *s, int32_t i)
{
    return s->pending_fid[(s->pending_head + i) & (TQ_ECG_PENDING - 1)];
}

static void pop(tq_ecg_state_t *s)
{
    s->prev_fid = pending_at(s, 0);
    s->pending_head = (s->pending_head + 1) & (TQ_ECG_PENDING - 1);
    --s->pending_count;
}

/* RR intervals of the head beat, as ecg.describe's pre / post, clamped (see the header). */
typedef struct {
    int32_t pre, post, local, sinus_q4;
} rr_t;

/* ecg.irregular_update: the EMA (1/32, Q12) of "this pre interval differs from the previous one by more than
 * local / 16", once the history holds two intervals (the newest at rr_hist_pos - 1). |jump| < 2^26: 16 |jump| fits
 * in int32; the EMA step shifts a negative difference arithmetically, as Python's >> does. */
static void irregular_update(tq_ecg_state_t *s, int32_t local)
{
    if (s->rr_hist_count < 2) {
        return;
    }
    const int32_t jump = s->rr_hist[(s->rr_hist_pos - 1) & (TQ_ECG_LOCAL_RR - 1)]
                       - s->rr_hist[(s->rr_hist_pos - 2) & (TQ_ECG_LOCAL_RR - 1)];
    const int32_t irregular = (jump < 0 ? -jump : jump) * TQ_ECG_IRREGULAR_JUMP > local;
    s->irregular_q12 += ((irregular << 12) - s->irregular_q12) >> TQ_ECG_IRREGULAR_SHIFT;
}

/* ecg.fraction_q7: a Q12 fraction in [0, 4096] as Q7, rounded, saturated at 127. */
static int8_t fraction_q7(int32_t value_q12)
{
    const int32_t q7 = (value_q12 + 16) >> 5;
    return (int8_t)(q7 < INT8_MAX ? q7 : INT8_MAX);
}

/* ecg.sinus_update: the sinus RR in Q4, started at the first interval, then an EMA 1/4 of the intervals on time
 * (7/8 .. 5/4 of it) and 1/128 of the others. Both sides of the tests are < 2^33: compared in 64 bits. */
static void sinus_update(tq_ecg_state_t *s, int32_t pre)
{
    const int32_t pre_q4 = pre * (1 << 4);
    if (s->sinus_q4 < 0) {
        s->sinus_q4 = pre_q4;
        return;
    }
    const int on_time = (int64_t)pre_q4 * TQ_ECG_SINUS_EARLY_DEN >= (int64_t)s->sinus_q4 * TQ_ECG_SINUS_EARLY_NUM
                        && (int64_t)pre_q4 * TQ_ECG_SINUS_LATE_DEN <= (int64_t)s->sinus_q4 * TQ_ECG_SINUS_LATE_NUM;
    s->sinus_q4 += (pre_q4 - s->sinus_q4) >> (on_time ? TQ_ECG_SINUS_SHIFT : TQ_ECG_SINUS_DRIFT_SHIFT);
}

/* The per-beat RR update of ecg.describe (for every beat 1 .. n-2, described or dropped): the local rhythm is the
 * mean of the last LOCAL_RR pre intervals, the sinus one the EMA above. */
static rr_t rr_update(tq_ecg_state_t *s)
{
    const int32_t fid = pending_at(s, 0);
    rr_t rr;
    rr.pre = fid - s->prev_fid;
    rr.post = pending_at(s, 1) - fid;
    rr.pre = rr.pre < TQ_ECG_RR_LIMIT ? rr.pre : TQ_ECG_RR_LIMIT;
    rr.post = rr.post < TQ_ECG_RR_LIMIT ? rr.post : TQ_ECG_RR_LIMIT;

    const int32_t pos = s->rr_hist_pos;
    s->rr_hist_sum += rr.pre - s->rr_hist[pos]; /* an unused slot is 0 */
    s->rr_hist[pos] = rr.pre;
    s->rr_hist_pos = (pos + 1) & (TQ_ECG_LOCAL_RR - 1);
    s->rr_hist_count += s->rr_hist_count < TQ_ECG_LOCAL_RR;
    rr.local = s->rr_hist_sum / s->rr_hist_count; /* both > 0: Python's // */
    irregular_update(s, rr.local);

    sinus_update(s, rr.pre);
    rr.sinus_q4 = s->sinus_q4;
    return rr;
}

void tq_ecg_beat_detected(tq_ecg_state_t *s, int32_t fid)
{
    s->last_fid = fid;
    if (s->detections++ == 0) { /* beat 0: only beat 1's previous fiducial */
        s->prev_fid = fid;
        return;
    }
    if (s->pending_count == TQ_ECG_PENDING) { /* not drained: keep the queue and the RR history consistent */
        (void)rr_update(s);
        pop(s);
    }
    s->pending_fid[(s->pending_head + s->pending_count) & (TQ_ECG_PENDING - 1)] = fid;
    ++s->pending_count;
}

int tq_ecg_beat_due(tq_ecg_state_t *s)
{
    const int32_t now = s->k - 1;
    while (s->pending_count >= 2) {
        const int32_t fid = pending_at(s, 0);
        if (now < fid + TQ_ECG_AFTER - 1 + TQ_ECG_ALIGN) {
            return 0;
        }
        if (now - (fid - TQ_ECG_BEFORE - TQ_ECG_ALIGN) < TQ_ECG_RING) {
            return 1;
        }
        (void)rr_update(s); /* a long pause: the window was overwritten before it could be described */
        pop(s);
    }
    return 0;
}

/* ecg.ratio_q5: min(round(32 num / den), 127) = min((64 num + den) // (2 den), 127), for 0 <= num < 2^30 and
 * 0 < den < 2^30, without forming 64 num (it overflows int32 from num = 2^25 on: an interval of 3.2 hours in Q4).
 * With num = q den + r: 32 num / den = 32 q + 32 r / den, and 32 r = f den + g (f < 32, g < den) comes from five
 * steps of binary long division (2r < 2^31). Rounding half up adds [2 g >= den]. */
static int8_t ratio_q5(int32_t num, int32_t den)
{
    const int32_t q = num / den;
    if (q >= 4) { /* 32 num / den >= 128 */
        return INT8_MAX;
    }
    int32_t r = num - q * den, f = 0;
    for (int32_t bit = 0; bit < 5; ++bit) {
        r *= 2;
        f *= 2;
        if (r >= den) {
            r -= den;
            f += 1;
        }
    }
    const int32_t v = 32 * q + f + (r >= den - r);
    return (int8_t)(v < INT8_MAX ? v : INT8_MAX);
}

/* The sum of the window starting at b index `start` (|sum| <= 128 * 32768). */
static int32_t window_sum(const tq_ecg_state_t *s, int32_t start)
{
    int32_t sum = 0;
    for (int32_t t = 0; t < TQ_ECG_WINDOW; ++t) {
        sum += tq_ecg_b(s, start + t);
    }
    return sum;
}

static int32_t rounded_mean(int32_t sum)
{
    return (sum + (TQ_ECG_WINDOW >> 1)) >> TQ_ECG_WINDOW_SHIFT;
}

/* Sample t of ecg.centred_window: the window minus its mean, in Q4 (Python's w << 4: a left shift of a negative is
 * UB in C, a multiplication is not). */
static int32_t centred_q4(const tq_ecg_state_t *s, int32_t start, int32_t mean, int32_t t)
{
    return (tq_ecg_b(s, start + t) - mean) * (1 << TQ_ECG_TEMPLATE_SHIFT);
}

/* ecg.aligned_fiducial: the window start within +-ALIGN of fid - BEFORE whose centred window has the least sum of
 * absolute differences from the template (and, in *mean_out, that window's rounded mean); a tie goes to the
 * smaller |shift|, then to the negative one.
 * Cost: 33 shifts x 128 samples read from the ring took about 65,000 cycles per beat on the Cortex-M4, 40 %
 * of the dense model. So the 160 samples are copied out of the ring once, the 33 window sums slide (one sample in,
 * one out), and the shifts are tried in the order 0, -1, +1, -2, +2, ... with a strict "<": that order alone gives
 * Python's tie rule, and it lets a shift stop as soon as its partial sum reaches the best cost so far (the sum only
 * grows), checked every 16 samples. The 16-sample blocks are summed QRS first, then outwards (the sum is the same in
 * any order): a shifted QRS differs from the template's most, so most shifts stop after the first block, and a block
 * is four samples a step (block_cost). Together: 23,200 -> 13,300 modelled cycles per beat (record 100, 60 s). */
#define TQ_ECG_SPAN (TQ_ECG_WINDOW + 2 * TQ_ECG_ALIGN)
#define TQ_ECG_SHIFTS (2 * TQ_ECG_ALIGN + 1)
#define TQ_ECG_COST_BLOCK 16
#define TQ_ECG_COST_BLOCKS (TQ_ECG_WINDOW / TQ_ECG_COST_BLOCK)

/* Block starts by distance from the fiducial (sample BEFORE of the window: block 2): 2, 3, 1, 4, 0, 5, 6, 7. */
static const uint8_t cost_block_order[TQ_ECG_COST_BLOCKS] = {32, 48, 16, 64, 0, 80, 96, 112};
_Static_assert(TQ_ECG_WINDOW == 128 && TQ_ECG_BEFORE / TQ_ECG_COST_BLOCK == 2, "cost_block_order: QRS block first");

/* sum |x[u] - mean - template[u]| over one block, four samples a step (GCC does not unroll it: 12 cycles a sample
 * in a loop of one). */
static inline int32_t block_cost(const int32_t *x, const int32_t *template_q, int32_t mean)
{
    int32_t cost = 0;
    for (int32_t u = 0; u < TQ_ECG_COST_BLOCK; u += 4) {
        cost += tq_ecg_abs(x[u] - mean - template_q[u]) + tq_ecg_abs(x[u + 1] - mean - template_q[u + 1]) +
                tq_ecg_abs(x[u + 2] - mean - template_q[u + 2]) + tq_ecg_abs(x[u + 3] - mean - template_q[u + 3]);
    }
    return cost;
}

static int32_t aligned_start(const tq_ecg_state_t *s, int32_t fid, int32_t *mean_out)
{
    const int32_t first = fid - TQ_ECG_BEFORE - TQ_ECG_ALIGN;
    int32_t span[TQ_ECG_SPAN]; /* b * 16: |value| < 2^20 */
    for (int32_t t = 0; t < TQ_ECG_SPAN; ++t) {
        span[t] = tq_ecg_b(s, first + t) * (1 << TQ_ECG_TEMPLATE_SHIFT);
    }
    int32_t means[TQ_ECG_SHIFTS]; /* each shifted window's rounded mean */
    int32_t sum = window_sum(s, first);
    for (int32_t k = 0; k < TQ_ECG_SHIFTS; ++k) {
        if (k > 0) {
            sum += tq_ecg_b(s, first + k + TQ_ECG_WINDOW - 1) - tq_ecg_b(s, first + k - 1);
        }
        means[k] = rounded_mean(sum);
    }
    int32_t best_cost = INT32_MAX, best_shift = 0; /* a cost is < 2^28 (see the header) */
    for (int32_t n = 0; n < TQ_ECG_SHIFTS; ++n) {
        const int32_t shift = (n & 1) ? -((n + 1) >> 1) : (n >> 1); /* 0, -1, +1, -2, +2, ... */
        const int32_t *x = span + TQ_ECG_ALIGN + shift;
        const int32_t mean = means[TQ_ECG_ALIGN + shift] * (1 << TQ_ECG_TEMPLATE_SHIFT);
        int32_t cost = 0;
        for (int32_t b = 0; b < TQ_ECG_COST_BLOCKS && cost < best_cost; ++b) {
            cost += block_cost(x + cost_block_order[b], s->template_q + cost_block_order[b], mean);
        }
        if (cost < best_cost) {
            best_cost = cost;
            best_shift = shift;
        }
    }
    *mean_out = means[TQ_ECG_ALIGN + best_shift];
    return fid - TQ_ECG_BEFORE + best_shift;
}

void tq_ecg_beat_describe(tq_ecg_state_t *s, tq_ecg_beat_t *beat)
{
    const rr_t rr = rr_update(s);
    const int32_t fid = pending_at(s, 0);

    if (!s->template_ready) { /* the first described beat is the template */
        const int32_t mean = rounded_mean(window_sum(s, fid - TQ_ECG_BEFORE));
        for (int32_t t = 0; t < TQ_ECG_WINDOW; ++t) {
            s->template_q[t] = centred_q4(s, fid - TQ_ECG_BEFORE, mean, t);
        }
        s->template_ready = 1;
    }
    int32_t mean;
    const int32_t start = aligned_start(s, fid, &mean);

    /* ecg.updates_template: only a beat that is not premature moves the template (pre, local < 2^26: no overflow) */
    const int update = rr.pre * TQ_ECG_TEMPLATE_GATE_DEN >= rr.local * TQ_ECG_TEMPLATE_GATE_NUM;
    const int32_t half = 1 << (TQ_ECG_WAVE_SHIFT + TQ_ECG_TEMPLATE_SHIFT - 1);
    for (int32_t t = 0; t < TQ_ECG_WINDOW; ++t) {
        const int32_t diff = centred_q4(s, start, mean, t) - s->template_q[t];
        if (update) {
            s->template_q[t] += diff >> TQ_ECG_TEMPLATE_SHIFT;
        }
        beat->x0[t] = (int8_t)tq_ecg_clamp((diff + half) >> (TQ_ECG_WAVE_SHIFT + TQ_ECG_TEMPLATE_SHIFT),
                                           INT8_MIN, INT8_MAX);
    }

    beat->x1[0] = ratio_q5(rr.pre, rr.local);
    beat->x1[1] = ratio_q5(rr.post, rr.local);
    beat->x1[2] = ratio_q5(rr.pre * 16, rr.sinus_q4);
    beat->x1[3] = ratio_q5(rr.post * 16, rr.sinus_q4);
    beat->x1[4] = ratio_q5(rr.local * 16, rr.sinus_q4);
    beat->x1[5] = fraction_q7(s->irregular_q12);
    beat->sample = fid * TQ_ECG_DECIMATION - TQ_ECG_CHAIN_DELAY;
    pop(s);
}
