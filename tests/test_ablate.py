"""Ablation bookkeeping (seed summary, report, plot) and the compress / ablate commands end to end on the sample."""

import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from tinyqi import ablate
from tinyqi.compress.pipeline import CompressOptions, variant_name


def row(variant, f1, acc=0.9, wb=1000, macs=5000):
    return {"variant": variant, "accuracy": acc, "macro_f1": f1, "se_V": 0.9, "se_S": 0.3, "nonzero_weights": 400,
            "weight_bytes": wb, "effective_macs": macs, "compress_seconds": 1.0}


def test_plan_covers_every_technique_and_seed():
    names = [variant_name(o) for o in ablate.plan((0, 1, 2), CompressOptions())]
    for method in ("magnitude-global", "magnitude-layer", "anneal-prune", "qinn", "combined", "finetune",
                   "magnitude-channels", "anneal-channels", "combined-channels"):
        assert [n for n in names if ablate.method_of(n) == method] == \
            [method, f"{method}-s1", f"{method}-s2"]
    assert {"anneal-prune-rb", "svd", "anneal-factorise"} <= set(names)
    assert names.index("qinn-s2") < names.index("combined")  # combined reuses the trained QINN of its seed
    assert names.index("qinn-s2") < names.index("combined-channels")


def test_seed_summary_is_mean_and_sample_std_and_the_difference():
    rows = [row("dense-int8", 0.5), row("anneal-prune", 0.40), row("anneal-prune-s1", 0.44),
            row("anneal-prune-s2", 0.45), row("magnitude-global", 0.41), row("magnitude-global-s1", 0.39),
            row("magnitude-global-s2", 0.40)]
    s = ablate.seed_summary(rows, (0, 1, 2))
    assert s["anneal-prune"]["macro_f1_mean"] == pytest.approx(np.mean([0.40, 0.44, 0.45]), abs=1e-4)
    assert s["anneal-prune"]["macro_f1_std"] == pytest.approx(np.std([0.40, 0.44, 0.45], ddof=1), abs=1e-4)
    assert s["anneal_minus_magnitude-global_macro_f1"] == pytest.approx(0.43 - 0.40, abs=1e-4)
    assert "magnitude-layer" not in s


def test_markdown_and_plot(tmp_path):
    rows = [row("dense-int8", 0.5, wb=2664, macs=36960), row("anneal-prune", 0.45, wb=666, macs=9240)]
    result = {"run": "r", "dataset": {"name": "mitdb", "split": "inter-patient", "test_count": 10, "sample": True},
              "options": {"target_sparsity": 0.8, "weight_fraction": 0.5}, "seeds": [0], "rows": rows,
              "pruning_vs_seeds": ablate.seed_summary(rows, (0,))}
    md = ablate.markdown(result)
    assert "| anneal-prune | 0.9 | 0.45 |" in md and "SAMPLE" in md
    assert "4.00x fewer weight bytes, 4.00x fewer effective MACs, macro-F1 -5.00 points" in md
    ablate.plot(rows, tmp_path / "a.png")
    ablate.plot(rows, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_compress_rejects_a_directory_that_is_not_a_run(tmp_path):
    assert_one_line_error(run_cli("compress", str(tmp_path)), "model.keras", "tinyqi train")


def test_ablate_rejects_bad_seeds(tmp_path):
    assert_one_line_error(run_cli("ablate", "ecg", "--run", str(tmp_path), "--seeds", "a,b"), "--seeds")


@pytest.mark.slow
def test_compress_writes_a_consumable_variant_from_a_sample_run(tmp_path):
    from tinyqi import csr
    from tinyqi.tflite_model import load_tflite

    run = tmp_path / "run"
    r = run_cli("train", "ecg", "--sample", "--quick", "--out", str(run))
    assert r.returncode == 0, r.stderr
    r = run_cli("compress", str(run), "--method", "magnitude-global", "--target-sparsity", "0.85")
    assert r.returncode == 0, r.stderr
    variant = run / "variants" / "magnitude-global"
    for name in ("model_int8.tflite", "csr.json", "csr.npz", "golden.npz", "metrics.json", "model.keras"):
        assert (variant / name).is_file(), name
    model = load_tflite(variant / "model_int8.tflite")
    tables = csr.read_tables(variant, model)  # checks every table reproduces its int8 tensor exactly
    assert tables and all(not t.is_sparse for t in model.tensors)
    m = json.loads((variant / "metrics.json").read_text())
    row_ = m["ablation_row"]
    assert set(ablate.ROW_KEYS) <= set(row_)
    assert row_["weight_bytes"] == sum(t.storage_bytes() for t in tables) + sum(
        model.tensor(i).data.nbytes for i in _dense_weight_tensors(model, tables))
    golden = np.load(variant / "golden.npz")
    assert golden["output"].dtype == np.int8 and len(golden["index"]) == len(golden["label"])
    assert m["options"]["select_epoch"] is False  # fine-tuned as the ECG run was trained: the last epochs kept

    # structured: half the channels of every conv leave the int8 model, and the rest is pruned into CSR tables
    r = run_cli("compress", str(run), "--method", "combined-channels", "--channel-sparsity", "0.5")
    assert r.returncode == 0, r.stderr
    variant = run / "variants" / "combined-channels"
    model = load_tflite(variant / "model_int8.tflite")
    filters = [model.tensor(op.inputs[1]).data.shape[0] for op in model.operators if op.op == "CONV_2D"]
    assert filters == [4, 8, 12]
    assert csr.read_tables(variant, model)


def _dense_weight_tensors(model, tables):
    sparse = {t.tensor_index for t in tables}
    ops = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    return sorted({op.inputs[1] for op in model.operators if op.op in ops} - sparse)


def test_compress_rejects_a_bad_sparsity_before_loading_anything(tmp_path):
    assert_one_line_error(run_cli("compress", str(tmp_path), "--target-sparsity", "1.5"), "--target-sparsity")


def test_method_of_strips_only_a_seed_suffix():
    assert ablate.method_of("anneal-prune-s2") == "anneal-prune"
    assert ablate.method_of("anneal-prune-rb") == "anneal-prune-rb"
    assert ablate.method_of("svd") == "svd"


def test_row_balance_is_refused_for_methods_that_do_not_prune(tmp_path):
    assert_one_line_error(run_cli("compress", str(tmp_path), "--method", "svd", "--row-balanced"), "--row-balanced")
