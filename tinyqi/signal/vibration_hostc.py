"""Host execution of the C vibration chain (firmware/lib/tinyqi/src/tq_vibration_window.c): compiled by the host gcc
under AddressSanitizer + UndefinedBehaviorSanitizer with tinyqi verify's flags, fed a stream of int16 counts one
sample at a time, and read back as the (n_windows, WINDOW) int8 array that tinyqi.signal.vibration.windows returns,
so the two can be compared window by window.

The harness initialises the chain with the hop in argv[1], pushes every sample of stdin and, whenever a push returns
1, writes the window (tq_vib_window into a buffer, as a device writes into the model's input). stdout: a header
(sizeof the state, tq_vib_init's return value, tq_vib_window's return value before any sample), then one record
per window: the number of samples pushed when it completed, and its int8 values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi.codegen import runtime_dir
from tinyqi.errors import TinyqiError
from tinyqi.hostc import cached_executable, int16_stdin, run_sanitized
from tinyqi.signal import vibration

HEADER = np.dtype([("state_size", "<i4"), ("init_rc", "<i4"), ("early_window_rc", "<i4"), ("pad", "<i4")])
RECORD = np.dtype([("end", "<i8"), ("x", "i1", (vibration.WINDOW,))])

HARNESS = r"""/* tinyqi vibration chain host harness: int16 samples in, windows out; see vibration_hostc.py */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_vibration.h"

typedef struct {
    int32_t state_size, init_rc, early_window_rc, pad;
} header_t;

typedef struct {
    int64_t end;
    int8_t x[TQ_VIB_WINDOW];
} record_t;

static tq_vib_state_t state;

int main(int argc, char **argv)
{
    if (argc != 2 || sizeof(header_t) != %(header_size)d || sizeof(record_t) != %(record_size)d) {
        fprintf(stderr, "usage: %%s HOP (record layout %%u bytes)\n", argv[0], (unsigned)sizeof(record_t));
        return 2;
    }
    header_t h;
    record_t r;
    memset(&h, 0, sizeof h);
    memset(&r, 0x55, sizeof r);
    h.state_size = (int32_t)sizeof(tq_vib_state_t);
    h.init_rc = tq_vib_init(&state, (int32_t)strtol(argv[1], NULL, 10));
    h.early_window_rc = tq_vib_window(&state, r.x);
    for (int i = 0; i < TQ_VIB_WINDOW; ++i) {
        if (r.x[i] != 0x55) {
            fprintf(stderr, "tq_vib_window wrote before the first window\n");
            return 3;
        }
    }
    fwrite(&h, sizeof h, 1, stdout);
    int16_t chunk[4096];
    int64_t pushed = 0;
    size_t got;
    while ((got = fread(chunk, sizeof chunk[0], sizeof chunk / sizeof chunk[0], stdin)) > 0) {
        for (size_t i = 0; i < got; ++i) {
            ++pushed;
            if (tq_vib_push(&state, chunk[i])) {
                if (tq_vib_window(&state, r.x) != 1) {
                    fprintf(stderr, "no window after a push that completed one\n");
                    return 3;
                }
                r.end = pushed;
                fwrite(&r, sizeof r, 1, stdout);
            }
        }
    }
    return fflush(stdout) == 0 ? 0 : 4;
}
"""


@dataclass
class CWindows:
    x: np.ndarray  # (n_windows, WINDOW) int8, as vibration.windows
    end: np.ndarray  # samples pushed when each window completed (its start + WINDOW)
    state_size: int  # sizeof(tq_vib_state_t) on the host
    init_rc: int  # tq_vib_init's return value (-1: hop refused, TQ_VIB_HOP used)
    early_window_rc: int  # tq_vib_window before any sample (0 expected, nothing written)


def _sources() -> list[Path]:
    """What the harness is built from: the stage file, the runtime header it shares helpers with, every header."""
    return [runtime_dir() / "src" / "tq_vibration_window.c", runtime_dir() / "src" / "tq_internal.h",
            *sorted((runtime_dir() / "include").glob("*.h"))]


def _harness_text() -> str:
    return HARNESS % {"header_size": HEADER.itemsize, "record_size": RECORD.itemsize}


def executable() -> Path:
    """The chain + harness, built once per content of the sources, flags and harness (cached under $TINYQI_CACHE)."""
    return cached_executable("vibration", _harness_text(), _sources(), "the vibration chain")


def windows_c(counts: np.ndarray, hop: int = vibration.HOP) -> CWindows:
    """vibration.windows(counts, hop), computed by the C chain under sanitizers, one sample per push. Any sanitizer
    or harness finding raises TinyqiError."""
    stdin = int16_stdin(counts, "vibration chain input: expected a 1-D array of int16 counts; convert g values first")
    stdout = run_sanitized([str(executable()), str(int(hop))], stdin, "C vibration chain")
    body = stdout[HEADER.itemsize:]
    if len(stdout) < HEADER.itemsize or len(body) % RECORD.itemsize:
        raise TinyqiError("C vibration chain: truncated harness output")
    head = np.frombuffer(stdout[:HEADER.itemsize], HEADER)[0]
    records = np.frombuffer(body, RECORD)
    return CWindows(records["x"].copy(), records["end"].astype(np.int64), int(head["state_size"]),
                    int(head["init_rc"]), int(head["early_window_rc"]))


def state_size() -> int:
    """sizeof(tq_vib_state_t) as the host compiler lays it out."""
    return windows_c(np.zeros(0, np.int16)).state_size


def compare_stream(counts: np.ndarray, hop: int = vibration.HOP) -> dict:
    """The Python reference against the C chain on one stream: windows on each side and mismatching windows (a
    window missing on one side counts as a mismatch), and whether the C windows end where Python's do."""
    py, c = vibration.windows(counts, hop), windows_c(counts, hop)
    n = max(len(py), len(c.x))
    common = min(len(py), len(c.x))
    differ = np.ones(n, bool)
    if common:
        differ[:common] = (py[:common] != c.x[:common]).any(axis=1)
    ends = vibration.window_starts(len(np.asarray(counts)), hop) + vibration.WINDOW
    return {"windows_py": len(py), "windows_c": len(c.x), "window_mismatches": int(differ.sum()),
            "ends_equal": bool(np.array_equal(ends, c.end))}
