"""CSR kernels: pruned models (70 % zeros) run through tq_conv2d_csr_s8 / tq_fully_connected_csr_s8 and match
TFLM on the dense .tflite exactly, under ASan + UBSan; the generated C carries only the non-zeros."""

from __future__ import annotations

import re

import pytest
from test_kernels import make_model_dir, pruned_conv2d, pruned_edge_convs, pruned_two_input

from tinyqi import csr
from tinyqi.tflite_model import load_tflite

PRUNED = {"pruned_conv2d": pruned_conv2d, "pruned_edge_convs": pruned_edge_convs, "pruned_two_input": pruned_two_input}


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    from tinyqi.verify import HostBuild

    build = HostBuild(tmp_path_factory.mktemp("host"))
    build.runtime_objects()
    return build


@pytest.fixture(scope="module", params=sorted(PRUNED))
def csr_case(request, tmp_path_factory):
    model_dir, xs = make_model_dir(tmp_path_factory.mktemp(request.param), PRUNED[request.param], with_float=False)
    tables = csr.tables_from_tflite(load_tflite(model_dir / "model_int8.tflite"), max_density=0.5)
    csr.write_tables(model_dir / "model_int8.tflite", tables)
    return model_dir, xs, tables


def test_pruned_tables_exist(csr_case):
    _, _, tables = csr_case
    assert len(tables) >= 4
    assert all(0.25 <= t.nnz / (t.rows * t.cols) <= 0.35 for t in tables)


def test_csr_and_dense_c_match_tflm(csr_case, host_build):
    from tinyqi.verify import verify_model

    model_dir, xs, tables = csr_case
    result = verify_model(model_dir, xs, host_build, model_dir.name)
    assert result["sanitizers"]["findings"] == 0, result["sanitizers"]["reports"]
    assert result["dense_mismatches"] == 0
    assert result["csr_mismatches"] == 0
    assert result["csr_layers"] == len(tables)


def test_csr_layers_carry_only_non_zeros(csr_case, tmp_path):
    """A CSR layer's C holds nnz values and indices and no dense filter: the kernel cannot be dense in disguise."""
    from tinyqi.codegen import generate_program

    model_dir, _, tables = csr_case
    _, program = generate_program(model_dir, tmp_path, use_csr=True)
    source = (tmp_path / "model_data.c").read_text()
    nnz = sorted(t.nnz for t in tables)
    csr_layers = [i for i, c in enumerate(program.calls) if c.kernel.endswith("_csr_s8")]
    assert len(csr_layers) == len(tables)
    found = []
    for i in csr_layers:
        assert not re.search(rf"static const int8_t tq_l{i}_filter\[", source)
        found.append(int(re.search(rf"static const int8_t tq_l{i}_values\[(\d+)\]", source).group(1)))
    assert sorted(found) == nnz


def test_dense_flag_ignores_tables(csr_case, tmp_path):
    from tinyqi.codegen import generate_program

    model_dir, _, _ = csr_case
    _, program = generate_program(model_dir, tmp_path, use_csr=False)
    assert program.csr_layers == 0
    assert "dense build requested" in (tmp_path / "model_data.c").read_text()
