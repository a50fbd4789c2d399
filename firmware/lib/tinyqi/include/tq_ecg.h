/*
 * tinyqi ECG chain: raw ADC samples in, one int8 model-input pair per detected beat out. Causal, integer only,
 * no malloc; one stage per source file (tq_ecg_<stage>.c). The integer reference that training uses, and that
 * this code matches bit for bit, is tinyqi/signal/ecg.py: every constant below is named as there
 * (TQ_ECG_<NAME> = ecg.<NAME>). Specification and latencies: docs/signal.md.
 *
 * Use: tq_ecg_init(&s); then for every 360 Hz sample: if (tq_ecg_push(&s, sample)) while (tq_ecg_next_beat(&s, &b))
 * { copy b.x0 / b.x1 into the model's inputs, invoke }. A sample of TQ_ECG_INVALID (lead off, ADC fault) holds
 * the last valid value.
 */
#ifndef TQ_ECG_H
#define TQ_ECG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_ECG_FS_IN 360
#define TQ_ECG_DECIMATION 2
#define TQ_ECG_INVALID (-32768)
#define TQ_ECG_CHAIN_DELAY 259 /* input samples from an event to 2 * its b index */

#define TQ_ECG_LP_BOX1 6
#define TQ_ECG_LP_BOX2 8
#define TQ_ECG_LP_RING 16 /* a power of two > TQ_ECG_LP_BOX1 + TQ_ECG_LP_BOX2 */
#define TQ_ECG_LP_SHIFT 4
#define TQ_ECG_HP_BOX 128
#define TQ_ECG_HP_SHIFT 14
#define TQ_ECG_HP_DELAY 127
#define TQ_ECG_SLOPE_LAG 4
#define TQ_ECG_SLOPE_CLIP 4095
#define TQ_ECG_MWI_BOX 27
#define TQ_ECG_SLOPE_RING 64 /* power of two > PEAK_TIMEOUT + 1 + MWI_BOX - 1 */

#define TQ_ECG_WARMUP 256
#define TQ_ECG_LEARN 360
#define TQ_ECG_DETECT_START (256 + 360)
#define TQ_ECG_PEAK_TIMEOUT 17
#define TQ_ECG_REFRACTORY 36
#define TQ_ECG_THRESHOLD_SHIFT_A 2 /* detection threshold npk + (spk - npk) * (1/4 + 1/8) */
#define TQ_ECG_THRESHOLD_SHIFT_B 3
#define TQ_ECG_RR_INIT 180
#define TQ_ECG_RR_MAX 360
#define TQ_ECG_RR_SLOTS 8
#define TQ_ECG_DECAY_AFTER 540
#define TQ_ECG_FIDUCIAL_SEARCH 32
#define TQ_ECG_T_WAVE_WINDOW 65

#define TQ_ECG_BEFORE 45
#define TQ_ECG_AFTER 83
#define TQ_ECG_WINDOW 128
#define TQ_ECG_WINDOW_SHIFT 7
#define TQ_ECG_RING 1024 /* power of two */
#define TQ_ECG_TEMPLATE_SHIFT 4
#define TQ_ECG_TEMPLATE_GATE_NUM 7 /* a beat with pre-RR >= 7/8 of the local RR updates the template */
#define TQ_ECG_TEMPLATE_GATE_DEN 8
#define TQ_ECG_ALIGN 16 /* the window moves up to +-16 b samples to where it best matches the template */
#define TQ_ECG_WAVE_SHIFT 4
#define TQ_ECG_LOCAL_RR 8
#define TQ_ECG_SINUS_EARLY_NUM 7 /* an RR interval within 7/8 .. 5/4 of the sinus RR is on time */
#define TQ_ECG_SINUS_EARLY_DEN 8
#define TQ_ECG_SINUS_LATE_NUM 5
#define TQ_ECG_SINUS_LATE_DEN 4
#define TQ_ECG_SINUS_SHIFT 2       /* the sinus RR: EMA 1/4 of the intervals on time */
#define TQ_ECG_SINUS_DRIFT_SHIFT 7 /* and 1/128 of the others */
#define TQ_ECG_RATIO_ONE 32
#define TQ_ECG_IRREGULAR_JUMP 16
#define TQ_ECG_IRREGULAR_SHIFT 5
#define TQ_ECG_RR_FEATURES 6
#define TQ_ECG_WAVE_CHANNELS 1 /* beat minus template: ecg.WAVE_CHANNELS */
#define TQ_ECG_PENDING 8 /* detected beats not yet described (power of two); see tq_ecg_beat.c for the bound */
#define TQ_ECG_IRREGULAR_FEATURE 5 /* x1's irregular fraction (Q7) */
#define TQ_ECG_CLASS_S 1 /* the model's outputs are the AAMI classes N, S, V, F, Q */
#define TQ_ECG_NO_S_IRREGULAR 80 /* no S while the irregular fraction is at least 80/128: tq_ecg_decide() */
#define TQ_ECG_CLASS_N 0          /* N and V: the classes a beat's shape tells, mixed with its shape cluster's */
#define TQ_ECG_CLASS_V 2
#define TQ_ECG_CLUSTERS 4         /* shape clusters per patient; a new shape replaces the least recently joined */
#define TQ_ECG_CLUSTER_SHIFT 4    /* centroid and vote EMA 1/16, both kept with 4 extra bits */
#define TQ_ECG_CLUSTER_LIMIT (6 * TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS) /* join within sum |x0 - centroid| */
#define TQ_ECG_VOTE_SHIFT 2       /* a voted score: 1/4 the beat's own, 3/4 its cluster's running mean */
#define TQ_ECG_SCORE_OFFSET 128   /* int8 scores + 128: the softmax's 0..255 */

/* Device limits (docs/signal.md, "C implementation"): the chain counts samples in int32, so it must be re-initialised
 * before 2^31 input samples (69 days at 360 Hz); RR intervals enter the beat features clamped to TQ_ECG_RR_LIMIT b
 * samples (4.3 days without a beat), which keeps every feature's arithmetic inside int32. */
#define TQ_ECG_RR_LIMIT 0x3FFFFFF /* 2^26 - 1 */

/* One described beat: the model's two int8 inputs and where the beat is. */
typedef struct {
    int32_t sample;                           /* input sample index of the fiducial point (0 = first pushed) */
    int8_t x0[TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS]; /* [t][channel]: beat minus template */
    int8_t x1[TQ_ECG_RR_FEATURES];            /* RR features, order of ecg.RR_FEATURES: 5 Q5 ratios, 1 Q7 fraction */
} tq_ecg_beat_t;

/* The whole chain state: plain data, zero-initialised by tq_ecg_init(); its size is documented in
 * docs/signal.md (sizeof is checked by the tests). Fields are private to tq_ecg_*.c, except the two detection
 * counters at the end, which a monitor may read (heart-rate display, host tests). */
typedef struct {
    /* stage 1: low-pass + decimation, at 360 Hz (tq_ecg_filter.c) */
    int32_t n_in;                             /* input samples pushed */
    int32_t last_valid;                       /* held through TQ_ECG_INVALID; 0 before the first valid sample */
    uint32_t lp_sum1, lp_sum2;                /* running sum of the (held) inputs, running sum of those sums */
    uint32_t lp_ring[TQ_ECG_LP_RING];         /* the last 16 values of lp_sum2 (tq_ecg_filter.c) */
    /* stage 2: high-pass, at 180 Hz */
    int32_t k;                                /* b samples produced (the next b index) */
    int32_t hp1_sum, hp2_sum;                 /* box 128 of y; box 128 of those sums (<= 2^29) */
    int16_t hp1_ring[TQ_ECG_HP_BOX];          /* y: the first box's history and the 127-sample delay line */
    int32_t hp2_ring[TQ_ECG_HP_BOX];          /* the last 128 first-box sums */
    /* stage 3: band-passed signal b, slope and energy */
    int16_t b_ring[TQ_ECG_RING];              /* b: fiducial search and beat windows */
    int16_t slope_ring[TQ_ECG_SLOPE_RING];    /* |d|: the steepest slope of a peak, up to 44 samples back */
    int32_t mwi_sum;                          /* box 27 of d * d (<= 27 * 4095^2) */
    int32_t e_pos;                            /* next slot of e_ring */
    int32_t e_ring[TQ_ECG_MWI_BOX];           /* the last 27 d * d */
    /* stage 4-5: detector and fiducial (tq_ecg_detect.c) */
    int32_t spk, npk, thr1, thr2;             /* signal / noise peak levels, thresholds */
    int32_t peak_val, peak_k;                 /* the peak of mwi being followed */
    int32_t last_qrs, last_event, last_steep; /* last beat's mwi peak index (-1: none), last level event */
    int32_t rr_sum, rr_pos, rr_missed;        /* detector RR average over rr_ring; 1.66 RR search-back limit */
    int16_t rr_ring[TQ_ECG_RR_SLOTS];         /* detector RR intervals (<= TQ_ECG_RR_MAX) */
    int32_t sb_val, sb_k, sb_fid, sb_steep;   /* search-back candidate, its fiducial and slope taken on the spot */
    int32_t learn_max, learn_hi, learn_lo;    /* learning: max of mwi, sum of mwi split as 512 * hi + lo */
    /* stage 6: pending beats and beat description (tq_ecg_beat.c) */
    int32_t pending_fid[TQ_ECG_PENDING];      /* fiducials of detected beats waiting for a successor / window */
    int32_t pending_head, pending_count;
    int32_t beat_due;                         /* tq_ecg_beat_due as of the last b sample or description */
    int32_t prev_fid;                         /* fiducial of the beat before the pending head */
    int32_t rr_hist[TQ_ECG_LOCAL_RR];         /* the last 8 pre-RR intervals (clamped to TQ_ECG_RR_LIMIT) */
    int32_t rr_hist_sum, rr_hist_count, rr_hist_pos;
    int32_t sinus_q4;                         /* sinus RR, Q4 (-1: no beat yet): tq_ecg_beat.c sinus_update */
    int32_t irregular_q12;                    /* irregular fraction of successive pre-RR pairs, EMA, Q12 */
    int32_t template_ready;
    int32_t template_q[TQ_ECG_WINDOW];        /* running template, 4 extra bits (|value| < 2^21) */
    /* detections (readable): how many QRS complexes were detected, and the b index of the last one's fiducial */
    int32_t detections;
    int32_t last_fid;
} tq_ecg_state_t;

void tq_ecg_init(tq_ecg_state_t *s);

/* Feed one input sample (360 Hz, ADC counts minus the ADC zero, 200 counts/mV). Returns 1 when a beat is ready
 * (tq_ecg_next_beat has one to give), else 0: a caller may drain only then (draining anyway is harmless). */
int tq_ecg_push(tq_ecg_state_t *s, int16_t sample);

/* After a push: 1 and fills *beat while a beat is ready to classify (at most a few per push), else 0. */
int tq_ecg_next_beat(tq_ecg_state_t *s, tq_ecg_beat_t *beat);

/* The decision's state for one patient (zeroed by tq_ecg_votes_init, with the chain): shape clusters of x0. */
typedef struct {
    int16_t centroid[TQ_ECG_CLUSTERS][TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS]; /* x0 EMA, 4 extra bits (|v| <= 2048) */
    int16_t vote[TQ_ECG_CLUSTERS][2];         /* N and V offset-score EMA, 4 extra bits (<= 4080) */
    int32_t last[TQ_ECG_CLUSTERS];            /* the beat count when last joined; 0: unused */
    int32_t beats;                            /* beats decided (re-initialise with the chain, before 2^31) */
} tq_ecg_votes_t;

void tq_ecg_votes_init(tq_ecg_votes_t *v);

/* The class of a described beat from the model's `count` int8 scores (count > TQ_ECG_CLASS_V), its RR features rr
 * and its window x0 = wave, beats in the order the chain describes them: (a) the beat joins the nearest of the
 * patient's shape clusters (sum |x0 - centroid| at most TQ_ECG_CLUSTER_LIMIT) or starts one; in a cluster it
 * joined before, its N and V scores become 1/4 its own and 3/4 the cluster's running mean; (b) the largest score
 * (the first of equal ones), except that S is not a candidate while the irregular fraction is at least
 * TQ_ECG_NO_S_IRREGULAR: in atrial fibrillation AAMI labels every beat N. Python twin: tinyqi.signal.ecg.decide. */
int tq_ecg_decide(tq_ecg_votes_t *v, const int8_t *scores, int count, const int8_t *rr, const int8_t *wave);

#ifdef __cplusplus
}
#endif

#endif /* TQ_ECG_H */
