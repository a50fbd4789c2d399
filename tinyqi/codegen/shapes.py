"""Shape bookkeeping shared by the int8 and float32 lowerings: window geometry (mirrors tq_window_t and the
padding helpers of tq_internal.h), broadcasting, and the [outer][reduce][inner] view of MEAN."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyqi.codegen.quant import window_padding
from tinyqi.errors import TinyqiError


def nhwc(shape: tuple[int, ...], what: str, where: str) -> dict:
    if len(shape) != 4:
        raise TinyqiError(f"{where}: {what} has shape {shape}; the kernel needs a 4-D NHWC tensor")
    n, h, w, c = (int(d) for d in shape)
    return {"n": n, "h": h, "w": w, "c": c}


@dataclass
class Window:
    input: dict
    output: dict
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int

    @classmethod
    def from_op(cls, in_shape, out_shape, filter_h: int, filter_w: int, options, where: str) -> "Window":
        inp, out = nhwc(in_shape, "input", where), nhwc(out_shape, "output", where)
        dh = int(getattr(options, "dilationHFactor", 1) or 1)
        dw = int(getattr(options, "dilationWFactor", 1) or 1)
        sh, sw = int(options.strideH), int(options.strideW)
        if min(sh, sw, dh, dw, filter_h, filter_w) < 1:
            raise TinyqiError(f"{where}: stride {sh}x{sw}, dilation {dh}x{dw}, window {filter_h}x{filter_w}; each must "
                              "be at least 1, re-export the model")
        pad_top = window_padding(options.padding, inp["h"], filter_h, sh, dh, out["h"], where)
        pad_left = window_padding(options.padding, inp["w"], filter_w, sw, dw, out["w"], where)
        return cls(inp, out, filter_h, filter_w, sh, sw, dh, dw, pad_top, pad_left)

    @property
    def padded_h(self) -> int:
        return (self.output["h"] - 1) * self.stride_h + (self.filter_h - 1) * self.dilation_h + 1

    @property
    def padded_w(self) -> int:
        return (self.output["w"] - 1) * self.stride_w + (self.filter_w - 1) * self.dilation_w + 1

    @property
    def needs_padding(self) -> bool:
        return (self.pad_top > 0 or self.pad_left > 0 or self.padded_h > self.input["h"]
                or self.padded_w > self.input["w"])

    @property
    def padded_bytes_s8(self) -> int:
        return self.padded_h * self.padded_w * self.input["c"] if self.needs_padding else 0

    @property
    def planar_row(self) -> int:
        """Bytes of one row of the CSR convolution's channel-planar copy (tq_conv2d_csr_s8.c): the padded width and
        three strides of slack, which a walk of a row narrower than four pixels reads."""
        return self.padded_w + 3 * self.stride_w

    @property
    def planar_plane(self) -> int:
        """Bytes of one input channel's plane in that copy."""
        return self.padded_h * self.planar_row

    @property
    def planar_bytes_s8(self) -> int:
        return self.input["c"] * self.planar_plane

    def c_value(self) -> dict:
        return {"input": self.input, "output": self.output, "filter_h": self.filter_h, "filter_w": self.filter_w,
                "stride_h": self.stride_h, "stride_w": self.stride_w, "dilation_h": self.dilation_h,
                "dilation_w": self.dilation_w, "pad_top": self.pad_top, "pad_left": self.pad_left}


def broadcast(shape1: tuple[int, ...], shape2: tuple[int, ...], out_shape: tuple[int, ...], where: str) -> dict:
    """tq_broadcast_t for TFLite's numpy-style broadcasting, flattened to 4-D."""
    size = int(np.prod(out_shape))
    if int(np.prod(shape1)) == size and int(np.prod(shape2)) == size:
        return {"size": size, "elementwise": 1, "dims": [1, 1, 1, size], "stride1": [0, 0, 0, 1],
                "stride2": [0, 0, 0, 1]}
    rank = len(out_shape)
    if rank > 4:
        raise TinyqiError(f"{where}: broadcasting over {rank} dimensions; tinyqi supports up to 4")
    out = [1] * (4 - rank) + [int(d) for d in out_shape]

    def strides(shape) -> list[int]:
        padded = [1] * (4 - len(shape)) + [int(d) for d in shape]
        result, step = [0] * 4, 1
        for axis in range(3, -1, -1):
            if padded[axis] not in (1, out[axis]):
                raise TinyqiError(f"{where}: shapes {shape1} and {shape2} do not broadcast to {out_shape}")
            result[axis] = step if padded[axis] == out[axis] and out[axis] > 1 else 0
            step *= padded[axis]
        return result

    return {"size": size, "elementwise": 0, "dims": out, "stride1": strides(shape1), "stride2": strides(shape2)}


def reduction_view(shape: tuple[int, ...], axes: np.ndarray, out_shape: tuple[int, ...],
                   where: str) -> tuple[int, int, int]:
    """(outer, reduce, inner) for reducing `axes` of `shape` into `out_shape`; the non-trivial reduced axes must be
    adjacent."""
    rank = len(shape)
    if rank == 0 or int(np.prod(shape)) == 0:
        raise TinyqiError(f"{where}: reducing a tensor of shape {shape}; re-export the model")
    reduced = sorted({int(a) % rank for a in np.asarray(axes).ravel()})
    active = [a for a in reduced if shape[a] > 1]
    if active and any(a not in reduced and shape[a] > 1 for a in range(active[0], active[-1] + 1)):
        raise TinyqiError(f"{where}: reducing axes {reduced} of {shape} that are not adjacent is not supported; "
                          "reduce adjacent axes (e.g. global pooling over H and W)")
    if active:
        outer = int(np.prod(shape[: active[0]]))
        reduce = int(np.prod([shape[a] for a in range(active[0], active[-1] + 1)]))
        inner = int(np.prod(shape[active[-1] + 1 :]))
    else:
        outer, reduce, inner = int(np.prod(shape)), 1, 1
    if outer * inner != int(np.prod(out_shape)):
        raise TinyqiError(f"{where}: reducing {shape} gives {outer * inner} elements, the output {out_shape} holds "
                          f"{int(np.prod(out_shape))}; re-export the model")
    return outer, reduce, inner
