/*
 * tinyqi vibration chain: raw accelerometer samples in, one int8 model input window out every TQ_VIB_HOP samples.
 * Causal, integer only, no malloc. The integer reference that training uses, and that this code matches bit for
 * bit, is tinyqi/signal/vibration.py: every constant below is named as there (TQ_VIB_<NAME> = vibration.<NAME>).
 * Specification: docs/signal.md, section "Vibration".
 *
 * Input: int16 counts at 12 kHz, 16384 counts per g (a +-2 g, 16-bit accelerometer; out-of-range acceleration
 * arrives saturated, as the sensor delivers it). Per window: the window's mean (sum of its 1024 samples, rounded,
 * >> 10) is removed and the result scaled to int8 with (x - mean + 128) >> 8, saturated: one int8 step is
 * 2 g / 128, which is the model's input scale 1/128 (zero point 0), so the window is the model's input as is.
 *
 * Use: tq_vib_init(&s, TQ_VIB_HOP); then for every sample read from the accelerometer FIFO:
 *     if (tq_vib_push(&s, sample)) { tq_vib_window(&s, tq_model_input(0)); tq_model_invoke(); }
 * tq_vib_window() reads the ring as it is after the push that returned 1, so call it before the next push.
 */
#ifndef TQ_VIBRATION_H
#define TQ_VIBRATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_VIB_RATE_HZ 12000
#define TQ_VIB_COUNTS_PER_G 16384
#define TQ_VIB_FULL_SCALE_G 2
#define TQ_VIB_INPUT_ONE 128   /* int8 steps per full scale: the model's input scale is 1 / TQ_VIB_INPUT_ONE */
#define TQ_VIB_INPUT_SHIFT 8   /* log2(COUNTS_PER_G * FULL_SCALE_G / INPUT_ONE): 256 counts per int8 step */
#define TQ_VIB_WINDOW 1024     /* power of two: the model's input length */
#define TQ_VIB_WINDOW_SHIFT 10 /* log2(TQ_VIB_WINDOW): the mean */
#define TQ_VIB_HOP TQ_VIB_WINDOW /* default hop: back-to-back windows */

/* The chain state: plain data, initialised by tq_vib_init(); sizeof = 2,068 bytes (docs/signal.md, checked by
 * tests/test_signal_vibration.py). Fields are private to tq_vibration_window.c. */
typedef struct {
    int16_t ring[TQ_VIB_WINDOW]; /* the last TQ_VIB_WINDOW samples (zeros before the first) */
    int32_t sum;                 /* sum of ring: |sum| <= 1024 * 32768 = 2^25 */
    int32_t pos;                 /* next slot of ring = the oldest sample of the window */
    int32_t hop;                 /* samples between window starts (>= 1) */
    int32_t countdown;           /* samples until the next window is complete (never 0 between pushes) */
    int32_t full;                /* 1 once TQ_VIB_WINDOW samples have been pushed */
} tq_vib_state_t;

/* Clears the state. hop >= 1: a window every hop samples after the first (vibration.windows(x, hop)); hop < 1 is
 * refused (returns -1 and the state uses TQ_VIB_HOP), else returns 0. */
int tq_vib_init(tq_vib_state_t *s, int32_t hop);

/* Feeds one sample; returns 1 when it completes a window (then call tq_vib_window before the next push), else 0. */
int tq_vib_push(tq_vib_state_t *s, int16_t sample);

/* Writes the int8 model input of the last TQ_VIB_WINDOW samples, oldest first, to out[TQ_VIB_WINDOW] (e.g.
 * tq_model_input(0)); returns 1, or 0 and writes nothing while fewer than TQ_VIB_WINDOW samples were pushed. */
int tq_vib_window(const tq_vib_state_t *s, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TQ_VIBRATION_H */
