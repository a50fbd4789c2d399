"""`tinyqi bench` end to end on the bundled reference models, the CMSIS-NN side by side, and the cycle regression
test against benchmarks/cycles_baseline.json.

One module fixture trains and compresses the reference models (the recipe of tinyqi/bench/baseline.py, ~45 s) and
benches them once (10 firmware builds, ~65 s); every test reads that result.
"""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from elftools.elf.elffile import ELFFile

from tinyqi.bench import BenchOptions, run_bench
from tinyqi.bench.baseline import check_cycles, load_baseline, reference_run
from tinyqi.bench.rows import ROW_KEYS
from tinyqi.energy import ECG_INFERENCES_PER_MINUTE, estimate, power_figures
from tinyqi.firmware.boards import get_board

HAS_BAKENN = importlib.util.find_spec("bakenn") is not None
VARIANTS = ["float32-dense", "int8-dense", "magnitude-global"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                       reason="arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi "
                              "libnewlib-arm-none-eabi)"),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(run dir, bench output dir, bench.json data) of the reference models."""
    work = tmp_path_factory.mktemp("bench")
    run_dir = reference_run(work)
    out = work / "out"
    bench = run_bench(BenchOptions("ecg", run_dir, out, peers=HAS_BAKENN), log=lambda *_: None)
    return run_dir, out, bench


def test_every_variant_has_every_row_key(reference):
    _, _, bench = reference
    assert [row["variant"] for row in bench["rows"]] == VARIANTS
    for row in bench["rows"]:
        assert set(ROW_KEYS) <= set(row), row["variant"]
        assert all(row[key] is not None for key in ROW_KEYS), row
        assert row["engine"] == "unicorn"


def test_firmware_is_bit_exact_int8_and_float32(reference):
    """float32 too: the kernels keep TFLM's order of arithmetic and exp is glibc's (tq_exp_f32.c), so the Cortex-M4F
    outputs equal TFLM's Python interpreter's bit for bit (these models have no TANH, which uses newlib's tanhf)."""
    rows = {row["variant"]: row for row in reference[2]["rows"]}
    for name in VARIANTS:
        assert rows[name]["bit_exact"] is True and rows[name]["max_abs_diff"] == 0, rows[name]
    assert rows["magnitude-global"]["kernels"].startswith("int8, CSR in ")


def test_rows_carry_the_run_metrics_and_the_energy_model(reference):
    run_dir, _, bench = reference
    metrics = json.loads((run_dir / "metrics.json").read_text())
    variant = json.loads((run_dir / "variants" / "magnitude-global" / "metrics.json").read_text())
    rows = {row["variant"]: row for row in bench["rows"]}
    assert rows["float32-dense"]["accuracy"] == metrics["float"]["accuracy"]
    assert rows["int8-dense"]["macro_f1"] == metrics["int8"]["macro_f1"]
    assert rows["magnitude-global"]["accuracy"] == variant["int8"]["accuracy"]
    figures = power_figures(get_board("nrf52840"))
    for row in bench["rows"]:
        expected = estimate(row["cycles"], figures, ECG_INFERENCES_PER_MINUTE)
        assert row["energy_uj"] == pytest.approx(expected.energy_uj, rel=1e-3)
        assert row["latency_ms"] == pytest.approx(row["cycles"] / 64e3, rel=1e-3)
        assert row["battery_days"] == pytest.approx(expected.battery_days, rel=1e-3)
    # sparse kernels must pay off on this model, and the FPU build costs more than int8
    assert rows["magnitude-global"]["cycles"] < rows["int8-dense"]["cycles"] < rows["float32-dense"]["cycles"]


def test_per_layer_cycles_cover_each_layer(reference):
    for row in reference[2]["rows"]:
        layers = row["layer_cycles"]
        assert len(layers) >= 5 and all(layer["cycles"] > 0 for layer in layers)
        assert 0.9 * row["cycles"] < sum(layer["cycles"] for layer in layers) <= row["cycles"] * 1.01


def _loaded_bytes(elf_path) -> list[tuple[int, bytes]]:
    with open(elf_path, "rb") as handle:
        elf = ELFFile(handle)
        return [(seg["p_paddr"], seg.data()) for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]


@pytest.mark.parametrize("variant, options", [("magnitude-global", ["--variant", "magnitude-global"]),
                                              ("float32-dense", ["--float"])])
def test_bench_runs_the_binary_tinyqi_build_makes(reference, tmp_path, variant, options):
    """The ELF `tinyqi build` (what `tinyqi flash` uploads) makes for a variant loads the same bytes as the
    bench's."""
    run_dir, _, bench = reference
    row = next(row for row in bench["rows"] if row["variant"] == variant)
    result = run_cli("build", "--board", "nrf52840", str(run_dir), *options, "--out", str(tmp_path / "fw"))
    assert result.returncode == 0, result.stderr
    assert _loaded_bytes(tmp_path / "fw" / "pio" / "nrf52840" / "firmware.elf") == _loaded_bytes(row["elf"])


def test_bench_files(reference):
    _, out, bench = reference
    assert json.loads((out / "bench.json").read_text()) == json.loads(json.dumps(bench))
    text = (out / "bench.md").read_text()
    for name in VARIANTS:
        assert f"| {name} |" in text
    for needle in ("Cortex-M4 timing model", "CR2032", "64 MHz", "72 inferences per minute", "Pareto front"):
        assert needle in text
    for png in ("bench_pareto.png", "bench_layers.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not HAS_BAKENN, reason="bakenn==1.0.0 (CMSIS-NN v4.0.0 sources) not installed")
def test_cmsis_nn_peer_agrees_with_tflm_and_tinyqi(reference):
    models = {m["variant"]: m for m in reference[2]["peers"]["models"]}
    assert sorted(models) == ["int8-dense", "magnitude-global"]
    for model in models.values():
        assert model["bit_exact"] and model["outputs_equal_ours"], model["variant"]
        conv = [layer for layer in model["layers"] if layer["op"] == "CONV_2D"]
        assert conv and all(layer["runs_cmsis_nn"] for layer in conv)
        assert all(layer["cycles_cmsis_nn"] > 0 for layer in model["layers"])
    # CMSIS-NN runs the pruned weights densely: its convolutions cost what they cost on the dense model
    def conv_cycles(name):
        return np.array([layer["cycles_cmsis_nn"] for layer in models[name]["layers"] if layer["op"] == "CONV_2D"])

    assert np.allclose(conv_cycles("magnitude-global"), conv_cycles("int8-dense"), rtol=0.01)
    text = (reference[1] / "bench.md").read_text()
    assert "CMSIS-NN v4.0.0" in text and "tinyqi / CMSIS-NN" in text


def _peer_case(name):
    from test_kernels import image_mul_concat, per_tensor_int8_tflite, same_padding_tanh, two_input_ecg_like

    cases = {"depthwise_avgpool_same_dilated": (same_padding_tanh, None),
             "conv2d_maxpool_same_separable": (image_mul_concat, None),
             "per_tensor_fully_connected": (two_input_ecg_like, lambda: per_tensor_int8_tflite(two_input_ecg_like))}
    builder, tflite = cases[name]
    return builder, tflite() if tflite else None


@pytest.mark.skipif(not HAS_BAKENN, reason="bakenn==1.0.0 (CMSIS-NN v4.0.0 sources) not installed")
@pytest.mark.parametrize("case, cmsis_layers", [
    ("depthwise_avgpool_same_dilated", {"conv_2d", "depthwise_conv_2d", "average_pool_2d"}),
    ("conv2d_maxpool_same_separable", {"conv_2d", "max_pool_2d", "depthwise_conv_2d"}),
    ("per_tensor_fully_connected", {"conv_2d", "max_pool_2d", "fully_connected"})])
def test_cmsis_nn_peer_matches_tflm_on_every_wrapped_op(tmp_path, case, cmsis_layers):
    """Each CMSIS-NN wrapper (SAME padding, strides, dilation, depth multiplier, 2-D windows, per-tensor FC) gives
    TFLM's int8 outputs on random models, in the emulator."""
    from test_kernels import make_model_dir

    from tinyqi import modeldir
    from tinyqi.emulate import run_firmware
    from tinyqi.peers.cmsis_nn import PEER_SUFFIX, build_peer

    builder, tflite = _peer_case(case)
    model_dir, xs = make_model_dir(tmp_path / "model", builder, with_float=False, tflite=tflite)
    modeldir.write_golden(model_dir, (model_dir / "model_int8.tflite").read_bytes(), xs,
                          np.arange(len(xs[0])) % 3, 3)
    firmware = build_peer(model_dir, get_board("nrf52840"), tmp_path / "peer", profile=True)
    result = run_firmware(firmware.elf)
    assert result.bit_exact and result.done.vectors == 12
    wrapped = {name.split(":")[1][: -len(PEER_SUFFIX)] for name in result.layer_cycles if name.endswith(PEER_SUFFIX)}
    assert wrapped == cmsis_layers


def test_cycles_within_the_committed_baseline(reference):
    problems = check_cycles(load_baseline(), reference[2])
    assert not problems, "\n".join(problems)


def test_unknown_variant_is_one_line(reference):
    run_dir = reference[0]
    result = run_cli("bench", "ecg", "--run", str(run_dir), "--variant", "qinn")
    assert_one_line_error(result, "no variant qinn", "available: float32-dense, int8-dense, magnitude-global")


def test_run_of_another_task_is_one_line(reference):
    result = run_cli("bench", "vibration", "--run", str(reference[0]))
    assert_one_line_error(result, "holds a 'ecg' run", "tinyqi bench ecg")
