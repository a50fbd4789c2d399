"""Deterministic artifact writers: the same content always gives byte-identical files (no timestamps)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """np.savez with sorted entries and a fixed zip date (np.savez stamps the current time)."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_json(path: str | Path, data: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
