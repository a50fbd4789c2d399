/* tinyqi monitoring firmware: ECG samples in, one class per detected beat out (docs/firmware.md, "Monitor app").
 *
 *   TQR record=<name> samples=<n>                                   a record starts (the chain starts afresh)
 *   TQB n=<sample index> class=<tq_ecg_decide> out=<o0>,<o1>,... cycles=<model cycles>  one line per described beat
 *   TQ_MONITOR_DONE samples=<N> beats=<B> chain_cycles=<c> model_cycles=<m> stack=<bytes>
 *
 * Every sample goes through the ECG chain (tq_ecg_push); every beat it describes (tq_ecg_next_beat) goes through
 * the generated model. n: the beat's fiducial sample, counted from the record's first sample. cycles: DWT CYCCNT
 * around tq_model_invoke(), minus an empty read pair (as the harness, firmware/src/main.c). chain_cycles: the
 * same around every tq_ecg_push, tq_ecg_next_beat and tq_ecg_decide call, summed; model_cycles: the beats' cycles,
 * summed.
 * stack: the deepest main-stack use of the run (painted at start, measured at the end).
 * The samples come from tq_monitor_source.h: flash (emulation) or the SAADC (a board). What the vibration app
 * (main_vibration.c, the nrf52840-monitor-vibration env) shares with this one is in tq_monitor_common.h. */
#include <stdint.h>
#include <string.h>

#include "model_data.h"
#include "tq_ecg.h"
#include "tq_monitor_common.h"
#include "tq_monitor_source.h"
#include "tq_text.h"

#if TQ_MODEL_IO_FLOAT || TQ_MODEL_INPUT_COUNT != 2
#error "the monitor feeds an int8 model with two inputs: the beat window and the RR features"
#endif

/* The chain's two outputs, in whichever order the .tflite declares the model's inputs. */
#define WAVE_SIZE (TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS)
#if TQ_MODEL_INPUT0_SIZE == WAVE_SIZE && TQ_MODEL_INPUT1_SIZE == TQ_ECG_RR_FEATURES
#define WAVE_INPUT 0
#define RR_INPUT 1
#elif TQ_MODEL_INPUT1_SIZE == WAVE_SIZE && TQ_MODEL_INPUT0_SIZE == TQ_ECG_RR_FEATURES
#define WAVE_INPUT 1
#define RR_INPUT 0
#else
#error "the model's inputs must be the chain's: 128 x TQ_ECG_WAVE_CHANNELS window samples and TQ_ECG_RR_FEATURES RR features"
#endif

static tq_ecg_state_t chain;
static tq_ecg_votes_t votes; /* the decision's shape clusters: per patient, reset with the chain */
static tq_ecg_beat_t beat;

/* The chain's int8 values ARE the model's int8 inputs (scale 1/32, zero point 0: tinyqi/signal/ecg.py). */
static void classify(const tq_ecg_beat_t *described) {
    memcpy(tq_model_input(WAVE_INPUT), described->x0, sizeof described->x0);
    memcpy(tq_model_input(RR_INPUT), described->x1, sizeof described->x1);
    uint32_t cycles = tq_monitor_invoke();
    uint32_t start = tq_cycles_now();
    int decided = tq_ecg_decide(&votes, tq_model_output(), TQ_MODEL_OUTPUT_SIZE, described->x1, described->x0);
    tq_monitor_totals.chain_cycles += tq_monitor_cycles_since(start);
    tq_text text;
    tq_monitor_result_begin(&text, "TQB", described->sample, decided, tq_model_output());
    tq_monitor_result_end(&text, cycles);
}

/* A beat is ready at most a few times per sample; each next_beat call is chain work, the last one included. The
 * beats are drained only when the push says one is ready. */
static void process(int16_t sample) {
    uint32_t start = tq_cycles_now();
    int ready = tq_ecg_push(&chain, sample);
    tq_monitor_totals.chain_cycles += tq_monitor_cycles_since(start);
    while (ready) {
        start = tq_cycles_now();
        ready = tq_ecg_next_beat(&chain, &beat);
        tq_monitor_totals.chain_cycles += tq_monitor_cycles_since(start);
        if (!ready) {
            break;
        }
        classify(&beat);
    }
    tq_monitor_totals.samples += 1u;
}

int main(void) {
    tq_monitor_start();
    tq_source_record_t record;
    while (tq_monitor_next_record(&record)) {
        tq_ecg_init(&chain);
        tq_ecg_votes_init(&votes);
        int16_t sample;
        while (tq_source_sample(&sample)) {
            process(sample);
        }
    }
    tq_monitor_finish("beats");
}
