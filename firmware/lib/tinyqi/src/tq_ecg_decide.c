/* The ECG device's decision: a class per described beat from the model's scores, the beat's RR features and its
 * window, with the patient's shape clusters as state (tq_ecg.h; Python twin tinyqi.signal.ecg.decide,
 * docs/signal.md "The decision"). Integer only; shifts of negative values are arithmetic, as in the chain. */
#include <string.h>

#include "tq_ecg.h"

#define WAVE_SIZE (TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS)

static const int voted_class[2] = {TQ_ECG_CLASS_N, TQ_ECG_CLASS_V};

/* A window sample with the centroids' 4 extra bits (a multiplication: a left shift of a negative value is undefined
 * in C). */
static inline int32_t wave_q4(int8_t x)
{
    return (int32_t)x * (1 << TQ_ECG_CLUSTER_SHIFT);
}

/* A score + 128 (the softmax's 0..255) with the votes' 4 extra bits. */
static inline int32_t score_q4(int8_t x)
{
    return (int32_t)(x + TQ_ECG_SCORE_OFFSET) << TQ_ECG_CLUSTER_SHIFT;
}

void tq_ecg_votes_init(tq_ecg_votes_t *v)
{
    memset(v, 0, sizeof *v);
}

/* sum |wave * 16 - centroid|, or a value above `bound` as soon as the sum exceeds it (checked every 16 samples). */
static int32_t distance(const int16_t *centroid, const int8_t *wave, int32_t bound)
{
    int32_t sad = 0;
    for (int t = 0; t < WAVE_SIZE; t += 16) {
        for (int u = t; u < t + 16 && u < WAVE_SIZE; ++u) {
            const int32_t d = wave_q4(wave[u]) - centroid[u];
            sad += d < 0 ? -d : d;
        }
        if (sad > bound) {
            break;
        }
    }
    return sad;
}

/* The first of the nearest used clusters if it is within the limit, else -1 (Python: argmin, then the limit).
 * A cluster can only win with a sum below the best so far, so its sum stops once it cannot. */
static int nearest(const tq_ecg_votes_t *v, const int8_t *wave)
{
    int best = -1;
    int32_t bound = (int32_t)TQ_ECG_CLUSTER_LIMIT << TQ_ECG_CLUSTER_SHIFT;
    for (int k = 0; k < TQ_ECG_CLUSTERS; ++k) {
        if (v->last[k] != 0) {
            const int32_t sad = distance(v->centroid[k], wave, bound);
            if (sad <= bound) {
                best = k;
                bound = sad - 1;
            }
        }
    }
    return best;
}

/* The first unused slot, else the least recently joined cluster. */
static int replaced(const tq_ecg_votes_t *v)
{
    int k = 0;
    for (int i = 1; i < TQ_ECG_CLUSTERS; ++i) {
        if (v->last[i] < v->last[k]) {
            k = i;
        }
    }
    return k;
}

/* The beat's N and V scores (4 extra bits) mixed with its cluster's, into voted[]; moves the beat's cluster. */
static void vote(tq_ecg_votes_t *v, const int8_t *scores, const int8_t *wave, int32_t *voted)
{
    int32_t own[2];
    for (int j = 0; j < 2; ++j) {
        own[j] = score_q4(scores[voted_class[j]]);
        voted[j] = own[j];
    }
    v->beats += 1;
    int k = nearest(v, wave);
    if (k >= 0) {
        for (int j = 0; j < 2; ++j) {
            voted[j] = (own[j] + ((1 << TQ_ECG_VOTE_SHIFT) - 1) * (int32_t)v->vote[k][j]) >> TQ_ECG_VOTE_SHIFT;
            v->vote[k][j] = (int16_t)(v->vote[k][j] + ((own[j] - v->vote[k][j]) >> TQ_ECG_CLUSTER_SHIFT));
        }
        for (int t = 0; t < WAVE_SIZE; ++t) {
            v->centroid[k][t] =
                (int16_t)(v->centroid[k][t] + ((wave_q4(wave[t]) - v->centroid[k][t]) >> TQ_ECG_CLUSTER_SHIFT));
        }
    } else {
        k = replaced(v);
        for (int j = 0; j < 2; ++j) {
            v->vote[k][j] = (int16_t)own[j];
        }
        for (int t = 0; t < WAVE_SIZE; ++t) {
            v->centroid[k][t] = (int16_t)wave_q4(wave[t]);
        }
    }
    v->last[k] = v->beats;
}

int tq_ecg_decide(tq_ecg_votes_t *v, const int8_t *scores, int count, const int8_t *rr, const int8_t *wave)
{
    int32_t voted[2];
    vote(v, scores, wave, voted);
    const int no_s = rr[TQ_ECG_IRREGULAR_FEATURE] >= TQ_ECG_NO_S_IRREGULAR;
    int best = -1;
    int32_t best_score = 0;
    for (int i = 0; i < count; ++i) {
        const int32_t score = i == TQ_ECG_CLASS_N ? voted[0] : i == TQ_ECG_CLASS_V ? voted[1] : score_q4(scores[i]);
        if ((i != TQ_ECG_CLASS_S || !no_s) && (best < 0 || score > best_score)) {
            best = i;
            best_score = score;
        }
    }
    return best;
}
