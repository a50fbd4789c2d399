"""Host execution of the C ECG chain (firmware/lib/tinyqi/src/tq_ecg*.c): compiled by the host gcc under
AddressSanitizer + UndefinedBehaviorSanitizer with tinyqi verify's flags, fed a record's int16 samples, and read back
as the same ChainBeats that tinyqi.signal.ecg.run_chain returns, so the two can be compared beat by beat.

The harness pushes every sample, drains tq_ecg_next_beat() after each push (as a device does), and writes fixed-size
binary records to stdout: the state's sizeof first, one per detection (fiducial and the b index at which it was
detected, read from the state's `detections` / `last_fid` counters), one per described beat (sample, x0, x1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.codegen import runtime_dir
from tinyqi.errors import TinyqiError
from tinyqi.hostc import cached_executable, int16_stdin, run_sanitized
from tinyqi.signal import ecg

TAG_SIZE, TAG_DETECTION, TAG_BEAT = 0, 1, 2
_INPUT_BYTES = ecg.WINDOW * len(ecg.WAVE_CHANNELS) + len(ecg.RR_FEATURES)
PAD = -_INPUT_BYTES % 4 or 4  # record_t's int8 tail padded to its int32 alignment (never a zero-length array)
RECORD = np.dtype([("tag", "<i4"), ("a", "<i4"), ("b", "<i4"), ("x0", "i1", (ecg.WINDOW * len(ecg.WAVE_CHANNELS),)),
                   ("x1", "i1", (len(ecg.RR_FEATURES),)), ("pad", "i1", (PAD,))])

HARNESS = r"""/* tinyqi ECG chain host harness: int16 samples in (stdin), binary records out (stdout); see hostc.py */
#include <stdio.h>
#include <string.h>

#include "tq_ecg.h"

typedef struct {
    int32_t tag, a, b;
    int8_t x0[TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS];
    int8_t x1[TQ_ECG_RR_FEATURES];
    int8_t pad[%(pad)d];
} record_t;

static tq_ecg_state_t state;

static void emit(int32_t tag, int32_t a, int32_t b, const tq_ecg_beat_t *beat)
{
    record_t r;
    memset(&r, 0, sizeof r);
    r.tag = tag;
    r.a = a;
    r.b = b;
    if (beat) {
        memcpy(r.x0, beat->x0, sizeof r.x0);
        memcpy(r.x1, beat->x1, sizeof r.x1);
    }
    fwrite(&r, sizeof r, 1, stdout);
}

/* Emits the ready beats; returns 1 if there was one although the push said none was ready. */
static int drain(int ready)
{
    tq_ecg_beat_t beat;
    int drained = 0;
    while (tq_ecg_next_beat(&state, &beat)) {
        emit(%(tag_beat)d, beat.sample, 0, &beat);
        drained = 1;
    }
    return drained && !ready;
}

/* argv[1] "end": the caller misbehaves and drains the beats only after the last sample (the queue overflows). */
int main(int argc, char **argv)
{
    const int drain_each_push = !(argc > 1 && strcmp(argv[1], "end") == 0);
    if (sizeof(record_t) != %(record_size)d) {
        fprintf(stderr, "record layout %%u bytes\n", (unsigned)sizeof(record_t));
        return 2;
    }
    tq_ecg_init(&state);
    emit(%(tag_size)d, (int32_t)sizeof(tq_ecg_state_t), 0, NULL);
    int16_t chunk[4096];
    int32_t seen = 0;
    size_t got;
    while ((got = fread(chunk, sizeof chunk[0], sizeof chunk / sizeof chunk[0], stdin)) > 0) {
        for (size_t i = 0; i < got; ++i) {
            const int ready = tq_ecg_push(&state, chunk[i]);
            if (state.detections != seen) {
                if (state.detections != seen + 1) {
                    fprintf(stderr, "%%d detections in one push\n", (int)(state.detections - seen));
                    return 3;
                }
                seen = state.detections;
                emit(%(tag_detection)d, state.last_fid, state.k - 1, NULL);
            }
            if (drain_each_push && drain(ready)) {
                fprintf(stderr, "a beat was ready after a push that returned 0\n");
                return 5;
            }
        }
    }
    drain(1);
    return fflush(stdout) == 0 ? 0 : 4;
}
"""


def _sources() -> list[Path]:
    return sorted((runtime_dir() / "src").glob("tq_ecg*.[ch]")) + [runtime_dir() / "include" / "tq_ecg.h"]


def _harness_text() -> str:
    return HARNESS % {"record_size": RECORD.itemsize, "tag_size": TAG_SIZE, "tag_detection": TAG_DETECTION,
                      "tag_beat": TAG_BEAT, "pad": PAD}


def executable() -> Path:
    """The chain + harness, built once per content of the sources, flags and harness (cached under $TINYQI_CACHE)."""
    return cached_executable("ecg", _harness_text(), _sources(), "the ECG chain")


def _run(adc: np.ndarray, drain_each_push: bool = True) -> np.ndarray:
    stdin = int16_stdin(adc, "ECG chain input: expected a 1-D array of int16 samples; convert the ADC counts first")
    args = [str(executable())] + ([] if drain_each_push else ["end"])
    stdout = run_sanitized(args, stdin, "C ECG chain")
    if len(stdout) % RECORD.itemsize:
        raise TinyqiError("C ECG chain: truncated harness output")
    return np.frombuffer(stdout, RECORD)


def state_size() -> int:
    """sizeof(tq_ecg_state_t) as the host compiler lays it out."""
    records = _run(np.zeros(0, np.int16))
    return int(records["a"][records["tag"] == TAG_SIZE][0])


def run_chain_c(adc: np.ndarray, drain_each_push: bool = True) -> ecg.ChainBeats:
    """ecg.run_chain, computed by the C chain under sanitizers. Any sanitizer or harness finding raises TinyqiError.
    drain_each_push=False calls tq_ecg_next_beat() only after the last sample: a caller breaking the API's contract
    (the chain must stay memory-safe; its beats then differ from Python's)."""
    records = _run(adc, drain_each_push)
    det = records[records["tag"] == TAG_DETECTION]
    beats = records[records["tag"] == TAG_BEAT]
    fid = det["a"].astype(np.int64)
    sample = fid * ecg.DECIMATION - ecg.CHAIN_DELAY
    described = np.isin(sample, beats["a"])
    if described.sum() != len(beats) or not np.array_equal(sample[described], beats["a"]):
        raise TinyqiError("C ECG chain: a described beat is not one of the detections, or beats came out of order")
    x0 = beats["x0"].reshape(-1, ecg.WINDOW, len(ecg.WAVE_CHANNELS)).copy()
    return ecg.ChainBeats(fid, sample, det["b"].astype(np.int64), described, x0, beats["x1"].copy())


def compare_record(adc: np.ndarray) -> dict:
    """The Python reference against the C chain on one record: counts of detections and described beats on each
    side, and of mismatches (a beat missing on one side counts as a mismatch of every kind)."""
    py, c = ecg.run_chain(np.asarray(adc)), run_chain_c(adc)

    def differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per position up to the longer length: True where the rows differ or one side has no row."""
        n, m = len(a), len(b)
        out = np.ones(max(n, m), bool)
        common = min(n, m)
        if common:
            out[:common] = (a[:common] != b[:common]).reshape(common, -1).any(axis=1)
        return out

    py_sample = py.sample[py.described]
    det = differing(np.stack([py.fiducial, py.detected_at], 1), np.stack([c.fiducial, c.detected_at], 1))
    x0, x1, sample = differing(py.x0, c.x0), differing(py.x1, c.x1), differing(py_sample, c.sample[c.described])
    return {
        "detections_py": len(py.fiducial), "detections_c": len(c.fiducial),
        "detection_mismatches": int(det.sum()),
        "beats_py": len(py.x0), "beats_c": len(c.x0),
        "beat_mismatches": int((x0 | x1 | sample).sum()),
        "x0_mismatches": int(x0.sum()), "x1_mismatches": int(x1.sum()), "sample_mismatches": int(sample.sum()),
    }


DECIDE_HARNESS = r"""/* tinyqi ECG decision host harness: per beat %(scores)d int8 scores, the RR features and the
 * window x0 in (stdin), one int8 class out (stdout); one recording's beats in order; see hostc.py */
#include <stdio.h>

#include "tq_ecg.h"

int main(void)
{
    static tq_ecg_votes_t votes;
    int8_t row[%(scores)d + TQ_ECG_RR_FEATURES + TQ_ECG_WINDOW * TQ_ECG_WAVE_CHANNELS];
    tq_ecg_votes_init(&votes);
    while (fread(row, 1, sizeof row, stdin) == sizeof row) {
        const int8_t *rr = row + %(scores)d;
        const signed char decided =
            (signed char)tq_ecg_decide(&votes, row, %(scores)d, rr, rr + TQ_ECG_RR_FEATURES);
        fwrite(&decided, 1, 1, stdout);
    }
    return fflush(stdout) == 0 ? 0 : 4;
}
"""


def decide_c(scores: np.ndarray, rr: np.ndarray, waves: np.ndarray) -> np.ndarray:
    """tq_ecg_decide() on the beats of one recording in order: int8 `scores` (beats, classes), the beats' int8 RR
    features `rr` and windows `waves` (beats, WINDOW * channels), under sanitizers: the C twin of ecg.decide."""
    scores, rr = np.asarray(scores, np.int8), np.asarray(rr, np.int8)
    waves = np.asarray(waves, np.int8).reshape(len(scores), -1)
    harness = DECIDE_HARNESS % {"scores": scores.shape[1]}
    sources = [runtime_dir() / "src" / "tq_ecg_decide.c", runtime_dir() / "include" / "tq_ecg.h"]
    exe = cached_executable(f"ecg-decide{scores.shape[1]}", harness, sources, "the ECG decision")
    stdout = run_sanitized([str(exe)], np.concatenate([scores, rr, waves], axis=1).tobytes(), "C ECG decision")
    return np.frombuffer(stdout, np.int8).astype(np.int64)
