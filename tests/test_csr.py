"""The CSR table format (tinyqi/csr.py): exact round trip, smallest index types, tamper detection."""

import numpy as np
import pytest

from tinyqi import csr
from tinyqi.errors import TinyqiError


def random_sparse(shape, density, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=shape).astype(np.int8)
    w[rng.random(shape) > density] = 0
    return w


@pytest.mark.parametrize("shape", [(16, 24), (8, 1, 7, 3), (5, 300), (3, 1)])
@pytest.mark.parametrize("density", [0.0, 0.1, 0.5, 1.0])
def test_round_trip_is_exact(shape, density):
    w = random_sparse(shape, density)
    table = csr.dense_to_csr(w, 0, "w")
    np.testing.assert_array_equal(table.to_dense(), w)
    assert table.nnz == np.count_nonzero(w)
    assert table.row_ptr[0] == 0 and table.row_ptr[-1] == table.nnz and np.all(np.diff(table.row_ptr) >= 0)


def test_index_types_are_the_smallest_that_fit():
    assert csr.dense_to_csr(random_sparse((4, 256), 0.5), 0, "w").col_idx.dtype == np.uint8
    assert csr.dense_to_csr(random_sparse((4, 257), 0.5), 0, "w").col_idx.dtype == np.uint16
    assert csr.dense_to_csr(random_sparse((300, 300), 1.0), 0, "w").row_ptr.dtype == np.uint32
    table = csr.dense_to_csr(random_sparse((4, 10), 1.0), 0, "w")
    assert table.storage_bytes() == 40 + 40 + 5


def test_rejects_non_int8():
    with pytest.raises(TinyqiError, match="int8"):
        csr.dense_to_csr(np.zeros((2, 2), np.float32), 0, "w")
