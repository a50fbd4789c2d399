/* The ECG device's decision: a class per described beat from the model's scores and the beat's RR features
 * (tq_ecg.h; Python twin tinyqi.signal.ecg.decide, docs/signal.md "The decision"). */
#include "tq_ecg.h"

int tq_ecg_decide(const int8_t *scores, int count, const int8_t *rr)
{
    const int no_s = rr[TQ_ECG_IRREGULAR_FEATURE] >= TQ_ECG_NO_S_IRREGULAR;
    int best = -1;
    for (int i = 0; i < count; ++i) {
        if (i == TQ_ECG_CLASS_S && no_s) {
            continue;
        }
        if (best < 0 || scores[i] > scores[best]) {
            best = i;
        }
    }
    return best;
}
