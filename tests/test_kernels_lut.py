"""TANH and LOGISTIC tables and the SOFTMAX kernel against TFLM itself.

Codegen turns each int8 TANH/LOGISTIC into a 256-entry table computed with TFLM's fixed-point algorithm; here
every one of the 256 possible inputs is run through TFLM's interpreter and must give the table's value. SOFTMAX
runs in C (gemmlowp fixed point) and is compared with TFLM on random vectors for several input scales.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_kernels import make_model_dir

INPUT_RANGES = [0.3, 2.0, 7.0, 40.0]


def single_activation(activation: str, depth: int, spread: float):
    def builder():
        import keras

        keras.utils.set_random_seed(0)
        inp = keras.Input((depth,), name="in0_x")
        return keras.Model(inp, keras.layers.Activation(activation)(inp)), [(depth,)]

    def inputs(count=300):
        rng = np.random.default_rng(1)
        return [rng.uniform(-spread, 0.6 * spread, size=(count, depth)).astype(np.float32)]

    return builder, inputs


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("spread", INPUT_RANGES)
def test_lookup_table_equals_tflm_on_all_256_inputs(activation, spread):
    from tinyqi import convert
    from tinyqi.codegen import fixedpoint
    from tinyqi.tflite_model import parse_tflite

    builder, inputs = single_activation(activation, 8, spread)
    model, _ = builder()
    tflite = convert.to_int8_tflite(model, inputs())
    parsed = parse_tflite(tflite)
    assert parsed.op_names() == ["TANH" if activation == "tanh" else "LOGISTIC"]
    t_in = parsed.tensor(parsed.inputs[0])
    every_input = np.arange(-128, 128, dtype=np.int8).reshape(32, 8)
    tflm = convert.run_tflm(tflite, [every_input]).ravel()
    make_table = fixedpoint.tanh_table if activation == "tanh" else fixedpoint.logistic_table
    table = make_table(float(t_in.scale[0]), int(t_in.zero_point[0]))
    np.testing.assert_array_equal(table[every_input.ravel().view(np.uint8)], tflm)


@pytest.fixture(scope="module")
def host_build(tmp_path_factory):
    from tinyqi.verify import HostBuild

    build = HostBuild(tmp_path_factory.mktemp("host"))
    build.runtime_objects()
    return build


@pytest.mark.parametrize("depth", [5, 17])
@pytest.mark.parametrize("spread", [0.3, 4.0, 40.0])
def test_softmax_c_matches_tflm(depth, spread, tmp_path, host_build):
    from tinyqi import convert
    from tinyqi.verify import verify_model

    builder, inputs = single_activation("softmax", depth, spread)
    model, _ = builder()
    tflite = convert.to_int8_tflite(model, inputs())
    model_dir, _ = make_model_dir(tmp_path / "softmax", builder, with_float=False, tflite=tflite)
    result = verify_model(model_dir, inputs(), host_build, "softmax")
    assert result["dense_mismatches"] == 0 and result["sanitizers"]["findings"] == 0
