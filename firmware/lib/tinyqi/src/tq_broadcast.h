/* Index walk of tq_broadcast_t, shared by the elementwise binary kernels (int8 and float). */
#ifndef TQ_BROADCAST_H
#define TQ_BROADCAST_H

#include "tinyqi.h"

/* Calls BODY(out_index, in1_index, in2_index) for every output element, in output order. */
#define TQ_BROADCAST_FOR_EACH(shape, BODY)                                                                        \
    do {                                                                                                          \
        if ((shape)->elementwise) {                                                                               \
            for (int32_t tq_i = 0; tq_i < (shape)->size; ++tq_i) {                                                \
                BODY(tq_i, tq_i, tq_i);                                                                           \
            }                                                                                                     \
        } else {                                                                                                  \
            int32_t tq_o = 0;                                                                                     \
            for (int32_t i0 = 0; i0 < (shape)->dims[0]; ++i0) {                                                   \
                for (int32_t i1 = 0; i1 < (shape)->dims[1]; ++i1) {                                               \
                    for (int32_t i2 = 0; i2 < (shape)->dims[2]; ++i2) {                                           \
                        for (int32_t i3 = 0; i3 < (shape)->dims[3]; ++i3) {                                       \
                            const int32_t tq_a = i0 * (shape)->stride1[0] + i1 * (shape)->stride1[1] +            \
                                                 i2 * (shape)->stride1[2] + i3 * (shape)->stride1[3];             \
                            const int32_t tq_b = i0 * (shape)->stride2[0] + i1 * (shape)->stride2[1] +            \
                                                 i2 * (shape)->stride2[2] + i3 * (shape)->stride2[3];             \
                            BODY(tq_o, tq_a, tq_b);                                                               \
                            ++tq_o;                                                                               \
                        }                                                                                         \
                    }                                                                                             \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

#endif /* TQ_BROADCAST_H */
