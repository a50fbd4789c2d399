"""`tinyqi emulate --app monitor`: the monitoring firmware on its recorded stream, checked line for line against the
Python reference, and the energy of the whole job.

What every task shares is here: the monitor's lines (docs/firmware.md), the stream read back from the ELF (the
reference sees exactly what the firmware ran), the run on an engine, the comparison and monitor.json. A task
(MonitorTask) says what its result line describes and how its reference and energy are computed:
tinyqi.emulate.monitor_ecg (a line per beat) and tinyqi.emulate.monitor_vibration (a line per window).

A result line matches when its position (n=) and every output equal the reference's and its class is the task's
decision on them (ECG: tinyqi.signal.ecg.decide; vibration: the largest output); its cycles are the firmware's own
measurement.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from elftools.elf.elffile import ELFFile

from tinyqi.emulate.elf import ElfImage
from tinyqi.emulate.output import scan_lines
from tinyqi.emulate.renode_engine import RenodeEngine, monitor_path, robot_text, write_suite
from tinyqi.emulate.result import RawRun
from tinyqi.emulate.run import DEFAULT_TIMEOUTS, check_finished, make_engine, target_for_board
from tinyqi.emulate.target import Target
from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BoardProfile
from tinyqi.firmware.build import MODEL_FILE, FirmwareLayout
from tinyqi.firmware.monitor import default_monitor_dir, environment, monitor_task, read_manifest
from tinyqi.manifest import check_model_dir

RESULT_FILE = "monitor.json"
RENODE_TEMPLATE = Path(__file__).resolve().parents[2] / "firmware" / "renode" / "monitor.robot.in"
STREAM_RECORD_BYTES = 12  # tq_stream_record_t: name pointer, first, count (stream_data.h)

_RECORD = re.compile(r"TQR record=(\S+) samples=(\d+)")


@dataclass(frozen=True)
class StreamRecord:
    name: str
    adc: np.ndarray  # int16, as stored in the ELF


@dataclass(frozen=True)
class Reference:
    """What the firmware should print for one record: a position, TFLM's int8 outputs and the class per result line."""
    positions: np.ndarray  # n= of every line: a beat's fiducial sample, a window's first sample
    outputs: np.ndarray  # (lines, classes) int8 from TFLM
    classes: np.ndarray | None = None  # the task's decision per line; None: the largest output (numpy.argmax)

    def lines(self) -> list[tuple[int, tuple[int, ...]]]:
        return [(int(n), tuple(int(v) for v in out)) for n, out in zip(self.positions, self.outputs)]

    def decided(self) -> list[int]:
        if self.classes is not None:
            return [int(c) for c in self.classes]
        return [int(c) for c in np.argmax(self.outputs, axis=1)] if len(self.positions) else []


@dataclass(frozen=True)
class MonitorTask:
    """One task's monitor app: its result line, and what the check computes for it (the task modules fill it in)."""
    name: str  # the model directory's task (metrics.json)
    label: str  # the signal, for people: "ECG", "vibration"
    unit: str  # what one result line describes: "beat", "window"
    tag: str  # the result line's first word
    position: str  # what a line's n= counts, as a table heading
    chain_per_line: bool  # the line gives its own chain cycles (chain=); else the chain is only counted in total
    rate_hz: int  # of the stream
    seconds_key: str  # monitor.json's name for the stream's duration
    reference_note: str  # monitor.json's "reference"
    references: Callable[[Path, list[StreamRecord]], list[Reference]]  # per stored record, the model checked first
    energy: Callable  # (result, CPU figures, sampling figures, per minute) -> the job's energy (tinyqi.energy)
    cycle_fields: Callable[[MonitorResult], dict]  # the task's own cycle figures in monitor.json
    energy_fields: Callable  # (energy, CPU figures, sampling figures) -> monitor.json's "energy"

    def line_pattern(self) -> re.Pattern:
        chain = r" chain=(?P<chain>\d+)" if self.chain_per_line else ""
        return re.compile(rf"{self.tag} n=(-?\d+) class=(\d+) out=(-?\d+(?:,-?\d+)*){chain} cycles=(?P<cycles>\d+)")

    def done_pattern(self) -> re.Pattern:
        return re.compile(rf"TQ_MONITOR_DONE samples=(\d+) {self.unit}s=(\d+) chain_cycles=(\d+) model_cycles=(\d+) "
                          r"stack=(\d+)")


@dataclass(frozen=True)
class ResultLine:
    n: int  # a beat's fiducial sample, a window's first sample; counted from the record's first sample
    predicted_class: int
    outputs: tuple[int, ...]
    cycles: int  # the model
    chain_cycles: int | None = None  # window lines: the window's own samples pushed and the window written


@dataclass(frozen=True)
class RecordLines:
    name: str
    samples: int
    lines: tuple[ResultLine, ...]


@dataclass(frozen=True)
class MonitorDone:
    samples: int
    inferences: int  # result lines: beats or windows
    chain_cycles: int
    model_cycles: int
    stack_bytes: int


@dataclass(frozen=True)
class MonitorOutput:
    records: tuple[RecordLines, ...]
    done: MonitorDone | None
    fault: str | None
    fault_pc: int | None

    @property
    def lines(self) -> list[ResultLine]:
        return [line for record in self.records for line in record.lines]


@dataclass(frozen=True)
class RecordCheck:
    name: str
    samples: int
    firmware_lines: int
    reference_lines: int
    mismatches: int  # result lines that differ from the reference, or that only one side has
    first_mismatch: str | None


@dataclass(frozen=True)
class MonitorResult:
    task: MonitorTask
    elf: Path
    board: str
    engine: str
    clock_hz: int
    output: MonitorOutput
    checks: tuple[RecordCheck, ...]
    cycle_model: bool  # True: cycles come from the Cortex-M4 timing model (docs/emulation.md)
    run: RawRun

    @property
    def done(self) -> MonitorDone:
        return self.output.done

    @property
    def compared(self) -> int:
        return sum(max(c.firmware_lines, c.reference_lines) for c in self.checks)

    @property
    def mismatches(self) -> int:
        return sum(c.mismatches for c in self.checks)

    @property
    def seconds(self) -> float:
        return self.done.samples / self.task.rate_hz

    @property
    def model_cycles_per_inference(self) -> float | None:
        return self.done.model_cycles / self.done.inferences if self.done.inferences else None


def task_check(task: str) -> MonitorTask:
    """The check of `task` (tinyqi.firmware.monitor.monitor_task); imported here: the task modules build on this one."""
    if task == "vibration":
        from tinyqi.emulate.monitor_vibration import VIBRATION as check
    else:
        from tinyqi.emulate.monitor_ecg import ECG as check
    return check


def parse_monitor_output(text: str, source: str, task: MonitorTask) -> MonitorOutput:
    """Every line that starts like a monitor line must parse; TQ_MONITOR_DONE must agree with the lines before."""
    records: list[tuple[str, int, list[ResultLine]]] = []
    done = None
    line_pattern, done_pattern = task.line_pattern(), task.done_pattern()

    def take(line: str) -> bool:
        nonlocal done
        if match := _RECORD.fullmatch(line):
            records.append((match[1], int(match[2]), []))
        elif (match := line_pattern.fullmatch(line)) and records:
            chain = match.groupdict().get("chain")
            records[-1][2].append(ResultLine(int(match[1]), int(match[2]), tuple(int(v) for v in match[3].split(",")),
                                             int(match["cycles"]), None if chain is None else int(chain)))
        elif match := done_pattern.fullmatch(line):
            done = MonitorDone(*(int(g) for g in match.groups()))
        else:
            return False  # malformed, or a result line before its record's TQR line
        return True

    fault, fault_pc = scan_lines(text, ("TQR ", f"{task.tag} ", "TQ_MONITOR_DONE"), take, source,
                                 "malformed or out of order", "the monitor line format is in docs/firmware.md")
    parsed = MonitorOutput(tuple(RecordLines(n, s, tuple(lines)) for n, s, lines in records), done, fault, fault_pc)
    check_done(parsed, source, task.unit)
    return parsed


def check_done(parsed: MonitorOutput, source: str, unit: str) -> None:
    """TQ_MONITOR_DONE counts what the lines say one by one; the chain's total includes the lines' own chain cycles
    (window lines), as the chain also runs between them."""
    if parsed.done is None:
        return
    lines, done = parsed.lines, parsed.done
    counted = (len(lines), sum(line.cycles for line in lines), sum(r.samples for r in parsed.records))
    line_chain = sum(line.chain_cycles or 0 for line in lines)
    if (done.inferences, done.model_cycles, done.samples) != counted or done.chain_cycles < line_chain:
        raise TinyqiError(f"{source}: TQ_MONITOR_DONE reports {unit}s={done.inferences} model_cycles="
                          f"{done.model_cycles} samples={done.samples} chain_cycles={done.chain_cycles} but the lines "
                          f"give {counted[0]}, {counted[1]}, {counted[2]} and at least {line_chain}; the output is "
                          "incomplete or garbled")


def _symbol_bytes(elf: ELFFile, name: str, path: Path) -> bytes:
    symtab = elf.get_section_by_name(".symtab")
    symbols = symtab.get_symbol_by_name(name) if symtab else None
    if not symbols:
        raise TinyqiError(f"{path}: no {name} symbol; this is not a monitor build with a recorded stream (build it "
                          "with `tinyqi build --app monitor`)")
    return _read(elf, symbols[0]["st_value"], symbols[0]["st_size"], path)


def _read(elf: ELFFile, address: int, size: int, path: Path) -> bytes:
    for section in elf.iter_sections():
        start = section["sh_addr"]
        if section["sh_type"] == "SHT_PROGBITS" and start <= address and address + size <= start + section["sh_size"]:
            return section.data()[address - start:address - start + size]
    raise TinyqiError(f"{path}: no loaded bytes at 0x{address:08x} (+{size}); the ELF is damaged: rebuild it")


def _c_string(elf: ELFFile, address: int, path: Path) -> str:
    text = b""
    while not text.endswith(b"\0"):
        text += _read(elf, address + len(text), 1, path)
    return text[:-1].decode("ascii")


def read_stream(elf_path: Path) -> list[StreamRecord]:
    """The records stored in a monitor ELF (tq_stream_records / tq_stream_samples of stream_data.c)."""
    ElfImage(elf_path)  # one clear error for a missing or non-ARM file
    with open(elf_path, "rb") as handle:
        elf = ELFFile(handle)
        table = _symbol_bytes(elf, "tq_stream_records", elf_path)
        adc = np.frombuffer(_symbol_bytes(elf, "tq_stream_samples", elf_path), dtype="<i2")
        records = []
        for offset in range(0, len(table), STREAM_RECORD_BYTES):
            name_at, first, count = np.frombuffer(table[offset:offset + STREAM_RECORD_BYTES], dtype="<u4")
            records.append(StreamRecord(_c_string(elf, int(name_at), elf_path),
                                        adc[int(first):int(first) + int(count)].astype(np.int16)))
    return records


def tflm_reference(positions: np.ndarray, tflite: bytes, inputs: list[np.ndarray],
                   decide: Callable[[np.ndarray], np.ndarray] | None = None) -> Reference:
    """TFLM's int8 outputs for the lines at `positions`; `inputs`: the model's inputs for them, in .tflite order;
    `decide`: the task's classes from those outputs (None: the largest output)."""
    from tinyqi import convert  # imported here: TFLM loads its native runtime

    if len(positions) == 0:
        return Reference(positions, np.zeros((0, 0), np.int8))
    outputs = convert.run_tflm(tflite, inputs)
    return Reference(positions, outputs, None if decide is None else decide(outputs))


def check_record(lines: RecordLines, reference: Reference, unit: str) -> RecordCheck:
    expected, classes = reference.lines(), reference.decided()
    got = [(line.n, line.outputs) for line in lines.lines]
    bad = [i for i in range(max(len(got), len(expected)))
           if i >= len(got) or i >= len(expected) or got[i] != expected[i]
           or lines.lines[i].predicted_class != classes[i]]
    first = None
    if bad:
        i = bad[0]
        show = lambda rows: f"n={rows[i][0]} out={','.join(map(str, rows[i][1]))}" if i < len(rows) else "none"
        first = f"{unit} {i}: firmware {show(got)}, reference {show(expected)}"
    return RecordCheck(lines.name, lines.samples, len(got), len(expected), len(bad), first)


def renode_expected_lines(stream: list[StreamRecord], references: list[Reference], task: MonitorTask) -> list[str]:
    """The monitor's lines as Renode regexes, in order; cycles vary by engine and are matched as any number."""
    chain = " chain=\\d+" if task.chain_per_line else ""
    lines = []
    for record, reference in zip(stream, references):
        lines.append(f"TQR record={re.escape(record.name)} samples={len(record.adc)}")
        lines += [f"{task.tag} n={n} class={c} out={','.join(map(str, out))}{chain} cycles=\\d+"
                  for (n, out), c in zip(reference.lines(), reference.decided())]
    samples = sum(len(record.adc) for record in stream)
    inferences = sum(len(reference.positions) for reference in references)
    lines.append(f"TQ_MONITOR_DONE samples={samples} {task.unit}s={inferences} chain_cycles=\\d+ model_cycles=\\d+ "
                 "stack=\\d+")
    return lines


def write_monitor_suite(elf: Path, target: Target, directory: Path, timeout: float, expected: list[str]) -> Path:
    """The Renode suite of renode_engine.write_suite, with a tinyqi.robot that checks every monitor line, in order,
    against the expected regexes (written as literal Robot arguments: renode_engine.robot_text)."""
    robot = write_suite(elf, target, directory, timeout)
    checks = "\n".join(f"    Next Line Should Match    {robot_text(line)}" for line in expected)
    fields = {"RESC_ROBOT": robot_text(monitor_path(directory / "tinyqi.resc")),
              "UART_LOG_ROBOT": robot_text(monitor_path(directory / "uart0.log")),
              "TIMEOUT": str(int(timeout)), "EXPECTED_LINES": checks}
    text = RENODE_TEMPLATE.read_text()
    for key, value in fields.items():
        text = text.replace(f"@@{key}@@", value)
    robot.write_text(text)
    return robot


def monitor_elf(model_dir: Path, board: BoardProfile) -> Path:
    """The stream build `tinyqi build --app monitor` made for `model_dir`, checked to be of its current model."""
    out_dir = default_monitor_dir(model_dir, board, "stream")
    manifest = read_manifest(out_dir)
    check_model_dir(model_dir)  # the reference model's files belong together (tinyqi.manifest)
    current = hashlib.sha256((model_dir / MODEL_FILE).read_bytes()).hexdigest()
    if manifest["model_sha256"] != current:
        raise TinyqiError(f"{out_dir}: built for another {MODEL_FILE} than {model_dir}'s; rebuild it with "
                          f"`tinyqi build --app monitor --board {board.name} {model_dir}`")
    return FirmwareLayout(out_dir, environment(board, "stream", monitor_task(model_dir))).elf


def run_engine(engine: str, target: Target, elf: Path, expected: list[str], budget: int,
               timeout: float | None) -> RawRun:
    """make_engine's engine; Renode gets the monitor's suite, which waits for the expected lines."""
    if engine != "renode":
        return make_engine(engine, target, budget, timeout).run(elf)
    suite = lambda elf_path, suite_target, directory, seconds: write_monitor_suite(elf_path, suite_target, directory,
                                                                                   seconds, expected)
    return RenodeEngine(target, timeout or DEFAULT_TIMEOUTS["renode"], suite=suite).run(elf)


def run_monitor(model_dir: Path, board: BoardProfile, engine: str = "unicorn", *, budget: int,
                timeout: float | None = None, elf: Path | None = None) -> MonitorResult:
    """Runs the monitor ELF (default: the one built for `model_dir`) and checks every result line against the
    reference of the model directory's task."""
    task = task_check(monitor_task(model_dir))
    elf = elf or monitor_elf(model_dir, board)
    stream = read_stream(elf)
    references = task.references(model_dir, stream)
    expected = renode_expected_lines(stream, references, task)
    run = run_engine(engine, target_for_board(board), elf, expected, budget, timeout)
    source = f"{elf.name} on {engine}"
    parsed = parse_monitor_output(run.text, source, task)
    check_finished(parsed, run, elf, source, "TQ_MONITOR_DONE", "is this the monitor app?")
    check_stream_records(parsed, stream, source)
    checks = tuple(check_record(lines, reference, task.unit) for lines, reference in zip(parsed.records, references))
    return MonitorResult(task, elf, board.name, engine, board.clock_hz, parsed, checks, run.cycles is not None, run)


def check_stream_records(parsed: MonitorOutput, stream: list[StreamRecord], source: str) -> None:
    printed = [(r.name, r.samples) for r in parsed.records]
    stored = [(r.name, len(r.adc)) for r in stream]
    if printed != stored:
        raise TinyqiError(f"{source}: the firmware ran records {printed} but its stream holds {stored}; the output "
                          "is incomplete or the ELF is damaged: rebuild it")


def job_energy(result: MonitorResult, board: BoardProfile, per_minute: float):
    """The whole job's energy (the task's model in tinyqi.energy) from the run's cycles and the board's figures, at
    `per_minute` beats or windows: (energy, CPU figures, sampling figures)."""
    from tinyqi.energy import power_figures, sampling_figures

    unit = result.task.unit
    if not result.cycle_model or result.model_cycles_per_inference is None:
        raise TinyqiError(f"energy: the {result.engine} engine models no cycles (or no {unit} was seen); use --engine "
                          f"unicorn on a stream with {unit}s")
    figures, sampling = power_figures(board), sampling_figures(board, result.task.rate_hz)
    return result.task.energy(result, figures, sampling, per_minute), figures, sampling


def summary(result: MonitorResult, size, energy=None, figures=None, sampling=None) -> dict:
    """monitor.json: the check, the cycles, the firmware's size and (with a cycle model) the energy of the job."""
    task, done, unit = result.task, result.done, result.task.unit
    modelled = lambda value: value if result.cycle_model else None
    # ECG came first: its monitor.json names no task (a missing task means ECG, as in metrics.json).
    head = {} if task.name == "ecg" else {"task": task.name}
    return {
        **head, "board": result.board, "engine": result.engine, "elf": str(result.elf),
        "cycle_model": result.cycle_model,
        "records": [{"record": c.name, "samples": c.samples, "seconds": c.samples / task.rate_hz,
                     f"firmware_{unit}s": c.firmware_lines, f"reference_{unit}s": c.reference_lines,
                     "mismatches": c.mismatches, "first_mismatch": c.first_mismatch} for c in result.checks],
        "reference": task.reference_note,
        f"{unit}s_compared": result.compared, "mismatches": result.mismatches,
        task.seconds_key: result.seconds, "samples": done.samples, f"{unit}s": done.inferences,
        "chain_cycles": modelled(done.chain_cycles),
        **{key: modelled(value) for key, value in task.cycle_fields(result).items()},
        "model_cycles": modelled(done.model_cycles),
        f"model_cycles_per_{unit}": modelled(result.model_cycles_per_inference),
        **size_fields(size, done),
        "energy": None if energy is None else task.energy_fields(energy, figures, sampling),
    }


def size_fields(size, done: MonitorDone) -> dict:
    """The firmware's flash and RAM from its size report; the recorded stream is test data, kept apart."""
    stream = next((s.bytes for s in size.sections if s.name == ".tq_stream"), 0)
    stack = next((s.bytes for s in size.sections if s.name == ".stack"), 0)
    return {"flash_bytes": size.flash_bytes, "stream_flash_bytes": stream,
            "firmware_flash_bytes": size.flash_bytes - stream, "ram_bytes": size.ram_bytes,
            "stack_reserved_bytes": stack, "stack_peak_bytes": done.stack_bytes}
