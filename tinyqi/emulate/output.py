"""Parses the harness output lines (docs/architecture.md): TQ per inference, TQL per layer, TQ_DONE, TQ_FAULT.
scan_lines is the loop every firmware's output goes through (the monitor app's too: tinyqi.emulate.monitor)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tinyqi.errors import TinyqiError

_VECTOR = re.compile(r"TQ v=(\d+) class=(\d+) out=(-?\d+(?:,-?\d+)*) cycles=(\d+) ok=([01])")
_LAYER = re.compile(r"TQL v=(\d+) layer=(\d+) name=(.+?) cycles=(\d+)")
_DONE = re.compile(r"TQ_DONE vectors=(\d+) mismatches=(\d+) cycles_total=(\d+)")
_FAULT = re.compile(r"TQ_FAULT .*\bpc=(0x[0-9a-fA-F]+)")
_PREFIXES = ("TQ ", "TQL ", "TQ_DONE")


@dataclass(frozen=True)
class VectorLine:
    index: int
    predicted_class: int
    outputs: tuple[int, ...]
    cycles: int
    ok: bool


@dataclass(frozen=True)
class LayerLine:
    vector: int
    layer: int
    name: str
    cycles: int


@dataclass(frozen=True)
class DoneLine:
    vectors: int
    mismatches: int
    cycles_total: int


@dataclass(frozen=True)
class HarnessOutput:
    vectors: tuple[VectorLine, ...]
    layers: tuple[LayerLine, ...]
    done: DoneLine | None
    fault: str | None           # the TQ_FAULT line, when the firmware's fault handler printed one
    fault_pc: int | None


def scan_lines(text: str, prefixes: tuple[str, ...], take: Callable[[str], bool], source: str, problem: str,
               line_format: str) -> tuple[str | None, int | None]:
    """Hands every line that starts with one of `prefixes` to `take`, which returns False for a line it cannot place:
    that line raises TinyqiError ("output line N is <problem>", then where `line_format` is documented). Other lines
    (banners, logs) are ignored. Returns the TQ_FAULT line the firmware's fault handler printed, if any, and its pc."""
    fault = fault_pc = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("TQ_FAULT"):
            match = _FAULT.match(line)
            fault, fault_pc = line, int(match.group(1), 16) if match else None
        elif line.startswith(prefixes) and not take(line):
            raise TinyqiError(f"{source}: output line {number} is {problem}: {line!r}; {line_format}")
    return fault, fault_pc


def parse_output(text: str, source: str) -> HarnessOutput:
    """Every line that starts like a harness line must parse; other lines (banners, logs) are ignored."""
    vectors, layers, done = [], [], None

    def take(line: str) -> bool:
        nonlocal done
        if match := _DONE.fullmatch(line):
            done = DoneLine(*(int(g) for g in match.groups()))
        elif match := _LAYER.fullmatch(line):
            layers.append(LayerLine(int(match[1]), int(match[2]), match[3], int(match[4])))
        elif match := _VECTOR.fullmatch(line):
            vectors.append(VectorLine(int(match[1]), int(match[2]), tuple(int(v) for v in match[3].split(",")),
                                      int(match[4]), match[5] == "1"))
        return match is not None

    fault, fault_pc = scan_lines(text, _PREFIXES, take, source, "malformed",
                                 "the harness line format is in docs/architecture.md")
    _check_consistent(vectors, done, source)
    return HarnessOutput(tuple(vectors), tuple(layers), done, fault, fault_pc)


def _check_consistent(vectors: list[VectorLine], done: DoneLine | None, source: str) -> None:
    """Each TQ line must be possible (vectors in order, one output count, a class among the outputs) and TQ_DONE
    must agree with them, or the output was truncated or garbled on the way."""
    for position, vector in enumerate(vectors):
        problem = _line_problem(vector, position, len(vectors[0].outputs))
        if problem:
            raise TinyqiError(f"{source}: vector line {position} ({problem}) cannot come from the tinyqi harness; "
                              "the output is garbled or the ELF is not the harness")
    if done is None:
        return
    failed = sum(1 for vector in vectors if not vector.ok)
    cycles = sum(vector.cycles for vector in vectors)
    if (done.vectors, done.mismatches, done.cycles_total) != (len(vectors), failed, cycles):
        raise TinyqiError(f"{source}: TQ_DONE reports vectors={done.vectors} mismatches={done.mismatches} "
                          f"cycles_total={done.cycles_total} but the TQ lines give {len(vectors)}, {failed} and "
                          f"{cycles}; the output is incomplete or garbled")


def _line_problem(vector: VectorLine, position: int, outputs: int) -> str:
    if vector.index != position:
        return f"v={vector.index} where v={position} comes next"
    if len(vector.outputs) != outputs:
        return f"{len(vector.outputs)} outputs where the first vector has {outputs}"
    if vector.predicted_class >= outputs:
        return f"class={vector.predicted_class} of {outputs} outputs"
    return ""
