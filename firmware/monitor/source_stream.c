/* Recorded samples from flash (ECG, or accelerometer counts for the vibration app): the excerpts tinyqi wrote
 * into stream_data.c (records one after the other), read as fast as the core runs. The emulator times the chain
 * and the model on them; the energy model adds the sleep a board spends between samples (docs/emulation.md,
 * "Energy of the monitoring job"). */
#ifndef TQ_MONITOR_SAADC

#include "stream_data.h"
#include "tq_monitor_source.h"

static int record_index = -1;
static uint32_t position;
static uint32_t record_end;

int tq_source_begin(tq_source_record_t *record) {
    if (record_index + 1 >= TQ_STREAM_RECORD_COUNT) {
        return 0;
    }
    const tq_stream_record_t *next = &tq_stream_records[++record_index];
    position = next->first;
    record_end = next->first + next->count;
    record->name = next->name;
    record->samples = next->count;
    return 1;
}

int tq_source_sample(int16_t *sample) {
    if (position >= record_end) {
        return 0;
    }
    *sample = tq_stream_samples[position++];
    return 1;
}

#endif
