"""CSR sparse weight tables: the single definition of the format that `compress` writes and `codegen` reads.

A pruned int8 weight tensor of a .tflite (FULLY_CONNECTED [out, in] or CONV_2D [out, kh, kw, in]) is viewed as a
matrix with one row per output channel and `prod(other dims)` columns, in TFLite's row-major order. Its table is:
  row_ptr  (rows + 1,)  smallest unsigned type holding nnz: row r's non-zeros are values[row_ptr[r]:row_ptr[r+1]]
  col_idx  (nnz,)       smallest unsigned type holding cols - 1: column of each non-zero within its row
  values   (nnz,)       int8, exactly the tensor's int8 values (zero point 0, as TFLite requires for int8 weights)
plus the tensor's quantisation (per-channel scales, zero points) for readers that do not open the .tflite.

Files, next to the model they describe: `csr.npz` (arrays `<key>.row_ptr`, `<key>.col_idx`, `<key>.values`) and
`csr.json` = {"format": FORMAT, "tflite": file name, "tflite_sha256": ..., "tensors": [entry, ...]} where each entry
has key, tensor_index, name, shape, rows, cols, nnz, density, row_ptr_dtype, col_idx_dtype, scales, zero_points.
The .tflite itself never carries TFLite sparsity metadata: TFLM would run it silently wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi.errors import TinyqiError
from tinyqi.files import read_json, read_npz, require, write_json, write_npz
from tinyqi.tflite_model import TfliteModel, load_tflite

FORMAT = "tinyqi-csr/1"
TODO = "re-run `tinyqi compress` to write the tables again"
INDEX_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.uint32))  # what the kernels read (1, 2, 4 bytes)
SPARSE_WEIGHT_OPS = {"FULLY_CONNECTED": 1, "CONV_2D": 1}  # op name -> input slot of the weight tensor


def smallest_uint(max_value: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise TinyqiError(f"CSR index {max_value} does not fit in 32 bits")


@dataclass(frozen=True)
class CsrTable:
    tensor_index: int
    name: str
    shape: tuple[int, ...]
    row_ptr: np.ndarray
    col_idx: np.ndarray
    values: np.ndarray
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return int(np.prod(self.shape[1:]))

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def density(self) -> float:
        return self.nnz / (self.rows * self.cols)

    @property
    def key(self) -> str:
        return f"t{self.tensor_index}"

    def storage_bytes(self) -> int:
        """Flash bytes of the table: values + column indices + row pointers."""
        return self.values.nbytes + self.col_idx.nbytes + self.row_ptr.nbytes

    def to_dense(self) -> np.ndarray:
        dense = np.zeros((self.rows, self.cols), dtype=np.int8)
        for r in range(self.rows):
            lo, hi = int(self.row_ptr[r]), int(self.row_ptr[r + 1])
            dense[r, self.col_idx[lo:hi]] = self.values[lo:hi]
        return dense.reshape(self.shape)


def dense_to_csr(weights: np.ndarray, tensor_index: int, name: str, scales=(), zero_points=()) -> CsrTable:
    if weights.dtype != np.int8 or weights.ndim < 2:
        raise TinyqiError(f"tensor '{name}': CSR needs an int8 weight tensor of rank >= 2, got {weights.dtype} "
                          f"{weights.shape}")
    matrix = weights.reshape(weights.shape[0], -1)
    rows_nz, cols_nz = np.nonzero(matrix)  # row-major order: rows ascending, columns ascending within a row
    counts = np.bincount(rows_nz, minlength=matrix.shape[0])
    row_ptr = np.concatenate([[0], np.cumsum(counts)])
    return CsrTable(
        tensor_index=tensor_index,
        name=name,
        shape=tuple(int(d) for d in weights.shape),
        row_ptr=row_ptr.astype(smallest_uint(int(row_ptr[-1]))),
        col_idx=cols_nz.astype(smallest_uint(max(matrix.shape[1] - 1, 0))),
        values=matrix[rows_nz, cols_nz].astype(np.int8),
        scales=tuple(float(s) for s in scales),
        zero_points=tuple(int(z) for z in zero_points),
    )


def sparse_weight_tensors(model: TfliteModel) -> list[int]:
    """Indices of the constant int8 weight tensors of the ops that have CSR kernels, in operator order."""
    found = []
    for op in model.operators:
        slot = SPARSE_WEIGHT_OPS.get(op.op)
        if slot is None:
            continue
        t = model.tensor(op.inputs[slot])
        if t.data is not None and t.dtype == np.int8 and t.index not in found:
            found.append(t.index)
    return found


def tables_from_tflite(model: TfliteModel, max_density: float = 1.0) -> list[CsrTable]:
    """A CSR table for every sparse-capable weight tensor whose density is at most `max_density`."""
    tables = []
    for index in sparse_weight_tensors(model):
        t = model.tensor(index)
        if np.count_nonzero(t.data) / t.data.size <= max_density:
            tables.append(dense_to_csr(t.data, index, t.name, t.scale, t.zero_point))
    return tables


def write_tables(tflite_path: str | Path, tables: list[CsrTable]) -> Path:
    """Write csr.npz + csr.json next to the .tflite, after checking every table reproduces its tensor exactly."""
    tflite_path = Path(tflite_path)
    model = load_tflite(tflite_path)
    for table in tables:
        _check_matches(model, table)
    arrays = {}
    for t in tables:
        arrays.update({f"{t.key}.row_ptr": t.row_ptr, f"{t.key}.col_idx": t.col_idx, f"{t.key}.values": t.values})
    out = tflite_path.parent
    write_npz(out / "csr.npz", arrays)
    index = {
        "format": FORMAT,
        "tflite": tflite_path.name,
        "tflite_sha256": hashlib.sha256(model.raw).hexdigest(),
        "tensors": [_entry(t) for t in tables],
    }
    return write_json(out / "csr.json", index)


def read_tables(model_dir: str | Path, model: TfliteModel | None = None) -> list[CsrTable]:
    """Tables next to a model ([] when there are none), checked against the .tflite they were made from."""
    model_dir = Path(model_dir)
    index_path = model_dir / "csr.json"
    if not index_path.exists():
        return []
    index = read_json(index_path, TODO)
    if index.get("format") != FORMAT:
        raise TinyqiError(f"{index_path}: format {index.get('format')!r} is not {FORMAT!r}; {TODO}")
    require(index, index_path, {"tflite": str, "tflite_sha256": str, "tensors": list}, TODO)
    arrays = read_npz(model_dir / "csr.npz", TODO)
    model = model or load_tflite(model_dir / index["tflite"])
    if hashlib.sha256(model.raw).hexdigest() != index["tflite_sha256"]:
        raise TinyqiError(f"{index_path}: made for a different {index['tflite']}; {TODO}")
    tables = []
    for entry in index["tensors"]:
        table = _table(entry, arrays, model, index_path)
        _check_matches(model, table)
        tables.append(table)
    return tables


def _table(entry, arrays: dict[str, np.ndarray], model: TfliteModel, where: Path) -> CsrTable:
    """One csr.json entry and its arrays, checked to be a well-formed table of a weight tensor of `model`: the
    kernels index the input with col_idx and walk rows by row_ptr, so a malformed table reads out of bounds."""
    if not isinstance(entry, dict):
        raise TinyqiError(f"{where}: a 'tensors' entry is {entry!r}, not an object; {TODO}")
    require(entry, where, {"key": str, "tensor_index": int, "name": str, "shape": list, "scales": list,
                           "zero_points": list}, TODO)
    key, index = entry["key"], entry["tensor_index"]
    if not 0 <= index < len(model.tensors):
        raise TinyqiError(f"{where}: table {key} is for tensor {index}, the model has {len(model.tensors)}; {TODO}")
    shape = model.tensor(index).shape
    if [int(d) for d in entry["shape"] if isinstance(d, int)] != list(shape) or len(shape) < 2:
        raise TinyqiError(f"{where}: table {key} has shape {entry['shape']}, tensor {index} is {list(shape)}; {TODO}")
    row_ptr, col_idx, values = (_array(arrays, f"{key}.{part}", where) for part in ("row_ptr", "col_idx", "values"))
    rows, cols = shape[0], int(np.prod(shape[1:]))
    for name, array, dtypes in (("row_ptr", row_ptr, INDEX_DTYPES), ("col_idx", col_idx, INDEX_DTYPES),
                                ("values", values, (np.dtype(np.int8),))):
        if array.ndim != 1 or array.dtype not in dtypes:
            raise TinyqiError(f"{where}: {key}.{name} is {array.dtype}{list(array.shape)}, expected a vector of "
                              f"{' or '.join(d.name for d in dtypes)}; {TODO}")
    _check_structure(key, row_ptr.astype(np.int64), col_idx.astype(np.int64), values.size, rows, cols, where)
    return CsrTable(index, entry["name"], tuple(shape), row_ptr, col_idx, values,
                    tuple(float(v) for v in entry["scales"]), tuple(int(v) for v in entry["zero_points"]))


def _array(arrays: dict[str, np.ndarray], name: str, where: Path) -> np.ndarray:
    if name not in arrays:
        raise TinyqiError(f"{where.with_suffix('.npz')}: no array '{name}'; {TODO}")
    return arrays[name]


def _check_structure(key: str, row_ptr: np.ndarray, col_idx: np.ndarray, nnz: int, rows: int, cols: int,
                     where: Path) -> None:
    """row_ptr: rows + 1 offsets from 0 to nnz, never decreasing; col_idx: nnz columns, increasing within a row."""
    if len(row_ptr) != rows + 1 or row_ptr[0] != 0 or row_ptr[-1] != nnz or np.any(np.diff(row_ptr) < 0) or (
            len(col_idx) != nnz):
        raise TinyqiError(f"{where}: {key}.row_ptr does not delimit {rows} rows of its {nnz} values; {TODO}")
    if nnz and col_idx.max() >= cols:
        raise TinyqiError(f"{where}: {key}.col_idx reaches column {col_idx.max()} of {cols}; {TODO}")
    starts = np.zeros(nnz, dtype=bool)
    starts[row_ptr[:-1][row_ptr[:-1] < nnz]] = True
    if np.any((np.diff(col_idx) <= 0) & ~starts[1:]):
        raise TinyqiError(f"{where}: {key}.col_idx is not increasing within a row; {TODO}")


def _check_matches(model: TfliteModel, table: CsrTable) -> None:
    t = model.tensor(table.tensor_index)
    if t.data is None or t.shape != table.shape or not np.array_equal(t.data, table.to_dense()):
        raise TinyqiError(f"CSR table for tensor '{table.name}' does not reproduce the int8 tensor in the .tflite; "
                          "re-run `tinyqi compress`")


def _entry(t: CsrTable) -> dict:
    return {
        "key": t.key, "tensor_index": t.tensor_index, "name": t.name, "shape": list(t.shape),
        "rows": t.rows, "cols": t.cols, "nnz": t.nnz, "density": round(t.density, 6),
        "row_ptr_dtype": t.row_ptr.dtype.name, "col_idx_dtype": t.col_idx.dtype.name,
        "storage_bytes": t.storage_bytes(), "scales": list(t.scales), "zero_points": list(t.zero_points),
    }
