/*
 * ECG chain stages 4-5 (ecg.detect, ecg.peak_slopes, ecg.fiducials): the QRS detector's state machine, one b sample
 * at a time, statement for statement as ecg.detect runs it.
 *
 * Two things Python reads from arrays of the whole record are taken here when they are still in the rings:
 *   - steep[pk], the largest |d| over the 27 samples ending at a peak: a peak ends at most PEAK_TIMEOUT + 1 = 18
 *     samples after its index, so |d| back to k - 44 is enough (slope_ring, 64);
 *   - the fiducial (first largest |b| in b[pk - 32 .. pk]) is a function of b alone, so it can be computed when the
 *     peak ends. For a search-back candidate it is computed when the candidate is recorded, with its slope: the
 *     search-back may declare it long after (after several 3 s level decays), when b[pk - 32] has left b_ring.
 * Bounds: mwi < 2^29 and every level (spk, npk, thr) is a floor-weighted mean of mwi values, so >= 0 and < 2^29.
 */
#include "tq_ecg_internal.h"

/* ecg.thresholds: npk + 3/8 (spk - npk), as two shifts (3 (spk - npk) could pass 2^31). */
static void update_thresholds(tq_ecg_state_t *s)
{
    const int32_t gap = s->spk - s->npk;
    s->thr1 = s->npk + (gap >> TQ_ECG_THRESHOLD_SHIFT_A) + (gap >> TQ_ECG_THRESHOLD_SHIFT_B);
    s->thr2 = s->thr1 >> 1;
}

/* ecg.peak_slopes at index k (k >= 0; >= k_now - 18 so its 27 samples are all in slope_ring). */
static int32_t steepest(const tq_ecg_state_t *s, int32_t k)
{
    int32_t best = 0;
    for (int32_t i = k - (TQ_ECG_MWI_BOX - 1); i <= k; ++i) {
        const int32_t a = s->slope_ring[(uint32_t)i & (TQ_ECG_SLOPE_RING - 1)];
        best = a > best ? a : best;
    }
    return best;
}

/* ecg.fiducials for one peak: the first index of the largest |b| in [pk - FIDUCIAL_SEARCH, pk] (np.argmax). */
static int32_t fiducial(const tq_ecg_state_t *s, int32_t pk)
{
    int32_t at = pk - TQ_ECG_FIDUCIAL_SEARCH;
    int32_t best = tq_ecg_abs(tq_ecg_b(s, at));
    for (int32_t i = at + 1; i <= pk; ++i) {
        const int32_t a = tq_ecg_abs(tq_ecg_b(s, i));
        if (a > best) { /* strictly: ties keep the first, as argmax */
            best = a;
            at = i;
        }
    }
    return at;
}

/* ecg.detect's declare(): a QRS complex at mwi peak pk (fiducial fid, slope steep, value pv), found at b index now. */
static void declare(tq_ecg_state_t *s, int32_t pk, int32_t fid, int32_t steep, int32_t pv, int32_t now,
                    int searchback)
{
    s->last_steep = steep;
    s->spk += (pv - s->spk) >> (searchback ? 2 : 3);
    if (s->last_qrs >= 0 && pk - s->last_qrs <= TQ_ECG_RR_MAX) {
        const int32_t rr = pk - s->last_qrs;
        s->rr_sum += rr - s->rr_ring[s->rr_pos];
        s->rr_ring[s->rr_pos] = (int16_t)rr;
        s->rr_pos = (s->rr_pos + 1) & (TQ_ECG_RR_SLOTS - 1);
        s->rr_missed = ((s->rr_sum >> 3) * 53) >> 5; /* 1.66 RR; rr_sum <= 8 * 360 */
    }
    s->last_qrs = pk;
    s->last_event = now;
    s->sb_val = 0;
    tq_ecg_beat_detected(s, fid);
}

/* Warm-up is over: 2 s of learning the levels (the sum of 360 mwi values would overflow int32, so it is kept as
 * 512 * learn_hi + learn_lo, and floor(sum / 512) = learn_hi + floor(learn_lo / 512): mwi >= 0). */
static void learn(tq_ecg_state_t *s, int32_t k, int32_t v)
{
    s->learn_max = v > s->learn_max ? v : s->learn_max;
    s->learn_hi += v >> 9;
    s->learn_lo += v & 511;
    if (k == TQ_ECG_DETECT_START - 1) {
        s->spk = s->learn_max >> 1;
        s->npk = s->learn_hi + (s->learn_lo >> 9);
        update_thresholds(s);
    }
}

/* The followed peak ended at b index k: a QRS complex, or a noise peak (and maybe the search-back candidate). */
static void peak_end(tq_ecg_state_t *s, int32_t k)
{
    const int32_t pv = s->peak_val, pk = s->peak_k;
    s->peak_val = 0;
    if (pv <= 0 || (s->last_qrs >= 0 && pk - s->last_qrs < TQ_ECG_REFRACTORY)) {
        return;
    }
    const int32_t steep = steepest(s, pk);
    const int t_wave = s->last_qrs >= 0 && pk - s->last_qrs < TQ_ECG_T_WAVE_WINDOW && steep < (s->last_steep >> 1);
    if (pv > s->thr1 && !t_wave) {
        declare(s, pk, fiducial(s, pk), steep, pv, k, 0);
    } else {
        s->npk += (pv - s->npk) >> 3;
        if (pv > s->sb_val) {
            s->sb_val = pv;
            s->sb_k = pk;
            s->sb_fid = fiducial(s, pk);
            s->sb_steep = steep;
        }
    }
    update_thresholds(s);
}

void tq_ecg_detect(tq_ecg_state_t *s, int32_t k, int32_t v)
{
    if (k < TQ_ECG_WARMUP) { /* the baseline estimate has not seen real data yet */
        return;
    }
    if (k < TQ_ECG_DETECT_START) {
        learn(s, k, v);
        return;
    }
    if (v > s->peak_val) {
        s->peak_val = v;
        s->peak_k = k;
    } else if (v < (s->peak_val >> 1) || k - s->peak_k > TQ_ECG_PEAK_TIMEOUT) {
        peak_end(s, k);
    }
    if (s->last_qrs >= 0 && s->sb_val > s->thr2 && k - s->last_qrs > s->rr_missed) {
        declare(s, s->sb_k, s->sb_fid, s->sb_steep, s->sb_val, k, 1);
        update_thresholds(s);
    }
    if (k - s->last_event > TQ_ECG_DECAY_AFTER) { /* 3 s without a beat: halve the signal level */
        s->spk >>= 1;
        s->last_event = k;
        update_thresholds(s);
    }
}
