"""tq_requantize (the runtime's one rounding rule, fused into a single 64-bit step) == TFLM's two-step
MultiplyByQuantizedMultiplier, as ported in tinyqi.codegen.fixedpoint, on edge and random values, compiled with
tinyqi verify's host flags, ASan + UBSan (so a signed overflow in the fused form fails the test, not just a value)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")

PROGRAM = r"""
#include <stdio.h>
#include "tq_requantize.h"

int main(void)
{
    long long x, m, shift;
    while (scanf("%lld %lld %lld", &x, &m, &shift) == 3) {
        printf("%d\n", (int)tq_requantize((int32_t)x, (int32_t)m, (int32_t)shift));
    }
    return 0;
}
"""

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def cases() -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(0)
    edges = sorted({0, 1, -1, INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1}
                   | {sign * (2**k + d) for k in range(31) for d in (-1, 0, 1) for sign in (1, -1)})
    multipliers = [0, 2**30, 2**30 + 1, 2**31 - 1, 1518500250, 1342177280]
    shifts = list(range(-31, 1)) + [1, 2, 5]
    rows = [(x, m, s) for x in edges for m in multipliers for s in shifts]
    xs = rng.integers(INT32_MIN, INT32_MAX, 20000, endpoint=True)
    ms = rng.integers(2**30, 2**31 - 1, 20000, endpoint=True)
    ss = rng.integers(-31, 3, 20000, endpoint=True)
    small = rng.integers(-(2**17), 2**17, 20000)  # accumulator-sized values, where ties are frequent
    rows += [(int(x), int(m), int(s)) for x, m, s in zip(xs, ms, ss)]
    rows += [(int(x), int(m), int(s)) for x, m, s in zip(small, ms, ss)]
    return rows


def test_fused_requantize_matches_tflm_two_step_rule(tmp_path):
    from tinyqi.codegen import RUNTIME_DIR
    from tinyqi.codegen.fixedpoint import requantize
    from tinyqi.hostc import CC, CFLAGS

    source = tmp_path / "requantize.c"
    source.write_text(PROGRAM)
    binary = tmp_path / "requantize"
    subprocess.run([CC, *CFLAGS, "-I", str(RUNTIME_DIR / "include"), str(source), "-o", str(binary)], check=True)
    rows = cases()
    stdin = "".join(f"{x} {m} {s}\n" for x, m, s in rows)
    got = subprocess.run([str(binary)], input=stdin, capture_output=True, text=True, check=True).stdout.split()
    wrong = [(row, int(g), requantize(*row)) for row, g in zip(rows, got) if int(g) != requantize(*row)]
    assert len(got) == len(rows)
    assert not wrong, f"{len(wrong)} of {len(rows)} differ, first: {wrong[:3]}"
