"""The monitoring app (firmware/monitor): a model directory and a sample source -> generated C -> firmware.

Tasks (from the model directory's metrics.json, `task`; without one, ECG): `ecg`, the ECG chain per sample and the
model per beat (firmware/monitor/main.c), or `vibration`, the vibration chain per accelerometer sample and the model
per window (main_vibration.c, env <board>-monitor-vibration, recorded streams only: tinyqi.signal.vibration_stream).
Sources: `stream`, recorded excerpts of MIT-BIH records (or CWRU recordings) stored in flash (what the emulator
runs), or `saadc`, the nRF52840's ADC at 360 Hz with the CPU asleep between samples (what a board runs; ECG only).
Layout of a build (`out_dir`, by default <model dir>/firmware/<board>-monitor[-saadc|-vibration]/):
  model_src/    model_data.c/.h from tinyqi.codegen; for `stream` also stream_data.c/.h (write_stream)
  pio/          PlatformIO build directory; the ELF is pio/<env>/firmware.elf (<env>: environment())
  size.json     SizeReport of the ELF
  build.json    what was built: model sha256, source, the excerpts and where they came from
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi import __version__
from tinyqi.data.ecg import check_rr_features
from tinyqi.errors import TinyqiError
from tinyqi.files import write_json
from tinyqi.firmware.boards import BoardProfile
from tinyqi.firmware.build import MODEL_FILE, BuildResult, FirmwareLayout, as_board, compile_firmware
from tinyqi.manifest import check_model_dir
from tinyqi.signal import ecg, vibration
from tinyqi.signal.stream import Excerpt

APPS = ("harness", "monitor")
SOURCES = ("stream", "saadc")
MONITOR_BOARDS = ("nrf52840",)  # the boards with a monitor env in platformio.ini (the SAADC code is nRF52 only)
MANIFEST = "build.json"
STREAM_SECTION = ".tq_stream"
MITDB_LICENCE = "MIT-BIH Arrhythmia Database v1.0.0 (Moody & Mark, PhysioNet), ODC-By 1.0"
CWRU_TERMS = ("Case Western Reserve University Bearing Data Center (https://engineering.case.edu/bearingdatacenter), "
              "no licence stated by the source; see datasets/cwru/README.md")
TASKS = ("ecg", "vibration")
METRICS_FILE = "metrics.json"
# Flash the recorded stream may take: the board's flash less room for the firmware itself (under 64 KiB measured).
STREAM_FLASH_RESERVE = 128 * 1024


@dataclass(frozen=True)
class MonitorBuild:
    result: BuildResult
    out_dir: Path
    source: str
    excerpts: tuple[Excerpt, ...]

    @property
    def stream_bytes(self) -> int:
        """Flash taken by the recorded stream: test data, left out of the firmware's own size."""
        return next((s.bytes for s in self.result.breakdown.sections if s.name == STREAM_SECTION), 0)

    @property
    def firmware_flash_bytes(self) -> int:
        return self.result.flash_bytes - self.stream_bytes


def check_app(app: str) -> None:
    if app not in APPS:
        raise TinyqiError(f"--app {app}: unknown app; choose one of {', '.join(APPS)}")


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise TinyqiError(f"--source {source}: unknown sample source; choose one of {', '.join(SOURCES)}")


def monitor_task(model_dir: Path | None) -> str:
    """The task the model directory's metrics.json names ('ecg' without a metrics.json or a model directory)."""
    metrics = read_metrics(model_dir)
    task = metrics.get("task", "ecg") if metrics is not None else "ecg"
    if task not in TASKS:
        raise TinyqiError(f"{model_dir / METRICS_FILE}: task {task!r}; the monitor app serves {', '.join(TASKS)}")
    return task


def read_metrics(model_dir: Path | None) -> dict | None:
    path = None if model_dir is None else Path(model_dir) / METRICS_FILE
    if path is None or not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TinyqiError(f"{path}: not readable JSON ({exc}); re-run `tinyqi train` for this model") from None
    if not isinstance(metrics, dict):
        raise TinyqiError(f"{path}: not a metrics object; re-run `tinyqi train` for this model")
    return metrics


def vibration_split(model_dir: Path) -> str:
    """The CWRU split of a vibration run (metrics.json dataset.split): which recordings it holds out."""
    split = ((read_metrics(model_dir) or {}).get("dataset") or {}).get("split")
    if not isinstance(split, str):
        raise TinyqiError(f"{Path(model_dir) / METRICS_FILE}: no dataset.split; the vibration monitor streams the "
                          "run's held-out recordings: re-run `tinyqi train vibration` for this model")
    return split


def environment(board: BoardProfile, source: str, task: str = "ecg") -> str:
    """The platformio.ini env of the monitor app for `board`, `source` and `task`."""
    if board.name not in MONITOR_BOARDS:
        raise TinyqiError(f"--app monitor --board {board.name}: the monitor app is built for "
                          f"{', '.join(MONITOR_BOARDS)} only (its SAADC code is nRF52840's); use --board nrf52840")
    check_source(source)
    if task == "vibration":
        if source != "stream":
            raise TinyqiError(f"--source {source}: the vibration monitor reads recorded accelerometer samples only "
                              "(no sensor driver yet); use --source stream")
        return f"{board.name}-monitor-vibration"
    return f"{board.name}-monitor" + ("-saadc" if source == "saadc" else "")


def default_monitor_dir(model_dir: Path, board: BoardProfile, source: str) -> Path:
    return model_dir / "firmware" / environment(board, source, monitor_task(model_dir))


def chain_inputs(model_dir: Path) -> list[str]:
    """Which chain output feeds each .tflite input ('x0' the beat window, 'x1' the RR features), after checking the
    model takes exactly the chain's two int8 inputs."""
    from tinyqi.tflite_model import load_tflite  # imported here: the .tflite parser pulls in flatbuffers

    model = load_tflite(model_dir / MODEL_FILE)
    by_size = {ecg.WINDOW * len(ecg.WAVE_CHANNELS): "x0", len(ecg.RR_FEATURES): "x1"}
    tensors = [model.tensor(index) for index in model.inputs]
    names = [by_size.get(int(np.prod(t.shape[1:]))) for t in tensors]
    if sorted(map(str, names)) != ["x0", "x1"] or any(t.dtype != np.int8 for t in tensors):
        shapes = ", ".join(f"{t.shape[1:]} {np.dtype(t.dtype).name}" for t in tensors)
        raise TinyqiError(f"{model_dir / MODEL_FILE}: inputs {shapes}; the monitor feeds the ECG chain's two int8 "
                          f"inputs, ({ecg.WINDOW}, {len(ecg.WAVE_CHANNELS)}) and ({len(ecg.RR_FEATURES)},): use a model of `tinyqi train ecg` "
                          "(or a vibration run, whose metrics.json names its task)")
    metrics = read_metrics(model_dir)
    if metrics is not None:  # the hand-written test model has none: its inputs are the chain's by construction
        check_rr_features(metrics.get("dataset", {}), model_dir / METRICS_FILE)
    return names


def vibration_input(model_dir: Path) -> None:
    """Checks the model takes the vibration chain's window as it is: one int8 input of vibration.WINDOW values with
    scale vibration.INPUT_SCALE and zero point 0 (then the chain's ints are its inputs)."""
    from tinyqi.tflite_model import load_tflite

    model = load_tflite(model_dir / MODEL_FILE)
    tensors = [model.tensor(index) for index in model.inputs]
    shapes = ", ".join(f"{t.shape[1:]} {np.dtype(t.dtype).name}" for t in tensors)
    if len(tensors) != 1 or int(np.prod(tensors[0].shape[1:])) != vibration.WINDOW or tensors[0].dtype != np.int8:
        raise TinyqiError(f"{model_dir / MODEL_FILE}: inputs {shapes}; the vibration monitor feeds one int8 window "
                          f"of ({vibration.WINDOW}, 1): use a model of `tinyqi train vibration`")
    scale, zero = tensors[0].scale, tensors[0].zero_point
    if scale.size != 1 or not np.isclose(float(scale[0]), vibration.INPUT_SCALE, rtol=0, atol=1e-9) or int(zero[0]):
        raise TinyqiError(f"{model_dir / MODEL_FILE}: input scale {scale.tolist()} and zero point {zero.tolist()}; "
                          f"the vibration chain's ints are the model's inputs only at scale 1/{vibration.INPUT_ONE} "
                          "and zero point 0: convert with input_scale=tinyqi.signal.vibration.INPUT_SCALE (as "
                          "`tinyqi train vibration` does)")


def stream_provenance(excerpts: tuple[Excerpt, ...], task: str = "ecg") -> list[str]:
    lines = [f"Generated by tinyqi {__version__} (`tinyqi build --app monitor`); do not edit."]
    if task == "vibration":
        lines += [f"Drive-end acceleration as int16 counts of a +-{vibration.FULL_SCALE_G} g, 16-bit accelerometer "
                  f"({vibration.COUNTS_PER_G} counts/g), {vibration.RATE_HZ} Hz (tinyqi.signal.vibration_stream).",
                  f"Data: {CWRU_TERMS}."]
    else:
        lines += [f"Lead MLII, int16 ADC counts minus the ADC zero, {ecg.FS_IN} Hz, {ecg.COUNTS_PER_MV} counts/mV.",
                  f"Data: {MITDB_LICENCE}."]
    return lines + [f"record {e.record}: samples {e.start}..{e.start + len(e.adc) - 1} ({e.seconds:g} s), {e.source}; "
                    f"sha256 {hashlib.sha256(e.adc.tobytes()).hexdigest()}" for e in excerpts]


def stream_header(records: int, samples: int) -> str:
    return ("#ifndef TQ_STREAM_DATA_H\n#define TQ_STREAM_DATA_H\n\n#include <stdint.h>\n\n"
            f"#define TQ_STREAM_RECORD_COUNT {records}\n#define TQ_STREAM_SAMPLE_COUNT {samples}\n\n"
            "typedef struct {\n    const char *name;\n"
            "    uint32_t first; /* index of the record's first sample in tq_stream_samples */\n"
            "    uint32_t count;\n} tq_stream_record_t;\n\n"
            "extern const tq_stream_record_t tq_stream_records[TQ_STREAM_RECORD_COUNT];\n"
            "extern const int16_t tq_stream_samples[TQ_STREAM_SAMPLE_COUNT];\n\n#endif /* TQ_STREAM_DATA_H */\n")


def stream_source(excerpts: tuple[Excerpt, ...]) -> str:
    from tinyqi.codegen.program import c_comment, render_array_values

    firsts = np.cumsum([0] + [len(e.adc) for e in excerpts])
    records = ",\n".join(f'    {{"{c_comment(e.record)}", {first}u, {len(e.adc)}u}}'
                          for e, first in zip(excerpts, firsts))
    samples = np.concatenate([e.adc for e in excerpts]).astype(np.int16)
    return ('#include "stream_data.h"\n\n'
            f"const tq_stream_record_t tq_stream_records[TQ_STREAM_RECORD_COUNT] = {{\n{records}\n}};\n\n"
            f"const int16_t tq_stream_samples[TQ_STREAM_SAMPLE_COUNT] = {render_array_values(samples)};\n")


def write_stream(excerpts: tuple[Excerpt, ...], out_dir: Path, task: str = "ecg") -> list[Path]:
    """stream_data.h / stream_data.c: the excerpts one after the other, with a provenance banner."""
    from tinyqi.codegen.emit import banner

    top = banner(stream_provenance(excerpts, task))
    out_dir.mkdir(parents=True, exist_ok=True)
    h, c = out_dir / "stream_data.h", out_dir / "stream_data.c"
    h.write_text(top + stream_header(len(excerpts), sum(len(e.adc) for e in excerpts)))
    c.write_text(top + stream_source(excerpts))
    return [h, c]


def generate_monitor_sources(model_dir: Path, model_src: Path, excerpts: tuple[Excerpt, ...]) -> None:
    """model_data.c/.h (no golden vectors: the monitor checks nothing itself) and, with excerpts, the stream."""
    from tinyqi.codegen import build_program, write_model  # imported here: codegen loads the .tflite stack

    check_model_dir(model_dir)  # its files belong together (tinyqi.manifest)
    task = monitor_task(model_dir)
    if task == "vibration":
        vibration_input(model_dir)
    else:
        chain_inputs(model_dir)
    program, provenance = build_program(model_dir, use_csr=True)
    for stale in model_src.glob("*_data.[ch]"):
        stale.unlink()  # a build dir reused for another source must not keep the other's stream
    write_model(program, provenance, model_src)
    if excerpts:
        write_stream(excerpts, model_src, task)


def check_records(source: str, names: tuple[str, ...]) -> None:
    """The records a source takes: one or more distinct ones for the stream, none for the SAADC."""
    check_source(source)
    if source == "stream" and not names:
        raise TinyqiError("--source stream: no record to store; name one with --record (e.g. --record 100)")
    if source == "saadc" and names:
        raise TinyqiError("--record: the saadc source reads the board's ADC, not a recording; drop --record or use "
                          "--source stream")
    if len(set(names)) != len(names):
        raise TinyqiError(f"--record: {', '.join(names)} names a record twice; name each record once")


def check_stream_size(board: BoardProfile, excerpts: tuple[Excerpt, ...]) -> None:
    """The recorded stream must leave the firmware room in flash (12 kHz vibration takes 24 kB per second)."""
    stream = 2 * sum(len(e.adc) for e in excerpts)
    room = board.flash_bytes - STREAM_FLASH_RESERVE
    if stream > room:
        seconds = sum(e.seconds for e in excerpts)
        raise TinyqiError(f"the recorded stream ({seconds:g} s, {stream:,} B) does not fit the {board.name}'s flash "
                          f"beside the firmware (at most {room:,} B); lower --seconds or name fewer records")


def write_manifest(model_dir: Path, out_dir: Path, source: str, excerpts: tuple[Excerpt, ...]) -> Path:
    tflite = (model_dir / MODEL_FILE).read_bytes()
    manifest = {"app": "monitor", "task": monitor_task(model_dir), "source": source, "model_dir": str(model_dir),
                "model_sha256": hashlib.sha256(tflite).hexdigest(),
                "records": [{"record": e.record, "start": e.start, "samples": len(e.adc), "rate_hz": e.rate_hz,
                             "source": e.source,
                             "sha256": hashlib.sha256(e.adc.tobytes()).hexdigest()} for e in excerpts]}
    return write_json(out_dir / MANIFEST, manifest)


def read_manifest(out_dir: Path) -> dict:
    path = out_dir / MANIFEST
    if not path.is_file():
        raise TinyqiError(f"{out_dir}: no monitor build here ({MANIFEST} missing); build it with "
                          "`tinyqi build --app monitor --board nrf52840 RUN_DIR`")
    return json.loads(path.read_text())


def build_monitor(model_dir: Path, board: str | BoardProfile, out_dir: Path, excerpts: tuple[Excerpt, ...],
                  source: str = "stream", core_dir: Path | None = None) -> MonitorBuild:
    """Generate the model (and stream) C and build the monitor firmware for `board` in `out_dir`."""
    board = as_board(board)
    env = environment(board, source, monitor_task(model_dir))
    check_records(source, tuple(e.record for e in excerpts))
    check_stream_size(board, excerpts)
    layout = FirmwareLayout(out_dir.resolve(), env)
    generate_monitor_sources(model_dir, layout.model_src, excerpts)
    result = compile_firmware(layout.model_src, board, out_dir, core_dir, environment=env)
    write_manifest(model_dir, layout.out_dir, source, excerpts)
    return MonitorBuild(result, layout.out_dir, source, tuple(excerpts))
