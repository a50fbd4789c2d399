"""Host verification: the generated C, compiled by the host gcc under AddressSanitizer + UndefinedBehaviorSanitizer,
must reproduce TFLM's Python interpreter on every vector of the run's test set, for every model directory of a
run (root and variants/*/), dense and (where CSR tables exist) CSR. Writes verify.json.

The float32 model (model_float.tflite, the FPU baseline) is compared with a tolerance: float results depend on
summation order and libm, so "bit-exact" applies to the int8 models only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinyqi import convert
from tinyqi.codegen import MODEL_FILES, build_program, runtime_dir, write_model
from tinyqi.errors import TinyqiError
from tinyqi.files import write_json
from tinyqi.modeldir import load_testset
from tinyqi.tflite_model import load_tflite

CC = os.environ.get("CC", "gcc")
SANITIZERS = ["address", "undefined"]
CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fno-omit-frame-pointer",
          f"-fsanitize={','.join(SANITIZERS)}", "-fno-sanitize-recover=all"]
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=87"}
FLOAT_TOLERANCE = 1e-4
CACHE_DIR = Path(os.environ.get("TINYQI_CACHE") or Path.home() / ".cache" / "tinyqi")

HARNESS = r"""/* tinyqi host harness: reads vectors (all inputs, .tflite order, back to back) from argv[1], writes each
 * output to argv[2]. Built with TQ_PROFILE to check that every layer reports once per inference. */
#include <stdio.h>
#include <stdlib.h>

#include "model_data.h"

static const size_t input_sizes[TQ_MODEL_INPUT_COUNT] = {%(sizes)s};
static long layer_ends;

void tq_profile_layer_end(int layer)
{
    if (layer < 0 || layer >= TQ_MODEL_LAYER_COUNT) {
        fprintf(stderr, "bad layer index %%d\n", layer);
        exit(4);
    }
    ++layer_ends;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %%s INPUTS OUTPUTS\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!in || !out) {
        perror("open");
        return 2;
    }
    long vectors = 0;
    for (;;) {
        size_t got = fread(tq_model_input(0), sizeof(tq_model_io_t), input_sizes[0], in);
        if (got == 0) {
            break;
        }
        for (int k = 1; k < TQ_MODEL_INPUT_COUNT; ++k) {
            got += fread(tq_model_input(k), sizeof(tq_model_io_t), input_sizes[k], in);
        }
        size_t want = 0;
        for (int k = 0; k < TQ_MODEL_INPUT_COUNT; ++k) {
            want += input_sizes[k];
        }
        if (got != want) {
            fprintf(stderr, "truncated input vector %%ld\n", vectors);
            return 2;
        }
        tq_model_invoke();
        fwrite(tq_model_output(), sizeof(tq_model_io_t), TQ_MODEL_OUTPUT_SIZE, out);
        ++vectors;
    }
    fclose(in);
    fclose(out);
    if (layer_ends != vectors * TQ_MODEL_LAYER_COUNT) {
        fprintf(stderr, "profile hook called %%ld times for %%ld vectors\n", layer_ends, vectors);
        return 3;
    }
    return 0;
}
"""


class HostBuild:
    """Compiles the runtime once (cached by content) and links it with generated models in `build_dir`."""

    def __init__(self, build_dir: Path):
        if shutil.which(CC) is None:
            raise TinyqiError(f"{CC}: host C compiler not found; install gcc (apt-get install gcc)")
        self.build_dir = Path(build_dir)
        self.runtime = runtime_dir()
        self._objects: list[Path] | None = None

    def _compile(self, source: Path, obj: Path, includes: list[Path], defines: list[str] = ()) -> None:
        cmd = [CC, *CFLAGS, *[f"-I{p}" for p in includes], *[f"-D{d}" for d in defines], "-c", str(source),
               "-o", str(obj)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise TinyqiError(f"{source}: host compilation failed: {_first_error(result.stderr)}")

    def runtime_objects(self) -> list[Path]:
        """The runtime compiled with CFLAGS, cached by content (sources + flags) under $TINYQI_CACHE."""
        if self._objects is None:
            sources = sorted((self.runtime / "src").glob("*.c"))
            out = CACHE_DIR / "host-runtime" / self._runtime_digest()
            if not (out / "complete").is_file():
                self._compile_runtime(sources, out)
            self._objects = [out / (src.stem + ".o") for src in sources]
        return self._objects

    def _runtime_digest(self) -> str:
        digest = hashlib.sha256(" ".join([CC, *CFLAGS]).encode())
        for f in sorted((self.runtime / "src").glob("*")) + sorted((self.runtime / "include").glob("*")):
            digest.update(f.name.encode() + f.read_bytes())
        return digest.hexdigest()[:16]

    def _compile_runtime(self, sources: list[Path], out: Path) -> None:
        """Compile into a fresh directory, then move it into place (a concurrent run may get there first)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="runtime-", dir=out.parent))
        cmd = [CC, *CFLAGS, f"-I{self.runtime / 'include'}", "-c", *map(str, sources)]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if result.returncode != 0:
            shutil.rmtree(tmp)
            raise TinyqiError(f"{self.runtime}: host compilation of the runtime failed: "
                              f"{_first_error(result.stderr)}")
        (tmp / "complete").write_text("")
        try:
            tmp.rename(out)
        except OSError:
            shutil.rmtree(tmp)

    def executable(self, c_dir: Path, input_sizes: list[int]) -> Path:
        """The generated model in `c_dir` + the runtime + the host harness."""
        harness = c_dir / "host_harness.c"
        harness.write_text(HARNESS % {"sizes": ", ".join(str(n) for n in input_sizes)})
        return self.link(c_dir, [c_dir / "model_data.c", harness], "model_host")

    def link(self, c_dir: Path, sources: list[Path], name: str) -> Path:
        """Compile `sources` (with TQ_PROFILE, including `c_dir`) and link them with the runtime."""
        objects = []
        for src in sources:
            obj = c_dir / (src.stem + ".o")
            self._compile(src, obj, [self.runtime / "include", c_dir], ["TQ_PROFILE"])
            objects.append(obj)
        exe = c_dir / name
        cmd = [CC, *CFLAGS, *map(str, objects), *map(str, self.runtime_objects()), "-lm", "-o", str(exe)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise TinyqiError(f"{c_dir}: host link failed: {_first_error(result.stderr)}")
        return exe


def _first_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line]
    return (errors or lines or ["(no compiler output)"])[0]


def run_host(exe: Path, inputs: list[np.ndarray], dtype, output_size: int) -> tuple[np.ndarray, str]:
    """Outputs of the host build for `inputs` (.tflite order), and sanitizer/harness findings ("" if none)."""
    count = len(inputs[0])
    blob = np.concatenate([np.asarray(x, dtype=dtype).reshape(count, -1) for x in inputs], axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        in_path.write_bytes(blob.tobytes())
        result = subprocess.run([str(exe), str(in_path), str(out_path)], capture_output=True, text=True,
                                env={**os.environ, **SANITIZER_ENV})
        if result.returncode != 0:
            return np.zeros((0, output_size), dtype=dtype), (result.stderr.strip() or f"exit {result.returncode}")
        out = np.frombuffer(out_path.read_bytes(), dtype=dtype).reshape(-1, output_size)
    return out, ""


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
        program, provenance = build_program(model_dir, use_csr=use_csr)
        c_dir = build.build_dir / label.replace("/", "_") / kind
        write_model(program, provenance, c_dir)
        out, problem = run_host(build.executable(c_dir, program.input_sizes), q, np.int8, program.output_size)
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
    positions = convert.keras_input_positions(model)
    inputs = [xs[p].reshape((-1,) + model.tensor(i).shape[1:]).astype(np.float32)
              for i, p in zip(model.inputs, positions)]
    reference = convert.run_tflm(path.read_bytes(), inputs)
    program, provenance = build_program(model_dir, float_model=True)
    c_dir = build.build_dir / "float"
    write_model(program, provenance, c_dir)
    out, problem = run_host(build.executable(c_dir, program.input_sizes), inputs, np.float32, program.output_size)
    if problem:
        return {"vectors": len(reference), "max_abs_diff": None, "argmax_agreement": None,
                "sanitizers": {"enabled": SANITIZERS, "findings": 1, "reports": [problem.splitlines()[0]]}}
    diff = float(np.max(np.abs(out - reference))) if out.size else 0.0
    return {"vectors": len(reference), "max_abs_diff": diff, "tolerance": FLOAT_TOLERANCE,
            "within_tolerance": diff <= FLOAT_TOLERANCE,
            "argmax_agreement": float(np.mean(np.argmax(out, 1) == np.argmax(reference, 1))),
            "arena_bytes": program.arena_bytes,
            "sanitizers": {"enabled": SANITIZERS, "findings": 0, "reports": []}}


def model_dirs(run_dir: Path) -> list[tuple[str, Path]]:
    dirs = [(".", run_dir)] if (run_dir / MODEL_FILES["s8"]).is_file() else []
    variants = run_dir / "variants"
    if variants.is_dir():
        dirs += [(f"variants/{d.name}", d) for d in sorted(variants.iterdir()) if (d / MODEL_FILES["s8"]).is_file()]
    return dirs


def verify_run(run_dir: str | Path, build_dir: str | Path | None = None) -> dict:
    """Verify every model directory of a run; writes and returns verify.json's content."""
    run_dir = Path(run_dir)
    if not (run_dir / "testset.npz").is_file():
        raise TinyqiError(f"{run_dir}: no testset.npz; run `tinyqi train` first (or point at a run directory)")
    dirs = model_dirs(run_dir)
    if not dirs:
        raise TinyqiError(f"{run_dir}: no {MODEL_FILES['s8']} in the run or its variants; run `tinyqi train` first")
    xs, _, _ = load_testset(run_dir)
    with tempfile.TemporaryDirectory(prefix="tinyqi-verify-") as tmp:
        build = HostBuild(Path(build_dir) if build_dir else Path(tmp))
        models = [verify_model(d, xs, build, label) for label, d in dirs]
        float_result = verify_float(run_dir, xs, build) if (run_dir / MODEL_FILES["f32"]).is_file() else None
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
