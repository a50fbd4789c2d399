"""The Ray Tune side of the sweep driver (imports Ray: loaded only when trials run): the searcher and the progress
callback. tinyqi.sweep.run builds the Tuner around them."""

from __future__ import annotations

import time

from optuna.samplers import TPESampler
from optuna.trial import TrialState
from ray.tune import Callback
from ray.tune.search.optuna import OptunaSearch

from tinyqi.sweep import report
from tinyqi.sweep.state import STUDY_NAME, SweepState, trial_name
from tinyqi.sweep.trial import OBJECTIVES, one_line


class SweepSearch(OptunaSearch):
    """OptunaSearch (multi-objective TPE) with the sweep's additions: the trial id (t<Optuna trial number>) in each
    configuration, no new trial after the time budget, and a trial that did not finish told to Optuna as failed."""

    def __init__(self, space, deadline: float | None, storage, seed: int):
        super().__init__(space, metric=[name for name, _ in OBJECTIVES], mode=[goal for _, goal in OBJECTIVES],
                         study_name=STUDY_NAME, storage=storage, sampler=TPESampler(seed=seed))
        self.deadline = deadline
        self.budget_reached = False

    def suggest(self, trial_id: str):
        if self.deadline is not None and time.time() >= self.deadline:
            self.budget_reached = True
            return self.FINISHED
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            config["trial"] = trial_name(self._ot_trials[trial_id].number)
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if result and result.get("status") == "done" and not error:
            return super().on_trial_complete(trial_id, result, error)
        if trial_id in self._ot_trials and trial_id not in self._completed_trials:
            self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.FAIL)
            self._completed_trials.add(trial_id)


class Progress(Callback):
    """In the driver: each finished trial into sweep.json (at once, atomically) and one line; the progress bar's
    text says done / failed / running and the best validation macro-F1 so far."""

    def __init__(self, sweep: SweepState, ui):
        self.sweep, self.ui = sweep, ui
        self.running: dict[str, float] = {}  # Tune trial id -> when it started
        self.completed = 0
        self.advance = lambda note="": None

    def __getstate__(self) -> dict:
        return {}  # Tune pickles its callbacks with the experiment; this one lives in the driver only

    def __setstate__(self, state: dict) -> None:
        self.__init__(None, None)

    def on_trial_start(self, iteration, trials, trial, **info):
        self.running[trial.trial_id] = time.monotonic()
        self.ui.console.print(f"{trial.config['trial']} started: {report.describe(trial.config)}", markup=False,
                              highlight=False)

    def on_trial_complete(self, iteration, trials, trial, **info):
        row = (trial.last_result or {}).get("row")
        if not isinstance(row, dict):
            row = self._error_row(trial, "the trial ended without reporting a result")
        self._record(trial, row)

    def on_trial_error(self, iteration, trials, trial, **info):
        error = trial.get_error()
        self._record(trial, self._error_row(trial, one_line(str(error)) if error else "the trial's process failed"))

    def _error_row(self, trial, reason: str) -> dict:
        return {"id": trial.config["trial"], "status": "error", "reason": reason, "config": dict(trial.config)}

    def _record(self, trial, row: dict) -> None:
        started = self.running.pop(trial.trial_id, None)
        if started is not None:  # the trial as Ray ran it: its process start and TensorFlow import included
            row["driver_seconds"] = round(time.monotonic() - started, 1)
        self.completed += 1
        self.sweep.add(row)
        self.sweep.save()
        self.ui.console.print(_row_line(row), markup=False, highlight=False)
        self.advance(self._status())

    def _status(self) -> str:
        rows = self.sweep.rows.values()
        failed = sum(1 for row in rows if row["status"] != "done")
        best = max((row for row in rows if row["status"] == "done"), key=lambda row: row["val_macro_f1"],
                   default=None)
        text = f"{self.sweep.finished}/{self.sweep.target} ({failed} failed, {len(self.running)} running)"
        if best is not None:
            text += f", best val macro-F1 {best['val_macro_f1']:.3f} ({best['id']}, {best['energy_uj']:.2f} µJ)"
        return text


def _row_line(row: dict) -> str:
    if row["status"] != "done":
        return f"{row['id']} {row['status'].upper()}: {row['reason']}"
    f1 = f"val macro-F1 {row['val_macro_f1']:.3f}"
    if row.get("val_f1_S") is not None:
        f1 += f" (S {row['val_f1_S']:.2f}, V {row['val_f1_V']:.2f})"
    return (f"{row['id']} done in {row['wall_seconds']:.0f} s: {f1}, {row['energy_uj']:.3f} µJ, "
            f"model flash {row['model_flash_bytes']} B, RAM {row['ram_bytes']} B")
