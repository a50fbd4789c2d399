/* tinyqi firmware harness: every golden vector through the generated model, one parseable line per inference.
 *
 *   TQ v=<index> class=<argmax> out=<o0>,<o1>,... cycles=<n> ok=<1|0>
 *   TQL v=<index> layer=<i> name=<layer name> cycles=<n>     (vector 0 only, when built with TQ_PROFILE)
 *   TQ_DONE vectors=<N> mismatches=<M> cycles_total=<n>
 *
 * cycles: DWT CYCCNT around tq_model_invoke(), minus the cost of an empty read pair. ok: all int8 outputs equal
 * the golden output (from the TFLM interpreter). mismatches: vectors with ok=0. Format: docs/architecture.md.
 * A float32 model (TQ_MODEL_IO_FLOAT) prints each output as the signed 32-bit integer holding its IEEE-754 bits
 * (lossless, so the host compares them with TFLM bit for bit); ok: every output within TQ_FLOAT_TOLERANCE of the
 * golden output. The kernels follow TFLM's order of arithmetic and exp is glibc's (tq_exp_f32.c), but TANH calls
 * the device's libm (newlib's tanhf: 1-3 ulp from the host's glibc on ~0.1% of inputs in [-1, 1]), so exact
 * equality is the host's check (tinyqi bench: bit-exact). */
#include <stdint.h>
#include <string.h>

#include "golden_data.h"
#include "model_data.h"
#include "tq_board.h"
#include "tq_cortex_m.h"
#include "tq_output.h"
#include "tq_text.h"

#if TQ_MODEL_INPUT_COUNT < 1 || TQ_MODEL_INPUT_COUNT > 4
#error "the harness feeds 1 to 4 model inputs; extend load_inputs() for more"
#endif

#if TQ_MODEL_IO_FLOAT
#define TQ_FLOAT_TOLERANCE 1e-4f /* absolute, as tinyqi.verify.FLOAT_TOLERANCE */
#endif

static char line_buffer[256];
static uint32_t read_pair_cycles; /* what two back-to-back CYCCNT reads cost; not part of an inference */

#ifdef TQ_PROFILE
static uint32_t layer_cycles[TQ_MODEL_LAYER_COUNT];
static uint32_t layer_start;

/* Called by tq_model_invoke() after each layer. The time spent in here is left out of every layer. */
void tq_profile_layer_end(int layer) {
    uint32_t now = tq_cycles_now();
    if (layer >= 0 && layer < TQ_MODEL_LAYER_COUNT) {
        layer_cycles[layer] = now - layer_start;
    }
    layer_start = tq_cycles_now();
}
#endif

static void load_inputs(int v) {
    memcpy(tq_model_input(0), tq_golden_input0[v], TQ_MODEL_INPUT0_SIZE * sizeof(tq_model_io_t));
#if TQ_MODEL_INPUT_COUNT > 1
    memcpy(tq_model_input(1), tq_golden_input1[v], TQ_MODEL_INPUT1_SIZE * sizeof(tq_model_io_t));
#endif
#if TQ_MODEL_INPUT_COUNT > 2
    memcpy(tq_model_input(2), tq_golden_input2[v], TQ_MODEL_INPUT2_SIZE * sizeof(tq_model_io_t));
#endif
#if TQ_MODEL_INPUT_COUNT > 3
    memcpy(tq_model_input(3), tq_golden_input3[v], TQ_MODEL_INPUT3_SIZE * sizeof(tq_model_io_t));
#endif
}

static uint32_t measure_read_pair(void) {
    uint32_t start = tq_cycles_now();
    uint32_t stop = tq_cycles_now();
    return stop - start;
}

static uint32_t timed_invoke(void) {
    uint32_t start = tq_cycles_now();
#ifdef TQ_PROFILE
    layer_start = start;
#endif
    tq_model_invoke();
    uint32_t elapsed = tq_cycles_now() - start;
    return elapsed > read_pair_cycles ? elapsed - read_pair_cycles : 0u;
}

/* First index of the largest output, as numpy.argmax. */
static int argmax(const tq_model_io_t *values, int count) {
    int best = 0;
    for (int i = 1; i < count; ++i) {
        if (values[i] > values[best]) {
            best = i;
        }
    }
    return best;
}

/* The text of one output value: the int8 value, or the bits of a float32 value as a signed integer. */
static int32_t output_text_value(tq_model_io_t value) {
#if TQ_MODEL_IO_FLOAT
    int32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
#else
    return value;
#endif
}

static int output_matches(const tq_model_io_t *output, const tq_model_io_t *golden) {
#if TQ_MODEL_IO_FLOAT
    for (int i = 0; i < TQ_MODEL_OUTPUT_SIZE; ++i) {
        float difference = output[i] - golden[i];
        if (!(difference <= TQ_FLOAT_TOLERANCE && difference >= -TQ_FLOAT_TOLERANCE)) {
            return 0;
        }
    }
    return 1;
#else
    return memcmp(output, golden, TQ_MODEL_OUTPUT_SIZE) == 0;
#endif
}

static void report_inference(int v, const tq_model_io_t *output, uint32_t cycles, int ok) {
    tq_text text;
    tq_text_init(&text, line_buffer, sizeof line_buffer);
    tq_text_str(&text, "TQ v=");
    tq_text_u64(&text, (uint64_t)v);
    tq_text_str(&text, " class=");
    tq_text_u64(&text, (uint64_t)argmax(output, TQ_MODEL_OUTPUT_SIZE));
    tq_text_str(&text, " out=");
    for (int i = 0; i < TQ_MODEL_OUTPUT_SIZE; ++i) {
        if (i > 0) {
            tq_text_str(&text, ",");
        }
        tq_text_i32(&text, output_text_value(output[i]));
    }
    tq_text_str(&text, " cycles=");
    tq_text_u64(&text, cycles);
    tq_text_str(&text, ok ? " ok=1" : " ok=0");
    tq_output_line(tq_text_end_line(&text));
}

#ifdef TQ_PROFILE
static void report_layers(int v) {
    for (int layer = 0; layer < TQ_MODEL_LAYER_COUNT; ++layer) {
        tq_text text;
        tq_text_init(&text, line_buffer, sizeof line_buffer);
        tq_text_str(&text, "TQL v=");
        tq_text_u64(&text, (uint64_t)v);
        tq_text_str(&text, " layer=");
        tq_text_u64(&text, (uint64_t)layer);
        tq_text_str(&text, " name=");
        tq_text_str(&text, tq_model_layer_names[layer]);
        tq_text_str(&text, " cycles=");
        tq_text_u64(&text, layer_cycles[layer]);
        tq_output_line(tq_text_end_line(&text));
    }
}
#endif

static void report_done(uint32_t mismatches, uint64_t cycles_total) {
    tq_text text;
    tq_text_init(&text, line_buffer, sizeof line_buffer);
    tq_text_str(&text, "TQ_DONE vectors=");
    tq_text_u64(&text, (uint64_t)TQ_GOLDEN_COUNT);
    tq_text_str(&text, " mismatches=");
    tq_text_u64(&text, mismatches);
    tq_text_str(&text, " cycles_total=");
    tq_text_u64(&text, cycles_total);
    tq_output_line(tq_text_end_line(&text));
}

int main(void) {
    tq_board_init();
    tq_cycles_enable();
    read_pair_cycles = measure_read_pair();

    uint32_t mismatches = 0u;
    uint64_t cycles_total = 0u;
    for (int v = 0; v < TQ_GOLDEN_COUNT; ++v) {
        load_inputs(v);
        uint32_t cycles = timed_invoke();
        const tq_model_io_t *output = tq_model_output();
        int ok = output_matches(output, tq_golden_output[v]);
        mismatches += ok ? 0u : 1u;
        cycles_total += cycles;
        report_inference(v, output, cycles, ok);
#ifdef TQ_PROFILE
        if (v == 0) {
            report_layers(v);
        }
#endif
    }
    report_done(mismatches, cycles_total);
    tq_output_finish(mismatches == 0u);
}
