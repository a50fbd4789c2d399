"""Static activation-arena planning from tensor lifetimes (the offline form of TFLM's greedy planner).

A buffer is live from the call that writes it (model inputs: before the first call) to the last call that reads
it (the model output: to the end). Buffers whose lifetimes overlap get disjoint byte ranges; the others share.
Largest buffers are placed first, each at the lowest aligned offset that clears every placed, overlapping buffer.
"""

from __future__ import annotations

from tinyqi.codegen.program import Buffer

ALIGNMENT = 4  # float32 and int32 access; Cortex-M4 needs no more


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan(buffers: dict[str, Buffer]) -> int:
    """Set every buffer's offset; return the arena size in bytes."""
    placed: list[Buffer] = []
    order = sorted(buffers.values(), key=lambda b: (-b.nbytes, b.first, b.key))
    for buf in order:
        overlapping = sorted((p for p in placed if p.first <= buf.last and buf.first <= p.last),
                             key=lambda p: p.offset)
        offset = 0
        for p in overlapping:
            if offset + buf.nbytes <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.nbytes))
        buf.offset = offset
        placed.append(buf)
    return _align(max((b.offset + b.nbytes for b in placed), default=0))


def naive_bytes(buffers: dict[str, Buffer]) -> int:
    """What a planner-less runtime would need: every buffer in its own range."""
    return sum(_align(b.nbytes) for b in buffers.values())
