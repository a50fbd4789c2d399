"""A sweep directory and its record, sweep.json.

    sweep.json       the sweep's settings, search space and every finished trial's row (tinyqi.sweep.trial), rewritten
                     (atomically) as each trial finishes
    study.journal    the Optuna study (Optuna's journal file storage): every configuration asked and what it gave;
                     the searcher's memory, shared by every run of the sweep (`--resume`)
    tune/round-<n>/  Ray Tune's experiment directory of each run of `tinyqi sweep` on this directory
    trials/<id>/     one directory per trial (tinyqi.sweep.trial), id t0000, t0001, ... (the Optuna trial number)
    pareto/<id>/     the Pareto-optimal trials' run directories, copied whole (tinyqi.sweep.pareto)
    pareto.json, pareto.png, report.md
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import is_hidden, read_json, write_json

FORMAT = "tinyqi-sweep/1"
SWEEP_FILE = "sweep.json"
STUDY_FILE = "study.journal"
STUDY_NAME = "tinyqi-sweep"
TUNE_DIR = "tune"
TRIALS_DIR = "trials"
LOCK_FILE = ".sweep.lock"
TODO = "it is written by `tinyqi sweep`; start a new sweep in another --out"
FINISHED = ("done", "failed", "error")  # error: the trial's process died (Ray), with Ray's reason


def trial_name(number: int) -> str:
    """The trial id of Optuna trial `number`: its directory name and its key in sweep.json."""
    return f"t{number:04d}"


@dataclass
class SweepState:
    path: Path
    task: str
    settings: dict                  # what every trial shares; a resumed sweep must be run with the same
    space: dict                     # the search space (tinyqi.sweep.space.Space.as_dict)
    target: int                     # trials wanted in total
    rows: dict[str, dict] = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)  # interrupted trials whose configuration was asked again

    @property
    def file(self) -> Path:
        return self.path / SWEEP_FILE

    @property
    def study_file(self) -> Path:
        return self.path / STUDY_FILE

    @property
    def finished(self) -> int:
        return sum(1 for row in self.rows.values() if row["status"] in FINISHED)

    def done_rows(self) -> list[dict]:
        return [row for row in self.sorted_rows() if row["status"] == "done"]

    def sorted_rows(self) -> list[dict]:
        return [self.rows[key] for key in sorted(self.rows)]

    def add(self, row: dict) -> None:
        self.rows[row["id"]] = row

    def save(self) -> None:
        write_json(self.file, {"format": FORMAT, "task": self.task, "settings": self.settings, "space": self.space,
                               "target_trials": self.target, "rounds": self.rounds, "requeued": self.requeued,
                               "trials": self.sorted_rows()})


def has_sweep(path: Path) -> bool:
    return (path / SWEEP_FILE).is_file()


def load(path: Path) -> SweepState:
    data = read_json(path / SWEEP_FILE, TODO)
    if data.get("format") != FORMAT or not isinstance(data.get("trials"), list) or not isinstance(
            data.get("settings"), dict):
        raise TinyqiError(f"{path / SWEEP_FILE}: not a {FORMAT} record; {TODO}")
    return SweepState(path, data["task"], data["settings"], data["space"], data["target_trials"],
                      {row["id"]: row for row in data["trials"]}, data.get("rounds", []), data.get("requeued", []))


def check_out(path: Path, resume: bool) -> None:
    """--out must be a new or empty directory for a new sweep, and hold a sweep for --resume."""
    if path.exists() and not path.is_dir():
        raise TinyqiError(f"--out {path}: is a file; give a directory for the sweep")
    if resume:
        if not has_sweep(path):
            raise TinyqiError(f"--out {path}: no sweep to resume there (no {SWEEP_FILE}); start one without --resume")
        return
    if has_sweep(path):
        raise TinyqiError(f"--out {path}: holds a sweep already; add --resume to continue it, or choose another "
                          "--out")
    if path.is_dir() and any(not is_hidden(entry) for entry in path.iterdir()):
        raise TinyqiError(f"--out {path}: exists and is not a sweep directory; choose another --out, or empty it")


@contextmanager
def exclusive(path: Path):
    """One `tinyqi sweep` at a time on a sweep directory (a lock file in it, released when the process ends)."""
    with open(path / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TinyqiError(f"--out {path}: another `tinyqi sweep` is working on this sweep; wait for it to end, "
                              "or stop it first") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
