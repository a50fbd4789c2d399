/* tinyqi monitoring firmware, vibration task: raw accelerometer samples in, one class per window out
 * (docs/firmware.md, "Monitor app"; built by the nrf52840-monitor-vibration env instead of main.c).
 *
 *   TQR record=<name> samples=<n>                                   a recording starts (the chain starts afresh)
 *   TQW n=<first sample> class=<argmax> out=<o0>,<o1>,... chain=<chain cycles> cycles=<model cycles>   per window
 *   TQ_MONITOR_DONE samples=<N> windows=<W> chain_cycles=<c> model_cycles=<m> stack=<bytes>
 *
 * Every sample goes through the vibration chain (tq_vib_push, hop TQ_VIB_HOP = TQ_VIB_WINDOW: back-to-back
 * windows); every window it completes is written by tq_vib_window straight into the model's int8 input (the
 * chain's ints are the model's inputs: scale 1/128, zero point 0, tinyqi/signal/vibration.py), then the generated
 * model runs. n: the window's first sample, counted from the record's first sample (vibration.window_starts).
 * chain: DWT CYCCNT around every tq_vib_push since the previous window (the window's own TQ_VIB_WINDOW samples)
 * and around tq_vib_window, each minus an empty read pair; cycles: the same around tq_model_invoke().
 * chain_cycles: every push and window call of the run (samples after a record's last window included);
 * model_cycles: the windows' cycles, summed. stack: the deepest main-stack use of the run.
 * The samples come from tq_monitor_source.h: recorded counts in flash (source_stream.c); no board source yet. */
#include <stdint.h>

#include "model_data.h"
#include "tq_monitor_common.h"
#include "tq_monitor_source.h"
#include "tq_text.h"
#include "tq_vibration.h"

#if TQ_MODEL_IO_FLOAT || TQ_MODEL_INPUT_COUNT != 1 || TQ_MODEL_INPUT0_SIZE != TQ_VIB_WINDOW
#error "the vibration monitor feeds an int8 model with one input: the chain's window of TQ_VIB_WINDOW samples"
#endif

#ifdef TQ_MONITOR_SAADC
#error "the vibration monitor reads recorded samples (source_stream.c); the SAADC source is the ECG app's"
#endif

static tq_vib_state_t chain;

static void report_window(uint32_t first, uint32_t chain_cycles, uint32_t cycles) {
    tq_text text;
    const tq_model_io_t *output = tq_model_output();
    tq_monitor_result_begin(&text, "TQW", (int32_t)first, tq_monitor_argmax(output, TQ_MODEL_OUTPUT_SIZE), output);
    tq_text_str(&text, " chain=");
    tq_text_u64(&text, chain_cycles);
    tq_monitor_result_end(&text, cycles);
}

/* One recording: every sample through the chain; at each complete window, the window into the model's input and
 * the model. `window_chain` gathers the chain cycles of the window's own samples. */
static void run_record(void) {
    uint32_t pushed = 0u;       /* samples of this record so far */
    uint32_t window_chain = 0u; /* chain cycles since the previous window */
    int16_t sample;
    while (tq_source_sample(&sample)) {
        uint32_t start = tq_cycles_now();
        int complete = tq_vib_push(&chain, sample);
        uint32_t cycles = tq_monitor_cycles_since(start);
        window_chain += cycles;
        tq_monitor_totals.chain_cycles += cycles;
        pushed += 1u;
        if (!complete) {
            continue;
        }
        start = tq_cycles_now();
        tq_vib_window(&chain, tq_model_input(0));
        cycles = tq_monitor_cycles_since(start);
        window_chain += cycles;
        tq_monitor_totals.chain_cycles += cycles;

        uint32_t model = tq_monitor_invoke();
        report_window(pushed - TQ_VIB_WINDOW, window_chain, model);
        window_chain = 0u;
    }
    tq_monitor_totals.samples += pushed;
}

int main(void) {
    tq_monitor_start();
    tq_source_record_t record;
    while (tq_monitor_next_record(&record)) {
        tq_vib_init(&chain, TQ_VIB_HOP);
        run_record();
    }
    tq_monitor_finish("windows");
}
