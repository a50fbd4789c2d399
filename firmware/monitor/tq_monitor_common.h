/* What both monitor apps share (main.c: ECG per beat; main_vibration.c: vibration per window): the start and end of
 * the run, the records and their TQR lines, the stack peak, the DWT cycle measurement, the timed model run, the
 * totals, and the result and done lines but for each app's own fields. An app's main keeps the record loop and its
 * chain: it starts the chain afresh per record (tq_monitor_next_record), pushes the record's samples, adds the
 * chain's cycles and the samples to tq_monitor_totals, and prints a result line per model run
 * (tq_monitor_result_begin, its own fields, tq_monitor_result_end). Static functions: each app is one translation
 * unit that includes this once, so the measured code is laid out as if written in the app (a record loop passed in
 * as a function pointer compiled differently and cost the ECG chain a cycle per sample). */
#ifndef TQ_MONITOR_COMMON_H
#define TQ_MONITOR_COMMON_H

#include <stdint.h>

#include "model_data.h"
#include "tq_board.h"
#include "tq_cortex_m.h"
#include "tq_monitor_source.h"
#include "tq_output.h"
#include "tq_text.h"

#define TQ_MONITOR_STACK_PAINT 0x5AC4C0DEu
#define TQ_MONITOR_STACK_MARGIN 64u /* bytes left unpainted below the painting function's own frame */

extern uint32_t __stack_bottom[];
extern uint32_t __stack_top[];

/* What TQ_MONITOR_DONE reports: the app adds samples and chain cycles, tq_monitor_invoke the model runs. */
static struct {
    uint64_t samples;
    uint64_t inferences; /* beats or windows: one model run each */
    uint64_t chain_cycles;
    uint64_t model_cycles;
} tq_monitor_totals;

static char tq_monitor_line[128];

/* Fill the unused stack with a pattern; the deepest word overwritten by the end of the run is the peak use. */
static void tq_monitor_paint_stack(void) {
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *word = __stack_bottom; (uint32_t)(uintptr_t)word < sp - TQ_MONITOR_STACK_MARGIN; ++word) {
        *word = TQ_MONITOR_STACK_PAINT;
    }
}

static uint32_t tq_monitor_stack_peak_bytes(void) {
    const uint32_t *word = __stack_bottom;
    while (word < __stack_top && *word == TQ_MONITOR_STACK_PAINT) {
        ++word;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)word);
}

/* What two back-to-back CYCCNT reads cost: not part of the work measured (as the harness, firmware/src/main.c). */
static uint32_t tq_monitor_read_pair_cycles;

static void tq_monitor_cycles_init(void) {
    tq_cycles_enable();
    uint32_t start = tq_cycles_now();
    uint32_t stop = tq_cycles_now();
    tq_monitor_read_pair_cycles = stop - start;
}

static inline uint32_t tq_monitor_cycles_since(uint32_t start) {
    uint32_t elapsed = tq_cycles_now() - start;
    return elapsed > tq_monitor_read_pair_cycles ? elapsed - tq_monitor_read_pair_cycles : 0u;
}

/* First index of the largest output, as numpy.argmax (inline: the ECG app decides with tq_ecg_decide instead). */
static inline int tq_monitor_argmax(const tq_model_io_t *values, int count) {
    int best = 0;
    for (int i = 1; i < count; ++i) {
        if (values[i] > values[best]) {
            best = i;
        }
    }
    return best;
}

/* The model on the input the app wrote: its cycles, also added to the totals. */
static uint32_t tq_monitor_invoke(void) {
    uint32_t start = tq_cycles_now();
    tq_model_invoke();
    uint32_t cycles = tq_monitor_cycles_since(start);
    tq_monitor_totals.inferences += 1u;
    tq_monitor_totals.model_cycles += cycles;
    return cycles;
}

/* TQR record=<name> samples=<n> */
static void tq_monitor_report_record(const tq_source_record_t *record) {
    tq_text text;
    tq_text_init(&text, tq_monitor_line, sizeof tq_monitor_line);
    tq_text_str(&text, "TQR record=");
    tq_text_str(&text, record->name);
    tq_text_str(&text, " samples=");
    tq_text_u64(&text, record->samples);
    tq_output_line(tq_text_end_line(&text));
}

/* "<tag> n=<n> class=<class> out=<o0>,<o1>,..." of the model's output and the app's decision: a result line up to the
 * app's own fields. */
static void tq_monitor_result_begin(tq_text *text, const char *tag, int32_t n, int decided,
                                    const tq_model_io_t *output) {
    tq_text_init(text, tq_monitor_line, sizeof tq_monitor_line);
    tq_text_str(text, tag);
    tq_text_str(text, " n=");
    tq_text_i32(text, n);
    tq_text_str(text, " class=");
    tq_text_u64(text, (uint64_t)decided);
    tq_text_str(text, " out=");
    for (int i = 0; i < TQ_MODEL_OUTPUT_SIZE; ++i) {
        if (i > 0) {
            tq_text_str(text, ",");
        }
        tq_text_i32(text, output[i]);
    }
}

/* " cycles=<model cycles>", last on every result line, and the line out. */
static void tq_monitor_result_end(tq_text *text, uint32_t cycles) {
    tq_text_str(text, " cycles=");
    tq_text_u64(text, cycles);
    tq_output_line(tq_text_end_line(text));
}

/* TQ_MONITOR_DONE samples=<N> <unit>=<count> chain_cycles=<c> model_cycles=<m> stack=<bytes> */
static void tq_monitor_report_done(const char *unit) {
    tq_text text;
    tq_text_init(&text, tq_monitor_line, sizeof tq_monitor_line);
    tq_text_str(&text, "TQ_MONITOR_DONE samples=");
    tq_text_u64(&text, tq_monitor_totals.samples);
    tq_text_str(&text, " ");
    tq_text_str(&text, unit);
    tq_text_str(&text, "=");
    tq_text_u64(&text, tq_monitor_totals.inferences);
    tq_text_str(&text, " chain_cycles=");
    tq_text_u64(&text, tq_monitor_totals.chain_cycles);
    tq_text_str(&text, " model_cycles=");
    tq_text_u64(&text, tq_monitor_totals.model_cycles);
    tq_text_str(&text, " stack=");
    tq_text_u64(&text, tq_monitor_stack_peak_bytes());
    tq_output_line(tq_text_end_line(&text));
}

/* Before anything runs: the stack painted (its peak is measured at the end), the board, the cycle counter. */
static void tq_monitor_start(void) {
    tq_monitor_paint_stack();
    tq_board_init();
    tq_monitor_cycles_init();
}

/* The source's next record, its TQR line printed; 0 when no record is left. The app starts its chain afresh. */
static int tq_monitor_next_record(tq_source_record_t *record) {
    if (!tq_source_begin(record)) {
        return 0;
    }
    tq_monitor_report_record(record);
    return 1;
}

/* The done line, counting `unit` ("beats", "windows"), and the end of the run. */
static void tq_monitor_finish(const char *unit) __attribute__((noreturn));
static void tq_monitor_finish(const char *unit) {
    tq_monitor_report_done(unit);
    tq_output_finish(1);
}

#endif
