"""The code generator's intermediate form: kernel calls over arena buffers and const definitions, plus the C
rendering of values (rendered only after the arena is planned, because pointers name arena offsets)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyqi.errors import TinyqiError

ARENA = "tq_arena"


@dataclass(frozen=True)
class ArenaRef:
    """A pointer into the activation arena: buffer `key`, viewed as `dtype` ("s8" or "f32")."""

    key: str
    dtype: str


@dataclass(frozen=True)
class CFloat:
    value: float


@dataclass(frozen=True)
class Raw:
    """A C expression copied as is (names of other definitions, casts)."""

    text: str


@dataclass
class Definition:
    """`static const <ctype> <name>[] = ...` (array) or `static const <ctype> <name> = {...}` (struct)."""

    ctype: str
    name: str
    value: object
    is_array: bool
    comment: str = ""


@dataclass
class Call:
    kernel: str
    args: list
    layer_name: str
    comment: str
    definitions: list[Definition] = field(default_factory=list)


@dataclass
class Buffer:
    key: str
    nbytes: int
    first: int
    last: int
    label: str
    offset: int = -1


@dataclass
class Program:
    """Everything model_data.c needs, and the figures codegen reports."""

    calls: list[Call]
    buffers: dict[str, Buffer]
    inputs: list[ArenaRef]
    input_sizes: list[int]
    output: ArenaRef
    output_size: int
    dtype: str  # "s8" or "f32": the model's input/output element type
    arena_bytes: int = 0
    naive_bytes: int = 0
    csr_layers: int = 0


C_INT_TYPES = {
    np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t", np.dtype(np.int16): "int16_t",
    np.dtype(np.uint16): "uint16_t", np.dtype(np.int32): "int32_t", np.dtype(np.uint32): "uint32_t",
}


def c_float(x: float) -> str:
    """A float literal that reads back as exactly the same float32."""
    text = repr(float(np.float32(x)))
    if text in ("inf", "-inf", "nan"):
        raise TinyqiError(f"constant {text} cannot be written as a C float literal; check the model's weights")
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def render(value, buffers: dict[str, Buffer]) -> str:
    """C initialiser text for a Python value (ints, CFloat, Raw, ArenaRef, lists, dicts of fields)."""
    if isinstance(value, ArenaRef):
        offset = buffers[value.key].offset
        if value.dtype == "f32":
            return f"({ARENA}.f32 + {offset // 4})"
        return f"({ARENA}.s8 + {offset})"
    if isinstance(value, CFloat):
        return c_float(value.value)
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {render(v, buffers)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(render(v, buffers) for v in value) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as C")


def render_array_values(values: np.ndarray, per_line: int = 20) -> str:
    flat = np.asarray(values).ravel()
    if flat.dtype == np.float32:
        items = [c_float(v) for v in flat.tolist()]
    else:
        items = [str(v) for v in flat.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}" if items else "{0}"


def render_array_rows(values: np.ndarray) -> str:
    """A 2-D array initialiser with one brace pair per row (no brace elision warnings)."""
    rows = [render_array_values(row).replace("\n", "\n    ") for row in np.asarray(values)]
    return "{\n    " + ",\n    ".join(rows) + "\n}"


def c_comment(text: str) -> str:
    """Text safe inside a C block comment (tensor names are arbitrary strings)."""
    return text.replace("*/", "* /").replace("/*", "/ *")


def render_definition(d: Definition, buffers: dict[str, Buffer]) -> str:
    comment = f"/* {c_comment(d.comment)} */\n" if d.comment else ""
    if d.is_array:
        body = render_array_values(d.value) if isinstance(d.value, np.ndarray) else render(list(d.value), buffers)
        count = len(d.value) if not isinstance(d.value, np.ndarray) else max(int(np.asarray(d.value).size), 1)
        return f"{comment}static const {d.ctype} {d.name}[{count}] = {body};\n"
    return f"{comment}static const {d.ctype} {d.name} = {render(d.value, buffers)};\n"
