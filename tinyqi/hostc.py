"""Host execution of generated C: the tinyqi runtime and a generated model compiled by the host gcc under
AddressSanitizer + UndefinedBehaviorSanitizer, fed test vectors through a small harness. Used by `tinyqi verify`
(against TFLM) and by the int8 evaluation of every trained or compressed model (tinyqi.modeldir), so the metrics a
run reports are those of the C code that goes on the device. The signal chains' harnesses (tinyqi.signal.hostc,
tinyqi.signal.vibration_hostc) are built and run with the same flags: cached_executable, run_sanitized.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinyqi.codegen import build_program, runtime_dir, write_model
from tinyqi.errors import TinyqiError

CC = os.environ.get("CC", "gcc")
SANITIZERS = ["address", "undefined"]
CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fno-omit-frame-pointer",
          f"-fsanitize={','.join(SANITIZERS)}", "-fno-sanitize-recover=all"]
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=87"}
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


def cached_executable(name: str, harness: str, sources: list[Path], what: str) -> Path:
    """The `harness` C text linked with the .c files of `sources` under CFLAGS, built once per content of the
    sources (every file the build reads), flags and harness: $TINYQI_CACHE/host-<name>/<digest>/<name>_host."""
    if shutil.which(CC) is None:
        raise TinyqiError(f"{CC}: host C compiler not found; install gcc (apt-get install gcc)")
    digest = hashlib.sha256(" ".join([CC, *CFLAGS]).encode() + harness.encode())
    for f in sources:
        digest.update(f.name.encode() + f.read_bytes())
    out = CACHE_DIR / f"host-{name}" / digest.hexdigest()[:16]
    exe = out / f"{name}_host"
    if not exe.is_file():
        _build_into(out, name, harness, [p for p in sources if p.suffix == ".c"], what)
    return exe


def _build_into(out: Path, name: str, harness: str, sources: list[Path], what: str) -> None:
    """Build in a fresh directory, then move it into place (a concurrent run may get there first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=out.parent))
    try:
        (tmp / f"{name}_harness.c").write_text(harness)
        cmd = [CC, *CFLAGS, f"-I{runtime_dir() / 'include'}", *map(str, sources), str(tmp / f"{name}_harness.c"),
               "-o", str(tmp / f"{name}_host")]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise TinyqiError(f"{runtime_dir()}: host compilation of {what} failed: {_first_error(result.stderr)}")
        try:
            tmp.rename(out)
        except OSError:
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def int16_stdin(values, problem: str) -> bytes:
    """`values` as a harness reads them from stdin (little-endian int16); TinyqiError(problem) unless they are a 1-D
    array of integers in int16 range."""
    samples = np.asarray(values)
    if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.integer) or samples.size and (
            samples.min() < -32768 or samples.max() > 32767):
        raise TinyqiError(problem)
    return samples.astype("<i2").tobytes()


def run_sanitized(args: list[str], stdin: bytes, what: str) -> bytes:
    """stdout of a program built with CFLAGS; a sanitizer finding, any stderr (a harness's complaint) or a non-zero
    exit raises TinyqiError, named by `what`."""
    result = subprocess.run(args, input=stdin, capture_output=True, env={**os.environ, **SANITIZER_ENV})
    if result.returncode != 0 or result.stderr.strip():
        text = result.stderr.decode(errors="replace").strip() or f"exit {result.returncode}"
        raise TinyqiError(f"{what}: the host run failed (exit {result.returncode}): {text[:2000]}")
    return result.stdout


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


def run_generated(model_dir: Path, inputs: list[np.ndarray], build: HostBuild, c_dir: Path, *,
                  use_csr: bool = False, float_model: bool = False):
    """Generate the C of one model directory into `c_dir`, build it and run `inputs` (.tflite order) through it.
    Returns (program, outputs, problem) with problem "" when the run was clean."""
    program, provenance = build_program(model_dir, use_csr=use_csr, float_model=float_model)
    write_model(program, provenance, c_dir)
    dtype = np.float32 if float_model else np.int8
    out, problem = run_host(build.executable(c_dir, program.input_sizes), inputs, dtype, program.output_size)
    return program, out, problem


def int8_outputs(model_dir: Path, inputs: list[np.ndarray], use_csr: bool) -> np.ndarray:
    """The int8 outputs of the model directory's generated C (CSR kernels where tables exist and `use_csr`)."""
    with tempfile.TemporaryDirectory(prefix="tinyqi-eval-") as tmp:
        _, out, problem = run_generated(Path(model_dir), inputs, HostBuild(Path(tmp)), Path(tmp) / "c",
                                        use_csr=use_csr)
    if problem:
        raise TinyqiError(f"{model_dir}: the generated C failed on the test set ({problem.splitlines()[0]}); "
                          f"run `tinyqi verify` on the run for details")
    return out
