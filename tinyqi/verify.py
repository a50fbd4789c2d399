"""Host verification: the generated C, compiled by the host gcc under AddressSanitizer + UndefinedBehaviorSanitizer,
must reproduce TFLM's Python interpreter on every vector of the run's test set, for every model directory of a
run (root and variants/*/), dense and (where CSR tables exist) CSR. Writes verify.json.

The float32 model (model_float.tflite, the FPU baseline) is compared with a tolerance: the kernels keep TFLM's order
of arithmetic and its expf, but TANH calls libm's tanhf, which C libraries round differently, so "bit-exact" is
promised for the int8 models (the bench still reports float bit-exactness, measured per model).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tinyqi import convert
from tinyqi.codegen import MODEL_FILES, build_program
from tinyqi.errors import TinyqiError
from tinyqi.files import is_hidden, write_json
from tinyqi.hostc import SANITIZERS, HostBuild, run_generated
from tinyqi.manifest import check_model_dir
from tinyqi.modeldir import load_testset
from tinyqi.tflite_model import load_tflite

FLOAT_TOLERANCE = 1e-4


def verify_model(model_dir: Path, xs: list[np.ndarray], build: HostBuild, label: str) -> dict:
    """Dense and CSR host builds of one model directory against TFLM on all of `xs` (float, Keras order)."""
    tflite = (model_dir / MODEL_FILES["s8"]).read_bytes()
    model = load_tflite(model_dir / MODEL_FILES["s8"])
    q = convert.quantize_inputs(model, xs)
    reference = convert.run_tflm(tflite, q)
    result = {"model": label, "vectors": int(len(reference)), "outputs": int(reference.size)}
    findings = []
    builds = [("dense", False)] + ([("csr", True)] if (model_dir / "csr.json").is_file() else [])
    for kind, use_csr in builds:
        c_dir = build.build_dir / label.replace("/", "_") / kind
        program, out, problem = run_generated(model_dir, q, build, c_dir, use_csr=use_csr)
        if problem:
            findings.append(f"{kind}: {problem.splitlines()[0]}")
            mismatches = len(reference)
        else:
            mismatches = int(np.count_nonzero(np.any(out != reference, axis=1)))
        result[f"{kind}_mismatches"] = mismatches
        result[f"{kind}_arena_bytes"] = program.arena_bytes
        result[f"{kind}_naive_arena_bytes"] = program.naive_bytes
        if use_csr:
            result["csr_layers"] = program.csr_layers
    result.setdefault("csr_mismatches", None)
    result["sanitizers"] = {"enabled": SANITIZERS, "findings": len(findings), "reports": findings}
    return result


def verify_float(model_dir: Path, xs: list[np.ndarray], build: HostBuild) -> dict:
    """The float32 build against TFLM's float32 interpreter: largest absolute difference and argmax agreement."""
    path = model_dir / MODEL_FILES["f32"]
    model = load_tflite(path)
    inputs = [x.astype(np.float32) for x in convert.model_inputs(model, xs)]
    reference = convert.run_tflm(path.read_bytes(), inputs)
    program, out, problem = run_generated(model_dir, inputs, build, build.build_dir / "float", float_model=True)
    if problem:
        return {"vectors": len(reference), "max_abs_diff": None, "argmax_agreement": None,
                "sanitizers": {"enabled": SANITIZERS, "findings": 1, "reports": [problem.splitlines()[0]]}}
    diff = float(np.max(np.abs(out - reference))) if out.size else 0.0
    return {"vectors": len(reference), "max_abs_diff": diff, "tolerance": FLOAT_TOLERANCE,
            "within_tolerance": diff <= FLOAT_TOLERANCE,
            "argmax_agreement": float(np.mean(np.argmax(out, 1) == np.argmax(reference, 1))),
            "arena_bytes": program.arena_bytes,
            "sanitizers": {"enabled": SANITIZERS, "findings": 0, "reports": []}}


def check_generatable(model_dir: Path, float_model: bool = False) -> None:
    """codegen's checks (I/O types, supported ops, quantisation, CSR tables) before TFLM ever runs the model: a model
    codegen refuses gets codegen's one-line reason here too, not a failure inside the reference interpreter."""
    for use_csr in (False, True):
        build_program(model_dir, use_csr=use_csr, float_model=float_model)


def model_dirs(run_dir: Path) -> list[tuple[str, Path]]:
    dirs = [(".", run_dir)] if (run_dir / MODEL_FILES["s8"]).is_file() else []
    variants = run_dir / "variants"
    if variants.is_dir():
        dirs += [(f"variants/{d.name}", d) for d in sorted(variants.iterdir())
                 if not is_hidden(d) and (d / MODEL_FILES["s8"]).is_file()]  # hidden: a compress under way
    return dirs


def verify_run(run_dir: str | Path, build_dir: str | Path | None = None) -> dict:
    """Verify every model directory of a run; writes and returns verify.json's content."""
    run_dir = Path(run_dir)
    if not (run_dir / "testset.npz").is_file():
        raise TinyqiError(f"{run_dir}: no testset.npz; run `tinyqi train` first (or point at a run directory)")
    dirs = model_dirs(run_dir)
    if not dirs:
        raise TinyqiError(f"{run_dir}: no {MODEL_FILES['s8']} in the run or its variants; run `tinyqi train` first")
    for label, model_dir in dirs:
        check_model_dir(model_dir, stage="train" if label == "." else None)  # files that belong together
    for _, model_dir in dirs:
        check_generatable(model_dir)
    has_float = (run_dir / MODEL_FILES["f32"]).is_file()
    if has_float:
        check_generatable(run_dir, float_model=True)
    xs, _, _ = load_testset(run_dir)
    with tempfile.TemporaryDirectory(prefix="tinyqi-verify-") as tmp:
        build = HostBuild(Path(build_dir) if build_dir else Path(tmp))
        models = [verify_model(d, xs, build, label) for label, d in dirs]
        float_result = verify_float(run_dir, xs, build) if has_float else None
    csr = [m["csr_mismatches"] for m in models if m["csr_mismatches"] is not None]
    findings = sum(m["sanitizers"]["findings"] for m in models) + (
        float_result["sanitizers"]["findings"] if float_result else 0)
    summary = {
        "vectors": len(xs[0]),
        "dense_mismatches": sum(m["dense_mismatches"] for m in models),
        "csr_mismatches": sum(csr) if csr else None,
        "sanitizers": {"enabled": SANITIZERS, "findings": findings},
        "mismatch_unit": "test vectors whose int8 output differs from TFLM in any element",
        "models": models,
        "float": float_result,
    }
    write_json(run_dir / "verify.json", summary)
    return summary


def passed(summary: dict) -> bool:
    float_ok = summary["float"] is None or summary["float"].get("within_tolerance", False)
    return (summary["dense_mismatches"] == 0 and not summary["csr_mismatches"]
            and summary["sanitizers"]["findings"] == 0 and float_ok)
